"""OpenAPI operations of the planner API (hot-spots), the risk API and the audit trail.

Builders in the form ``app.api.openapi`` expects: each takes the path's layer (None
here) and returns the operation without the authentication responses, which
``openapi.operation`` adds.
"""

from __future__ import annotations

from app.api import audit, hotspots, reports, risk, search
from geo import places
from geo.hotspots.cell_statistics import INFERENCES, NEIGHBOURHOODS
from geo.hotspots.emerging import GLOBAL_WINDOWS
from geo.layers import INCIDENTS
from geo.products import periods
from geo.risk import monthly

JSON_MIME = "application/json"
GEOJSON_MIME = "application/geo+json"


def _ref(section: str, name: str) -> dict:
    return {"$ref": f"#/components/{section}/{name}"}


def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


def _json(schema: dict) -> dict:
    return {JSON_MIME: {"schema": schema}}


def _area_and_selection(window: str = "datetime") -> list[dict]:
    return [
        _query("region", {"type": "string"}, "The study area: a region code, several "
               "separated by commas, or a country code (GE: all its regions); absent: "
               "every region. A bbox clips it; cells outside the area have no statistic "
               "(metadata.study_area says which mask was used). A user restricted to "
               "regions may name only theirs (403); absent, all of theirs.",
               example="GE-KK,GE-KA"),
        _ref("parameters", "bbox"),
        _query(window, {"type": "string"}, "RFC 3339 interval start/end of the incidents.",
               example="2026-01-01T00:00:00Z/2026-03-31T23:59:59Z"),
        {"name": "category", "in": "query", "required": False, "style": "form",
         "explode": False, "description": "Any of these categories.",
         "schema": {"type": "array", "items": {"type": "string",
                                               "enum": list(INCIDENT_CATEGORIES)}}},
        _query("outcome", {"type": "string", "enum": ["attempted", "actual"]},
               "Only attempted or only actual events."),
        _query("weight", {"type": "string", "enum": ["count", "persons"], "default": "count"},
               "Count incidents, or sum their persons."),
        _query("cell_size", {"type": "number", "minimum": 10, "maximum": 1_000_000},
               "Hexagon edge in metres; chosen from the incidents' spacing when absent."),
    ]


INCIDENT_CATEGORIES = INCIDENTS.field("category").choices

# The one default period of the analyses (geo.products.periods.default_analysis_period).
DEFAULT_PERIOD_RULE = (
    "the last complete calendar month (UTC) before the data clock's now, or, while the "
    "data does not yet cover it, the 30 days ending with the day of the latest incident")
DEFAULT_PERIOD_TEXT = (
    f"Absent: {DEFAULT_PERIOD_RULE}; the answer's period_source says which "
    "(metadata.period_source for the hot-spot map).")
# The emerging hot-spots' default window (geo.products.periods.emerging_period).
EMERGING_PERIOD_TEXT = (
    f"Absent: the {periods.EMERGING_MONTHS} calendar months (UTC) ending with the default "
    f"analysis period of /hotspots ({DEFAULT_PERIOD_RULE}), from the 1st of the first "
    "month to the end of that period's last day, as the map page asks; metadata.period "
    "gives the window used, metadata.period_source the default it extends.")

# Whose records an aggregate counted (geo.scope: what the caller's agency sees in
# detail, and other agencies' records their originators let count in aggregates).
VIEWER_AGENCY = {"type": "string", "nullable": True,
                 "description": "The agency whose view was counted: the caller's; \"\" "
                                "for what every agency may count (a stored assessment, "
                                "read ministry-wide); null for every record (the system)."}
COUNTED_NOT_VISIBLE = {"type": "integer", "minimum": 0,
                       "description": "How many of the counted records (records, not "
                                      "weights) that agency does not see in detail: "
                                      "other agencies' records counted in aggregates only. "
                                      "The picture includes other agencies' data when it "
                                      "is not 0."}
