"""The ranking of border sections as files: CSV (one row per section) and GeoJSON (the
sections' lines with the same columns as properties).

Both carry what the ranking shows: rank, code, name, the level in force (and the computed
one), risk and its components, incidents and persons, the comparisons with the previous
equal-length period and the same period last year (empty where a partial period is not
compared), the alert, and the reasons: each component's factors, largest share first, as
``factor score/5 (share %)``. The period, its source and what the incidents count are in
the GeoJSON's ``metadata`` and, for the CSV, in the caller's file name and answer.
"""

from __future__ import annotations

import csv
import io

from geo.queries import risk as risk_sql

COLUMNS = ("rank", "code", "name", "level", "computed_level", "decision_justification",
           "risk", "threat", "vulnerability", "impact", "incidents", "persons",
           "previous_period", "change_previous_pct", "same_period_last_year",
           "change_last_year_pct", "alert", "alert_p_value", "touches_hotspot",
           "reasons_threat", "reasons_vulnerability", "reasons_impact")
COMPONENTS = ("threat", "vulnerability", "impact")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _reasons(factors: list[dict]) -> str:
    return "; ".join(f"{f['factor']} {f['score']}/5 ({100 * f['share']:.0f} %)"
                     for f in factors if f["share"] > 0)


def ranking_row(section: dict) -> dict:
    """One section of a ranking (``geo.risk.assessments.evaluate_sections`` with
    ``apply_decisions``) as the export's flat columns (:data:`COLUMNS`)."""
    comparison, alert = section["comparison"], section["alert"]
    decision = section.get("decision")
    return {
        "rank": section["rank"], "code": section["code"], "name": section["name"],
        "level": section["level"],
        "computed_level": section.get("computed_level", section["level"]),
        "decision_justification": decision["justification"] if decision else None,
        **{key: section[key] for key in ("risk", *COMPONENTS, "incidents", "persons")},
        **{key: comparison[key] for key in ("previous_period", "change_previous_pct",
                                            "same_period_last_year",
                                            "change_last_year_pct")},
        "alert": alert["alert"], "alert_p_value": alert["p_value"],
        "touches_hotspot": section["touches_hotspot"],
        **{f"reasons_{c}": _reasons(section["explanation"][c]) for c in COMPONENTS},
    }


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def ranking_csv(sections: list[dict]) -> str:
    """The ranked sections as CSV text (header first, RFC 4180 quoting, in the ranking's
    order); text cells a spreadsheet would run as a formula start with '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for section in sections:
        row = ranking_row(section)
        writer.writerow([_cell(row[column]) for column in COLUMNS])
    return buffer.getvalue()


def ranking_geojson(session, sections: list[dict], metadata: dict) -> dict:
    """The ranked sections as a GeoJSON FeatureCollection (EPSG:4326, 7 decimals), in
    the ranking's order, each with :func:`ranking_row`'s columns; ``metadata`` is kept
    as the collection's (period, source, what is counted, order)."""
    ids = [section["section_id"] for section in sections]
    geometries = {row.id: row.geometry
                  for row in session.execute(risk_sql.SECTION_GEOJSON, {"ids": ids})}
    return {"type": "FeatureCollection", "metadata": metadata,
            "features": [{"type": "Feature", "id": section["section_id"],
                          "geometry": geometries.get(section["section_id"]),
                          "properties": ranking_row(section)} for section in sections]}
