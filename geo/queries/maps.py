"""The SQL of the map renderer's vector layers: mapnik postgis datasource subqueries.

Only mapnik's own tokens vary: ``!bbox!`` and the variables ``!@start!``, ``!@end!``
(the closed window), ``!@region!`` (a region id, 0: none), ``!@scope!`` (comma-joined
region ids, '' unrestricted), ``!@agency!`` (the viewer's agency code; '' the
view every agency shares; '*' unrestricted), ``!@levels!`` (JSON section id ->
level), ``!@live!`` (JSON section id -> live level, ``geo.risk.levels``), ``!@categories!``
and ``!@outcomes!`` (comma-joined words of the vocabularies),
which mapnik quotes and ``geo.maps.render`` formats from checked values.
"""

from __future__ import annotations

from geo.layers import CROSSINGS, INCIDENTS, REGIONS, SEGMENTS, Layer
from geo.scope import visibility_condition

# A section's level on the map (geo.risk.levels): a supervisor's decision, else the
# latest stored assessment's level, else the live level the request gives (``live``: a
# JSON object section id -> level), else 'none'; and where it came from.
_DECISION_LEVEL = """(SELECT d.level FROM risk_level_decisions d WHERE d.segment_id = s.id
              ORDER BY d.decided_at DESC, d.id DESC LIMIT 1)"""
_STORED_LEVEL = """(SELECT r.level FROM risk_section_results r
                JOIN risk_assessments a ON a.id = r.assessment_id
               WHERE r.segment_id = s.id ORDER BY a.created_at DESC, a.id DESC LIMIT 1)"""


def segment_level_sql(live: str) -> str:
    """The level of section ``s`` with the live levels ``live`` (an SQL jsonb
    expression: a bound parameter or mapnik's variable)."""
    return (f"COALESCE({_DECISION_LEVEL}, {_STORED_LEVEL}, {live} ->> s.id::text, "
            "'none')")


def segment_level_source_sql(live: str) -> str:
    """Where :func:`segment_level_sql`'s level comes from: 'decision', 'assessment',
    'live' or 'none'."""
    return (f"CASE WHEN {_DECISION_LEVEL} IS NOT NULL THEN 'decision' "
            f"WHEN {_STORED_LEVEL} IS NOT NULL THEN 'assessment' "
            f"WHEN {live} ? s.id::text THEN 'live' ELSE 'none' END")


SEGMENT_LEVEL_SQL = segment_level_sql("CAST(!@live! AS jsonb)")

# The region scope (geo.scope): '' is unrestricted (a constant the planner folds away),
# else comma-joined integer ids formatted by geo.maps.render.
def scope_sql(layer: Layer, alias: str = "") -> str:
    """``geo.scope``'s condition in mapnik's form (``alias``: the table's, e.g. "s.")."""
    return (f"(CAST(!@scope! AS text) = '' OR {alias}{layer.scope_column} = ANY(CAST("
            "string_to_array(CAST(!@scope! AS text), ',') AS integer[])))")


# The agencies' rule (geo.scope): '*' sees every record, else what that agency sees.
_VISIBLE_SQL = ("(CAST(!@agency! AS text) = '*' OR "
                + visibility_condition(viewer="CAST(!@agency! AS text)") + ")")


_LAYER_SQL = {
    "regions": "(SELECT id, code, name_en, geom FROM regions WHERE geom && !bbox! AND "
    + scope_sql(REGIONS) + ") AS t",
    "border_segments": "(SELECT s.id, s.code, s.geom, " + SEGMENT_LEVEL_SQL
    + " AS level FROM border_segments s WHERE s.geom && !bbox! AND "
    + scope_sql(SEGMENTS, "s.") + ") AS t",
    "border_segments/given": "(SELECT s.id, s.code, s.geom, COALESCE("
    "CAST(!@levels! AS jsonb) ->> s.id::text, 'none') AS level FROM border_segments s "
    "WHERE s.geom && !bbox! AND " + scope_sql(SEGMENTS, "s.") + ") AS t",
    "crossing_points": "(SELECT id, code, kind, geom FROM crossing_points "
    "WHERE geom && !bbox! AND " + scope_sql(CROSSINGS) + ") AS t",
    "incidents": "(SELECT id, category, geom FROM incidents WHERE geom && !bbox! "
    "AND " + scope_sql(INCIDENTS) + " AND " + _VISIBLE_SQL + " "
    "AND occurred_at >= CAST(!@start! AS timestamptz) "
    "AND occurred_at <= CAST(!@end! AS timestamptz) "
    "AND (CAST(!@region! AS integer) = 0 OR region_id = CAST(!@region! AS integer)) "
    "AND (CAST(!@categories! AS text) = '' "
    "OR category = ANY(string_to_array(CAST(!@categories! AS text), ','))) "
    "AND (CAST(!@outcomes! AS text) = '' "
    "OR outcome = ANY(string_to_array(CAST(!@outcomes! AS text), ',')))) AS t",
}




def map_layer_sql(name: str, variant: str = "") -> str:
    """The datasource subquery of map layer ``name`` (``variant`` "given": the border
    sections coloured by the levels a request gives, as the bulletin's map)."""
    return _LAYER_SQL[f"{name}/given" if variant == "given" else name]