AGENCY_VIEW = {
    "viewer_agency": VIEWER_AGENCY,
    "counted_not_visible": {**COUNTED_NOT_VISIBLE, "description":
                            COUNTED_NOT_VISIBLE["description"] + " Of the period's "
                            "incidents."},
    "counted_not_visible_compared": {**COUNTED_NOT_VISIBLE, "description":
                                     COUNTED_NOT_VISIBLE["description"] + " Of the "
                                     "baseline periods and the same period last year "
                                     "(comparisons, alerts' expectations)."},
}

CELLS = {
    "type": "object",
    "required": ["type", "metadata", "features", "numberMatched", "numberReturned"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "metadata": {"type": "object", "description": "Everything needed to reproduce the "
                     "result: method, cell size, CRS, weights, band, FDR, filters, data "
                     "version, computed_at; whose view was counted.",
                     "required": ["viewer_agency", "counted_not_visible"],
                     "properties": {
                         "viewer_agency": VIEWER_AGENCY,
                         "counted_not_visible": COUNTED_NOT_VISIBLE,
                         "test_counted_not_visible": {
                             **COUNTED_NOT_VISIBLE, "description": "Evaluation: "
                             "counted_not_visible of the test window."}}},
        "numberMatched": {"type": "integer"},
        "numberReturned": {"type": "integer"},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "integer"},
                "geometry": {"type": "object", "description": "Polygon, EPSG:4326."},
                "properties": {"type": "object", "description": "cell (i,j), count and the "
                               "method's values (z, p, bin | local_i, cluster | density | "
                               "category, trend_z, trend_p, count_trend_z, count_trend_p, "
                               "count_trend_tau, z_series, count_series | score, "
                               "train_count, test_count)."},
            }}},
    },
}


# unit=section of the emerging hot-spots (geo.hotspots.sections.FIELDS say the same).
SECTION_PROPERTIES = {
    "section_id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
    "region_id": {"type": "integer", "nullable": True},
    "count": {"type": "integer", "description": "Incidents (or persons) over all steps."},
    "count_series": {"type": "array", "items": {"type": "integer"},
                     "description": "Incidents (or persons) per time step, oldest first."},
    "category": {"type": "string", "description": "Emerging hot-spot category."},
    "trend_z": {"type": "number", "nullable": True,
                "description": "Mann-Kendall z of the section's Gi* z series."},
    "trend_p": {"type": "number", "nullable": True, "description": "Two-sided p of trend_z."},
    "count_trend_z": {"type": "number", "nullable": True,
                      "description": "Mann-Kendall z of the section's count series."},
    "count_trend_p": {"type": "number", "nullable": True,
                      "description": "Two-sided p of count_trend_z."},
    "count_trend_tau": {"type": "number", "nullable": True,
                        "description": "Kendall's tau-b of the counts against time (null "
                                       "when they are constant)."},
    "z_series": {"type": "array", "items": {"type": "number", "nullable": True},
                 "description": "Space-time Gi* z per time step, oldest first."},
}
SECTIONS = {
    **CELLS,
    "properties": {
        **CELLS["properties"],
        "metadata": {"type": "object", "description": "unit, corridor_m, assignment (the "
                     "rule: nearest section within corridor_m), distance_band_m and its "
                     "source, neighbours_per_section, step, steps, time_steps (edges, "
                     "dropped partial steps), fields (what each property means), filters, "
                     "data version; whose view was counted.",
                     "required": ["unit", "corridor_m", "distance_band_m", "time_steps",
                                  "fields", "viewer_agency", "counted_not_visible"],
                     "properties": {"viewer_agency": VIEWER_AGENCY,
                                    "counted_not_visible": COUNTED_NOT_VISIBLE}},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "integer", "description": "The section's id."},
                "geometry": {"type": "object", "description": "LineString, EPSG:4326."},
                "properties": {"type": "object", "required": list(SECTION_PROPERTIES),
                               "properties": SECTION_PROPERTIES},
            }}},
    },
}


