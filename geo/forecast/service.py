"""The forecast and its backtest as answers: a GeoJSON FeatureCollection of cells or
sections with expected counts and intervals, and the backtest's JSON report, each with
a ``metadata`` object saying what was fitted on what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson

from geo import queries
from geo.errors import ParameterError
from geo.forecast import backtest as backtests
from geo.forecast import model, periods
from geo.forecast.inputs import Units, load_units, regions_sections
from geo.hotspots import cache, evaluation
from geo.hotspots.inputs import Selection, StudyArea
from geo.hotspots.output import JSON_OPTIONS, cells_geojson

MODEL_NAME = "borderrisk-forecast-1: long-run + recent level + self-exciting, NB intervals"
DEFAULT_CELL_SIZE_M = 2000.0
MAX_FOLDS = 24

FIELDS = {
    "expected": "expected number of incidents in the period (mean of the predictive "
                "distribution)",
    "lower_80": "10 % quantile of the predictive count (negative binomial)",
    "upper_80": "90 % quantile: [lower_80, upper_80] is the central 80 % interval",
    "lower_95": "2.5 % quantile of the predictive count",
    "upper_95": "97.5 % quantile: [lower_95, upper_95] is the central 95 % interval",
    "top": "among the highest expected counts covering area_share of the locations",
}


@dataclass(frozen=True)
class ForecastRequest:
    """A forecast of ``unit`` locations of a region for the period starting ``as_of``."""

    area: StudyArea
    selection: Selection
    as_of: datetime
    period: str = "next_month"
    unit: str = "cell"
    cell_size_m: float = DEFAULT_CELL_SIZE_M
    area_share: float = 0.05
    max_cells: int = 200_000
    folds: int = 6  # backtest only
    corridor_m: float | None = None  # sections: None for geo/risk/risk.yaml's


def _check(request: ForecastRequest) -> None:
    if request.period not in periods.PERIODS:
        raise ParameterError("period", f"unknown period {request.period!r}; periods: "
                             f"{', '.join(periods.PERIODS)}")
    if len(request.area.regions) != 1:
        raise ParameterError("region", "a forecast needs one region=CODE")
    if not 1 <= request.folds <= MAX_FOLDS:
        raise ParameterError("folds", f"must be between 1 and {MAX_FOLDS}")


def _units(session, request: ForecastRequest, before: datetime, srid: int) -> Units:
    units = load_units(session, request.unit, request.area, request.selection, before,
                       request.cell_size_m, srid, request.max_cells, request.corridor_m)
    if not (units.incidents.location >= 0).any():
        raise ParameterError("as_of", f"no incidents on the region's {request.unit}s before "
                             f"{before.isoformat()}: nothing to fit")
    return units


def _inputs(request: ForecastRequest, units: Units, before: datetime) -> dict:
    on = units.incidents.location >= 0
    return {
        "region": request.area.regions[0], **units.describe(), "period": request.period,
        "area_share": request.area_share, "incidents": int(on.sum()),
        "training_window": [datetime.fromtimestamp(units.incidents.time[on].min(), UTC)
                            .isoformat(), before.isoformat()],
        "training_window_rule": "every incident before the end (exclusive)",
        "viewer_agency": request.selection.viewer_agency,
    }


def _model_metadata(fitted: model.Fitted) -> dict:
    return {
        "name": MODEL_NAME,
        "terms": list(model.TERMS),
        "weights": dict(zip(model.TERMS, fitted.weights.tolist(), strict=True)),
        "decay_days": fitted.decay_days, "decay_candidates_days": list(model.DECAY_DAYS),
        "recent_half_life_periods": model.RECENT_HALF_LIFE,
        "nb_size": fitted.size,
        "nb_variance": "mu + mu^2 / nb_size (size fitted on out-of-sample errors of the "
                       "fit periods)",
        "fit_periods": [o.isoformat() for o in fitted.fit_origins],
        "fit_location_periods": fitted.fit_counts,
        "poisson_log_likelihood": fitted.log_likelihood,
        "method": "docs/methods.md, Forecast",
    }


@dataclass
class Prediction:
    """A fitted forecast: the mean and intervals per location."""

    units: Units
    fitted: model.Fitted
    expected: np.ndarray
    bounds: dict[str, np.ndarray]


def predict(session, request: ForecastRequest, srid: int) -> Prediction:
    """Fit on the incidents before ``as_of`` and predict the period it starts."""
    _check(request)
    return predict_units(_units(session, request, request.as_of, srid), request.as_of,
                         request.period)


def predict_units(units: Units, as_of: datetime, period: str) -> Prediction:
    """Fit on ``units``' incidents (all before ``as_of``) and predict the period."""
    builder = model.FeatureBuilder(units.incidents, units.locations, period,
                                   units.first_time)
    fitted = model.fit(builder, as_of)
    expected = fitted.mean(builder.at(as_of, fitted.decay_days))
    return Prediction(units, fitted, expected, model.intervals(expected, fitted.size))


