"""The forecast API: expected incidents per cell or border section in the next period,
with predictive intervals, and its rolling-origin backtest against baselines.

Read-only, authenticated (viewer). Each route parses its parameters, runs one function
of ``geo.forecast.service`` through the analyses' result cache, and answers GeoJSON
(the forecast) or JSON (the backtest). Region scope and the counted view follow the
hot-spot API (``app.api.hotspots``): a user restricted to regions forecasts their own,
and only what their agency may count is counted.
"""

from __future__ import annotations

from flask import Response, current_app, request

from app.api import bp
from app.api.params import ParameterError, parse_float, parse_instant, parse_int
from app.api.scoping import scoped_region_code
from app.auth.scope import region_scope, viewer_agency
from app.extensions import db
from geo import clock
from geo.forecast import service
from geo.hotspots import cache
from geo.hotspots.inputs import Selection, StudyArea

GEOJSON_MIME = "application/geo+json"
JSON_MIME = "application/json"
DEFAULT_FOLDS = 6


def _forecast_request(args) -> service.ForecastRequest:
    region = scoped_region_code(args.get("region"), default=True)
    if not region:
        raise ParameterError("region", "give region=CODE")
    scope = region_scope()
    as_of = args.get("as_of")
    return service.ForecastRequest(
        area=StudyArea(regions=(region,)),
        selection=Selection(region_ids=None if scope is None else tuple(sorted(scope)),
                            viewer_agency=viewer_agency()),
        as_of=parse_instant("as_of", as_of) if as_of else clock.utc_now(),
        period=args.get("period", "next_month"),
        unit=args.get("unit", "cell"),
        cell_size_m=parse_float("cell_size", args.get("cell_size"), 10, 1_000_000)
        or service.DEFAULT_CELL_SIZE_M,
        area_share=parse_float("area_share", args.get("area_share"), 0.0001, 0.9999) or 0.05,
        max_cells=current_app.config["HOTSPOT_MAX_CELLS"],
        folds=parse_int("folds", args.get("folds"), DEFAULT_FOLDS, 1, service.MAX_FOLDS),
        corridor_m=current_app.config["RISK_MODEL"].corridor_m,
    )


def _answer(kind: str, forecast_request: service.ForecastRequest, compute,
            mimetype: str) -> Response:
    srid = current_app.config["ANALYSIS_SRID"]
    body = cache.cached(db.session, kind, forecast_request, srid,
                        lambda: compute(db.session, forecast_request, srid))
    return Response(body, mimetype=mimetype)


@bp.get("/forecast")
def forecast():
    return _answer("forecast", _forecast_request(request.args), service.forecast,
                   GEOJSON_MIME)


@bp.get("/forecast/backtest")
def forecast_backtest():
    return _answer("forecast-backtest", _forecast_request(request.args), service.backtest,
                   JSON_MIME)