def _cells_operation(summary: str, parameters: list[dict], schema: dict = CELLS,
                     description: str = "Every cell of the grid.") -> dict:
    return {"summary": summary, "tags": ["analysis"], "parameters": parameters,
            "responses": {"200": {"description": description,
                                  "content": {GEOJSON_MIME: {"schema": schema}}},
                          "422": _ref("responses", "Problem422")}}


def _with_default_period(parameters: list[dict],
                         default: str = DEFAULT_PERIOD_TEXT) -> list[dict]:
    """The parameters with ``datetime`` saying its ``default``."""
    return [{**p, "description": f"{p['description']} {default}"}
            if p.get("name") == "datetime" else p for p in parameters]


def hotspot_map_operation(_layer) -> dict:
    return _cells_operation("Hot-spot map (Gi*, LISA or KDE) over hexagon cells", [
        *_with_default_period(_area_and_selection()),
        _query("method", {"type": "string", "enum": ["gistar", "lisa", "kde"],
                          "default": "gistar"}, "The statistic."),
        _query("distance_band", {"type": "number", "minimum": 1, "maximum": 1e7},
               "Distance band (metres) for Gi*/LISA, bandwidth for KDE; chosen when absent."),
        _query("fdr", {"type": "boolean", "default": True}, "Benjamini-Hochberg on the bins."),
        _query("neighbourhood", {"type": "string", "enum": list(NEIGHBOURHOODS),
                                 "default": "band"},
               "Gi*/LISA neighbours: the cells within the distance band (binary), the k "
               "nearest cells, or the cells within the band weighted by inverse distance."),
        _query("k", {"type": "integer", "minimum": 1, "maximum": 100, "default": 8},
               "Neighbours of neighbourhood=knn."),
        _query("inference", {"type": "string", "enum": list(INFERENCES),
                             "default": "analytic"},
               "LISA significance: analytic (total randomisation) or conditional "
               "permutation (seeded, reproducible)."),
        _query("permutations", {"type": "integer", "minimum": 99, "maximum": 9999,
                                "default": 999}, "Permutations of inference=permutation."),
        _query("seed", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
               "Random seed of inference=permutation: the same seed, the same p values."),
        _query("rate", {"type": "string", "enum": ["border_km"]},
               "Gi* of incidents per km of border section in each cell, among the cells "
               "a section crosses (others get no statistic)."),
        _query("significant_only", {"type": "boolean", "default": False},
               "gistar and lisa: only the significant cells (a bin other than 0, a "
               "cluster other than \"not significant\"), as the map page draws them: "
               "numberMatched counts them, metadata.cells the whole grid, feature ids "
               "count the cells returned (properties.cell is a cell's own label). "
               "Refused (422) with kde."),
    ])