def forecast(session, request: ForecastRequest, srid: int) -> dict:
    """The forecast as a GeoJSON FeatureCollection (EPSG:4326) of every cell or section
    with ``expected``, ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95`` and
    ``top``; ``metadata`` says what was fitted on what."""
    versions = queries.data_versions(session)
    prediction = predict(session, request, srid)
    units, expected = prediction.units, prediction.expected
    top = evaluation.top_cells(expected, request.area_share)
    end = periods.shift(request.as_of, request.period, 1)
    metadata = {
        "model": _model_metadata(prediction.fitted),
        "inputs": _inputs(request, units, request.as_of),
        "as_of": request.as_of.isoformat(),
        "period": {"name": request.period, "start": request.as_of.isoformat(),
                   "end": end.isoformat(), "end_rule": "exclusive"},
        "expected_total": float(expected.sum()),
        "top_locations": int(top.sum()),
        "fields": FIELDS,
        "crs": "EPSG:4326",
        "data_version": {k: versions[k] for k in sorted(versions)},
        "computed_at": datetime.now(UTC).isoformat(),
    }
    properties = {"expected": expected, **prediction.bounds}
    if units.unit == "cell":
        collection = cells_geojson(units.grid, properties, metadata)
        for feature, hot in zip(collection["features"], top.tolist(), strict=True):
            feature["properties"]["top"] = hot
        return collection
    return _sections_geojson(units, properties, top, metadata)


def _sections_geojson(units: Units, properties: dict, top: np.ndarray, metadata: dict) -> dict:
    columns = {name: values.tolist() for name, values in properties.items()}
    features = [
        {"type": "Feature", "id": section.id, "geometry": orjson.loads(section.geometry),
         "properties": {"section_id": section.id, "code": section.code, "name": section.name,
                        **{name: columns[name][k] for name in columns},
                        "top": bool(top[k])}}
        for k, section in enumerate(units.sections)
    ]
    return {"type": "FeatureCollection", "metadata": metadata,
            "numberMatched": len(features), "numberReturned": len(features),
            "features": features}


def section_outlooks(session, region_codes, as_of: datetime, period: str, srid: int,
                     viewer_agency: str | None = None,
                     corridor_m: float | None = None) -> dict[str, dict]:
    """The next period's forecast per border section of each region, by region code,
    for products (the regional bulletin, the CIRAM likelihood), from one read of the
    incidents: ``period`` (start, end), ``sections`` by section code (``expected``,
    ``lower_80``, ``upper_80``), ``nb_size`` (the negative binomial's size) and the
    model's name; or ``unavailable`` (the reason) for a region without sections or
    without incidents on them.

    Kept in memory by its arguments and the data versions (``geo.hotspots.cache``): the
    fits (about 0.3 s of CPU per region) are done once per data version, not for every
    ranking, alert list and bulletin of the same period."""
    codes = list(region_codes)
    arguments = {"regions": codes, "as_of": as_of.isoformat(), "period": period,
                 "viewer_agency": viewer_agency, "corridor_m": corridor_m}
    return orjson.loads(cache.cached(
        session, "section-outlooks", arguments, srid,
        lambda: _section_outlooks(session, codes, as_of, period, srid, viewer_agency,
                                  corridor_m)))


