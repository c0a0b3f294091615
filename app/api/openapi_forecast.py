"""OpenAPI operations of the forecast API (builders in the form ``app.api.openapi``
expects: each takes the path's layer, None here, and returns the operation without the
authentication responses)."""

from __future__ import annotations

from app.api import forecast
from app.api.openapi_analysis import CELLS, GEOJSON_MIME, _json, _query, _ref
from geo.forecast import backtest, periods, service
from geo.forecast.inputs import UNITS


def _parameters(backtesting: bool) -> list[dict]:
    return [
        _query("region", {"type": "string"}, "Region code. A user restricted to regions may "
               "name only theirs (403); when absent, their only region (422 when they have "
               "several)."),
        _query("period", {"type": "string", "enum": list(periods.PERIODS),
                          "default": "next_month"},
               "The forecast period: [as_of, as_of + 1 calendar month) or + 7 days."),
        _query("unit", {"type": "string", "enum": list(UNITS), "default": "cell"},
               "Hexagon cells (the hot-spot grid) or the region's border sections (an "
               "incident counts for its nearest section within the CIRAM corridor)."),
        _query("as_of", {"type": "string"}, "RFC 3339 date-time or date: the period's "
               "start; only incidents strictly before it are read. Default: now."
               + (" The folds are the complete periods before it." if backtesting else ""),
               example="2026-12-01"),
        _query("cell_size", {"type": "number", "minimum": 10, "maximum": 1_000_000,
                             "default": service.DEFAULT_CELL_SIZE_M},
               "Hexagon edge in metres (unit=cell)."),
        _query("area_share", {"type": "number", "minimum": 0.0001, "maximum": 0.9999,
                              "default": 0.05},
               "Share of the locations flagged `top` (highest expected counts)."),
        *([_query("folds", {"type": "integer", "minimum": 1, "maximum": service.MAX_FOLDS,
                            "default": forecast.DEFAULT_FOLDS},
                  "How many of the last complete periods to predict, each fitted on the "
                  "incidents before it.")] if backtesting else []),
    ]


_CELL_FEATURE = CELLS["properties"]["features"]["items"]

# The hot-spot answers' FeatureCollection, with the forecast's metadata and properties.
LOCATIONS = {**CELLS, "properties": {
    **CELLS["properties"],
    "metadata": {"type": "object", "required": ["model", "inputs", "as_of", "period",
                                                "fields", "data_version"],
                 "description": "The model and its fitted parameters, the inputs "
                                "(training window, incidents, unit, cell size, region, "
                                "area_share), as_of, the period's bounds, the data "
                                "version and what each property means."},
    "features": {"type": "array", "items": {**_CELL_FEATURE, "properties": {
        **_CELL_FEATURE["properties"],
        "geometry": {"type": "object", "description": "Polygon (cell) or "
                     "LineString/MultiLineString (section), EPSG:4326."},
        "properties": {"type": "object", "required": [*service.FIELDS],
                       "properties": {
                           "expected": {"type": "number", "minimum": 0},
                           **{name: {"type": "integer", "minimum": 0}
                              for name in service.FIELDS
                              if name.startswith(("lower", "upper"))},
                           "top": {"type": "boolean"}},
                       "description": "cell (i,j) or section_id, code, name; then the "
                                      "forecast's fields."}}}},
}}

RANKING = {"type": "object", "description": "pai_1pct, hit_rate_1pct, ... at 1, 5 and 10 % "
           "of the area (null when the period holds no incident)."}


def forecast_operation(_layer) -> dict:
    return {"summary": "Forecast of incidents per cell or border section in the next period",
            "tags": ["analysis"], "parameters": _parameters(backtesting=False),
            "responses": {"200": {"description": "Every cell or section with its expected "
                                                 "count, 80 % and 95 % intervals and top.",
                                  "content": {GEOJSON_MIME: {"schema": LOCATIONS}}},
                          "422": _ref("responses", "Problem422")}}


def backtest_operation(_layer) -> dict:
    fold = {"type": "object", "required": ["start", "end", "incidents", "forecast",
                                           "baselines", "coverage_80", "coverage_95"],
            "properties": {"forecast": RANKING, "best_possible": RANKING,
                           "baselines": {"type": "object", "properties": {
                               name: RANKING for name in backtest.BASELINES}}}}
    return {"summary": "Rolling-origin backtest of the forecast against baselines",
            "description": "Per fold and on average: PAI and hit rate of the forecast and "
                           "of the baselines (last period, long-run counts, KDE), PAI* "
                           "(best_possible) and the intervals' coverage of held-out counts.",
            "tags": ["analysis"], "parameters": _parameters(backtesting=True),
            "responses": {"200": {"description": "The folds and their mean.",
                                  "content": _json({"type": "object",
                                                    "required": ["folds", "mean", "metadata"],
                                                    "properties": {
                                                        "folds": {"type": "array",
                                                                  "items": fold},
                                                        "mean": {"type": "object"},
                                                        "metadata": {"type": "object"}}})},
                          "422": _ref("responses", "Problem422")}}


def forecast_builders() -> dict:
    return {forecast.forecast: forecast_operation,
            forecast.forecast_backtest: backtest_operation}


__all__ = ["forecast_builders"]