def emerging_operation(_layer) -> dict:
    return _cells_operation(
        "Emerging hot-spot categories per cell or per border section", [
            _query("unit", {"type": "string", "enum": list(hotspots.EMERGING_UNITS),
                            "default": "cell"},
                   "The locations of the space-time cube: hexagon cells, or the border "
                   "sections of the study area's regions (CIRAM), each incident counted "
                   "for its nearest section when within the risk model's corridor_m of it "
                   "(farther ones for none). With section, region names the regions (none: "
                   "every region of the caller's); bbox, cell_size and patterns_only are "
                   "refused (422)."),
            *_with_default_period(_area_and_selection(), EMERGING_PERIOD_TEXT),
            _query("step", {"type": "string", "enum": ["month", "week"], "default": "month"},
                   "Time step of the space-time cube."),
            _query("patterns_only", {"type": "boolean", "default": False},
                   "unit=cell: only the cells with a pattern (a category other than "
                   "\"no pattern\"), as the map page draws them: numberMatched counts "
                   "them, metadata.cells the whole grid, feature ids count the cells "
                   "returned (properties.cell is a cell's own label)."),
            _query("distance_band", {"type": "number", "minimum": 1, "maximum": 1e7},
                   "Distance band in metres: cells' centres (chosen when absent), or "
                   "sections' lines within it of each other (the corridor width when "
                   "absent)."),
            _query("alignment", {"type": "string", "enum": ["end", "start", "reference"],
                                 "default": "end"},
                   "Where the whole steps are laid from: the window's end, its start, or "
                   "the reference time (ArcGIS Time Step Alignment). The part of the window "
                   "that would make a partial step is left out (metadata.time_steps)."),
            _query("reference", {"type": "string", "format": "date-time"},
                   "The reference time of alignment=reference (RFC 3339).",
                   example="2026-01-01T00:00:00Z"),
            _query("time_window", {"type": "integer", "minimum": 0, "maximum": 12,
                                   "default": 1},
                   "Previous steps in the space-time neighbourhood (ArcGIS Neighborhood "
                   "Time Step)."),
            _query("global_window", {"type": "string", "enum": list(GLOBAL_WINDOWS),
                                     "default": "entire_cube"},
                   "What each bin is compared with: the whole cube, the bins of its "
                   "neighbourhood's steps, or its own step (ArcGIS Define Global Window)."),
        ], {"anyOf": [CELLS, SECTIONS]},
        "unit=cell: every cell of the grid; unit=section: every border section of the "
        "regions, a LineString (id: the section's id) with its code and name. Both with "
        "the category, the trend of the Gi* z series (trend_z, trend_p), the trend of "
        "the counts (count_trend_z, count_trend_p, count_trend_tau), z_series and "
        "count_series per step; the step edges are metadata.time_steps.edges.")


def evaluate_operation(_layer) -> dict:
    return _cells_operation("Predictive evaluation: hit rate, PAI and PEI of the top cells", [
        *_area_and_selection(window="train"),
        _query("test", {"type": "string"}, "RFC 3339 interval start/end scored."),
        _query("area_share", {"type": "number", "minimum": 0.0001, "maximum": 0.9999,
                              "default": 0.05}, "Share of the area taken as hot."),
        _query("method", {"type": "string", "enum": ["gistar", "kde", "count"],
                          "default": "gistar"}, "The score that ranks cells."),
    ])


PERIOD = _query("datetime", {"type": "string"}, "RFC 3339 closed interval start/end "
                "(a date as its end means the end of that day). "
                f"{DEFAULT_PERIOD_TEXT}",
                example="2026-10-01T00:00:00Z/2026-10-31T23:59:59Z")
# What an analysis answers about its period, beside the period itself.
PERIOD_SAID = {
    "period": {"type": "array", "items": {"type": "string", "format": "date-time"},
               "minItems": 2, "maxItems": 2, "description": "Start and end (closed, UTC)."},
    "period_source": {"type": "string", "enum": [periods.REQUESTED, periods.DEFAULT_MONTH,
                                                 periods.DEFAULT_FALLBACK]},
    "period_partial": {"type": "boolean", "description": "The period is not over: its "
                       "percent changes are null (a partial period is not compared with "
                       "full ones)."}}
REGION = _query("region", {"type": "string"}, "Region code (all sections when absent). A "
                "user restricted to regions may name only theirs (403); when absent, their "
                "only region (422 when they have several).")
OBJECT = {"type": "object"}


# How the ranking was scored (geo/risk/risk.yaml), for a reader to explain a section.
RISK_MODEL_SAID = {
    "type": "object", "required": ["formula", "component_range", "bands"],
    "properties": {
        "formula": {"type": "string", "example": "risk = T x V x I"},
        "component_range": {"type": "array", "items": {"type": "integer"},
                            "example": [1, 5]},
        "bands": {"type": "object", "description": "Each computed level's risk range, "
                  "both ends included, e.g. {\"low\": [1, 19], \"medium\": [20, 59], "
                  "\"high\": [60, 125]}.",
                  "additionalProperties": {"type": "array", "items": {"type": "integer"},
                                           "minItems": 2, "maxItems": 2}},
        "reference_days": {"type": "number", "description": "Count-based factor values "
                           "are per this many days."},
        "impact_periods": {"type": "integer", "description": "The impact's values are "
                           "means over this many periods (1: the period only)."}}}