def _section_outlooks(session, region_codes, as_of: datetime, period: str, srid: int,
                      viewer_agency: str | None, corridor_m: float | None) -> dict[str, dict]:
    all_units = regions_sections(session, region_codes, Selection(viewer_agency=viewer_agency),
                                 as_of, srid, corridor_m,
                                 since=model.read_start(as_of, period))
    outlooks = {}
    for code in region_codes:
        units = all_units.get(code)
        if units is None or len(units.incidents.time) == 0:
            # (older ones than the model's memory may exist: it would see none of them)
            since = "" if units is None or units.first_time is None else (
                f" since {model.read_start(as_of, period).isoformat()}")
            outlooks[code] = {"unavailable": f"no incidents on the border sections of {code} "
                                             f"before {as_of.isoformat()}{since}"}
            continue
        prediction = predict_units(units, as_of, period)
        bounds = prediction.bounds
        outlooks[code] = {
            "period": {"name": period, "start": as_of.isoformat(),
                       "end": periods.shift(as_of, period, 1).isoformat()},
            "sections": {section.code: {"expected": float(prediction.expected[k]),
                                        "lower_80": int(bounds["lower_80"][k]),
                                        "upper_80": int(bounds["upper_80"][k])}
                         for k, section in enumerate(units.sections)},
            "nb_size": prediction.fitted.size,
            "model": MODEL_NAME,
        }
    return outlooks


def next_period(end: datetime, period_days: float) -> tuple[datetime, str]:
    """The forecast period after a closed period ``[start, end]`` of ``period_days``
    days: it starts at the first whole second after ``end`` (an incident at ``end`` is
    read) and is a week for periods of a week or less, else a calendar month."""
    as_of = (end + timedelta(seconds=1)).replace(microsecond=0)
    return as_of, "next_week" if period_days <= 7 else "next_month"


def backtest(session, request: ForecastRequest, srid: int) -> dict:
    """Rolling-origin backtest over the last ``folds`` complete periods before ``as_of``
    (``geo.forecast.backtest``): per fold and on average, PAI and hit rate at 1/5/10 %
    of the area for the forecast and the baselines, and interval coverage."""
    _check(request)
    versions = queries.data_versions(session)
    origins = backtests.fold_origins(request.as_of, request.period, request.folds)
    before = periods.shift(origins[-1], request.period, 1)
    units = _units(session, request, before, srid)
    result = backtests.backtest(units.incidents, units.locations, request.period, origins)
    return {
        **result,
        "metadata": {
            "model": {"name": MODEL_NAME, "method": "docs/methods.md, Forecast"},
            "inputs": _inputs(request, units, before),
            "as_of": request.as_of.isoformat(),
            "folds": request.folds,
            "fold_rule": "each of the last `folds` complete periods before as_of, fitted "
                         "on every incident before its start",
            "area_shares": list(backtests.AREA_SHARES),
            "area_share_rule": "locations count as equal shares of the area",
            "baselines": {"last_period": "the location's count in the period before",
                          "long_run": "the location's count over all history before",
                          "kde": "quartic kernel density of the incidents before, at the "
                                 "location's centre (spatial Silverman bandwidth)"},
            "fields": {"pai_Npct": "PAI of the top N % of locations (Chainey et al. 2008)",
                       "hit_rate_Npct": "share of the period's incidents in them",
                       "coverage_80": "share of held-out location counts inside the 80 % "
                                      "interval",
                       "coverage_95": "likewise for the 95 % interval"},
            "data_version": {k: versions[k] for k in sorted(versions)},
            "computed_at": datetime.now(UTC).isoformat(),
        },
    }


def to_json(answer: dict) -> bytes:
    """The answer's JSON text (numpy values included)."""
    return orjson.dumps(answer, option=JSON_OPTIONS)