SECTION_SAID = ("Per section: scores, level (and computed_level, decision), rank, "
                "explanation (per component, each factor's value, unit, score, weight and "
                "share), incidents, period_counts (the baseline periods' counts, oldest "
                "first, then the period's), categories (the period's counts by incident "
                "category), comparison and alert (with expected_range: the counts its "
                "model expects; above its end the section alerts).")


def ranked_segments_operation(_layer) -> dict:
    fmt = _query("f", {"type": "string", "enum": list(risk.RANKING_FORMATS),
                       "default": "json"}, "The ranking as JSON, or as a file: CSV (one row "
                 "per section) or GeoJSON (the sections' lines), with scores, levels, "
                 "reasons and comparisons, named ranking-<region>-<start>-<end>.<f>.")
    return {"summary": "Border sections ranked by CIRAM risk, with reasons and comparisons",
            "description": "Ordered by risk, then incidents, then section code (order says "
                           "so). Incidents are those within the risk model's corridor of a "
                           "section, each counted for its nearest section, whatever region "
                           "it is linked to (counts says so): not the incidents linked to "
                           "the region. Counts what the caller's agency may count; "
                           "viewer_agency and counted_not_visible say whose view and how "
                           "many counted records it does not see (also in summary).",
            "tags": ["risk"], "parameters": [REGION, PERIOD, fmt],
            "responses": {"200": {"description": "Summary and ranked sections.",
                                  "content": {**_json({"type": "object", "required": [
                                      "period", "period_source", "order", "counts",
                                      "summary", "sections", *AGENCY_VIEW],
                                      "properties": {**AGENCY_VIEW, **PERIOD_SAID,
                                                     "order": {"type": "string"},
                                                     "counts": {"type": "string"},
                                                     "corridor_m": {"type": "number"},
                                                     "model": RISK_MODEL_SAID,
                                                     "sections": {"type": "array",
                                                                  "items": OBJECT,
                                                                  "description": SECTION_SAID}}}),
                                              "text/csv": {"schema": {"type": "string"}},
                                              GEOJSON_MIME: {"schema": OBJECT}}},
                          "422": _ref("responses", "Problem422")}}


def alerts_operation(_layer) -> dict:
    return {"summary": "Sections whose count exceeds their baseline (p < alpha)",
            "tags": ["risk"], "parameters": [REGION, PERIOD],
            "responses": {"200": {"description": "Alerts with observed and expected counts.",
                                  "content": _json({"type": "object",
                                                    "required": ["alerts", "period",
                                                                 "period_source",
                                                                 *AGENCY_VIEW],
                                                    "properties": {**AGENCY_VIEW,
                                                                   **PERIOD_SAID, "alerts": {
                                                        "type": "array", "items": OBJECT}}})},
                          "422": _ref("responses", "Problem422")}}


ASSESSMENT = {"type": "object", "required": ["id", "period", "config_sha256", "sections"],
              "description": "Counted in the view every agency shares (records released "
                             "to all, or counted in aggregates by their originators): "
                             "inputs.viewer_agency and summary.viewer_agency are \"\"; "
                             "summary.counted_not_visible counts the records not released "
                             "to every agency."}


def create_assessment_operation(_layer) -> dict:
    body = {"type": "object", "required": ["datetime"],
            "properties": {"region": {"type": "string", "nullable": True},
                           "datetime": {"type": "string"}}}
    return {"summary": "Run and store a risk assessment (an immutable record)",
            "tags": ["risk"],
            "requestBody": {"required": True, "content": _json(body)},
            "responses": {"201": {"description": "The stored assessment.",
                                  "content": _json(ASSESSMENT)},
                          "422": _ref("responses", "Problem422")}}


def get_assessment_operation(_layer) -> dict:
    return {"summary": "A stored risk assessment", "tags": ["risk"],
            "responses": {"200": {"description": "The assessment.",
                                  "content": _json(ASSESSMENT)},
                          "404": _ref("responses", "Problem404")}}


def decide_level_operation(_layer) -> dict:
    body = {"type": "object", "required": ["justification"],
            "properties": {"level": {"type": "string", "nullable": True,
                                     "enum": [*risk.DECISION_LEVELS, None]},
                           "justification": {"type": "string", "minLength": 10}}}
    return {"summary": "Set (or lift, with null) a section's level, with a justification",
            "tags": ["risk"], "requestBody": {"required": True, "content": _json(body)},
            "responses": {"200": {"description": "The decision.", "content": _json(OBJECT)},
                          "404": _ref("responses", "Problem404"),
                          "422": _ref("responses", "Problem422")}}


def history_operation(_layer) -> dict:
    return {"summary": "A section's assessed levels and decisions over time",
            "tags": ["risk"],
            "responses": {"200": {"description": "Oldest first.", "content": _json(OBJECT)},
                          "404": _ref("responses", "Problem404")}}


def bulletin_operation(_layer) -> dict:
    region = _query("region", {"type": "string"}, "Region code of the regional unit. A "
                    "user restricted to regions may name only theirs (403); one restricted "
                    "to a single region may leave it out.", required=True)
    fmt = _query("f", {"type": "string", "enum": list(reports.BULLETIN_FORMATS),
                       "default": "html"}, "Printable HTML, or PDF printed from it.")
    return {"summary": "Regional risk bulletin: map, ranked sections with reasons, trends, "
                       "alerts, decisions, method", "tags": ["risk"],
            "description": "The latest stored assessment of the region and period when "
                           "one exists, else one computed live for the reader's agency (the "
                           "bulletin says which, whose view it counts and how many counted "
                           "incidents that view does not see). No incident's detail: no "
                           "description, no incident on the map.",
            "parameters": [region, PERIOD, fmt],
            "responses": {"200": {"description": "The bulletin (Content-Disposition names "
                                                 "the file).",
                                  "content": {"text/html": {"schema": {"type": "string"}},
                                              "application/pdf": {"schema": {
                                                  "type": "string", "format": "binary"}}}},
                          "422": _ref("responses", "Problem422")}}


MONTH = {
    "type": "object",
    "required": ["month", "start", "end", "incidents", "expected", "expected_range",
                 "partial", "categories"],
    "properties": {
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-11"},
        "start": {"type": "string", "format": "date-time",
                  "description": "Midnight UTC of the month's first day."},
        "end": {"type": "string", "format": "date-time",
                "description": "Its last microsecond (closed); the partial month's: now."},
        "incidents": {"type": "integer", "minimum": 0},
        "expected": {"type": "number", "description": "The count model's mean for the "
                     "month (incidents per whole month)."},
        "expected_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                           "maxItems": 2, "description": "[low, high], both included: "
                           "counts the model expects; above high the ranking alerts."},
        "partial": {"type": "boolean", "description": "The current month, not over."},
        "elapsed_share": {"type": "number", "description": "Partial month only: the share "
                          "of the month elapsed."},
        "expected_to_date": {"type": "number", "description": "Partial month only: "
                             "expected times elapsed_share."},
        "categories": {"type": "object", "additionalProperties": {"type": "integer"},
                       "description": "Incidents by category (none at zero)."},
    },
}


def section_months_operation(_layer) -> dict:
    months = _query("months", {"type": "integer", "minimum": 1,
                               "maximum": monthly.MAX_MONTHS,
                               "default": monthly.DEFAULT_MONTHS},
                    "Complete calendar months before the current one.")
    return {"summary": "A section's incidents per calendar month, with the expected band "
                       "and by category", "tags": ["risk"],
            "description": "Calendar months in UTC: the last `months` complete ones and "
                           "the current one (partial), oldest first. Incidents count as "
                           "in the ranking (their nearest section within the corridor, "
                           "what the caller's agency may count). The band of each month "
                           "is the ranking's alert model over the 12 months before it "
                           "(docs/methods.md, Monthly trend); a section outside the "
                           "caller's regions is not found.",
            "parameters": [months],
            "responses": {"200": {"description": "The monthly series.", "content": _json({
                "type": "object",
                "required": ["section_id", "code", "months", "categories", "band", "counts"],
                "properties": {
                    "section_id": {"type": "integer"}, "code": {"type": "string"},
                    "name": {"type": "string"}, "name_ka": {"type": "string",
                                                            "nullable": True},
                    "as_of": {"type": "string", "format": "date-time"},
                    "months": {"type": "array", "items": MONTH},
                    "categories": {"type": "object",
                                   "additionalProperties": {"type": "integer"},
                                   "description": "Totals by category over the months."},
                    "band": {"type": "object", "description": "How the band is computed."},
                    "counts": {"type": "string", "description": "What is counted."},
                    "corridor_m": {"type": "number"},
                    "viewer_agency": {"type": "string", "nullable": True},
                    "counted_not_visible": {"type": "integer", "minimum": 0}}})},
                          "404": _ref("responses", "Problem404"),
                          "422": _ref("responses", "Problem422")}}


PLACE = {
    "type": "object",
    "required": ["kind", "id", "code", "name", "match", "bbox", "centroid"],
    "properties": {
        "kind": {"type": "string", "enum": list(places.KINDS)},
        "id": {"type": "integer", "description": "The feature's id in its layer."},
        "code": {"type": "string"},
        "name": {"type": "string", "description": "A region's English name, a section's "
                                                  "or crossing point's name."},
        "name_ka": {"type": "string", "nullable": True, "description": "In Georgian."},
        "region": {"type": "string", "nullable": True, "description": "Its region's code."},
        "match": {"type": "string", "enum": list(places.MATCHES),
                  "description": "The code itself, a code or name beginning with q, or "
                                 "holding it."},
        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                 "description": "minx, miny, maxx, maxy in degrees (EPSG:4326)."},
        "centroid": {"type": "array", "items": {"type": "number"}, "minItems": 2,
                     "maxItems": 2, "description": "A point on the place: lon, lat."},
    },
}


def search_operation(_layer) -> dict:
    q = _query("q", {"type": "string", "minLength": 1, "maxLength": places.MAX_QUERY_LENGTH},
               "A code or name, or part of one; case and diacritics are ignored.",
               required=True, example="T-AZ")
    limit = _query("limit", {"type": "integer", "minimum": 1, "maximum": places.MAX_LIMIT,
                             "default": places.DEFAULT_LIMIT}, "Most places to answer.")
    return {"summary": "Find a region, border section or crossing point by code or name",
            "tags": ["service"],
            "description": "Only the places the caller may see (a user restricted to "
                           "regions: theirs, and the sections and crossing points in "
                           "them). Ranked: the code itself, then codes and names that "
                           "begin with q, then those that hold it; then regions, "
                           "sections, crossing points, by code.",
            "parameters": [q, limit],
            "responses": {"200": {"description": "The places, best first.", "content": _json({
                "type": "object", "required": ["q", "numberMatched", "numberReturned",
                                               "places"],
                "properties": {"q": {"type": "string"},
                               "numberMatched": {"type": "integer", "minimum": 0},
                               "numberReturned": {"type": "integer", "minimum": 0},
                               "places": {"type": "array", "items": PLACE}}})},
                          # q or limit out of range, or a NUL character in any
                          # parameter (every endpoint's rule)
                          "422": _ref("responses", "Problem422")}}


AUDIT_RECORD = {
    "type": "object",
    "description": "One write: who, when (the database's clock, UTC), from where, what, "
                   "and the values before and after (a feature as a GeoJSON Feature; null "
                   "for a create's before and a delete's after).",
    "required": ["id", "at", "action", "entity"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "user_id": {"type": "integer", "nullable": True},
        "username": {"type": "string", "nullable": True,
                     "description": "cli:<os user> for command-line writes."},
        "ip": {"type": "string", "nullable": True},
        "method": {"type": "string", "nullable": True},
        "path": {"type": "string", "nullable": True},
        "action": {"type": "string", "description": "create, update, delete, import, "
                                                    "level, password, lock, unlock, "
                                                    "revoke, sign_in, sign_in_failed, "
                                                    "sign_in_refused, sign_out..."},
        "entity": {"type": "string", "description": "A layer, assessment, section, user, "
                                                    "token, session..."},
        "entity_id": {"type": "string", "nullable": True},
        "before": {"type": "object", "nullable": True},
        "after": {"type": "object", "nullable": True},
        "detail": {"type": "object", "nullable": True,
                   "description": "An import's file, SHA-256, source and counts."},
    },
}


def audit_operation(_layer) -> dict:
    text_filter = {name: _query(name, {"type": "string", "maxLength": longest},
                                f"Only records whose {name} is exactly this.")
                   for name, longest in audit.TEXT_FILTERS.items()}
    text_filter["user"]["description"] = "Only records of this user name."
    return {
        "summary": "The audit trail: every write, newest first", "tags": ["service"],
        "description": "Filtered and paged; as CSV (f=csv) the whole filtered selection "
                       "unless limit is given (cells a spreadsheet would run as a formula "
                       "start with ').",
        "parameters": [*text_filter.values(), _ref("parameters", "datetime"),
                       _query("limit", {"type": "integer", "minimum": 1,
                                        "maximum": audit.MAX_LIMIT,
                                        "default": audit.DEFAULT_LIMIT}, "Records per page."),
                       _query("offset", {"type": "integer", "minimum": 0,
                                         "maximum": audit.MAX_OFFSET, "default": 0},
                              "Records to skip."),
                       _query("f", {"type": "string", "enum": list(audit.FORMATS),
                                    "default": audit.FORMATS[0]}, "JSON or CSV.")],
        "responses": {
            "200": {"description": "The records.", "content": {
                JSON_MIME: {"schema": {
                    "type": "object",
                    "required": ["records", "numberMatched", "numberReturned", "links"],
                    "properties": {
                        "records": {"type": "array", "items": AUDIT_RECORD},
                        "numberMatched": {"type": "integer", "minimum": 0},
                        "numberReturned": {"type": "integer", "minimum": 0},
                        "links": {"type": "array", "items": _ref("schemas", "Link")}}}},
                "text/csv": {"schema": {"type": "string"}}}},
            "422": _ref("responses", "Problem422")}}


def analysis_builders() -> dict:
    """Builders of the planner and risk views and of the audit trail, for
    ``openapi.operation_builders``."""
    return {
        audit.audit_log: audit_operation,
        hotspots.hotspot_map: hotspot_map_operation,
        hotspots.emerging_hotspots: emerging_operation,
        hotspots.evaluate_hotspots: evaluate_operation,
        risk.ranked_segments: ranked_segments_operation,
        risk.alerts: alerts_operation,
        risk.create_assessment: create_assessment_operation,
        risk.get_assessment: get_assessment_operation,
        risk.decide_level: decide_level_operation,
        risk.section_history: history_operation,
        risk.section_months: section_months_operation,
        search.search_places: search_operation,
        reports.risk_bulletin: bulletin_operation,
    }


__all__ = ["analysis_builders"]
