"""The SQL of the CIRAM risk model (``geo.risk``): the sections of a region with their
inputs, incident counts per section and category, stored level decisions and their
history, and what the weekly bulletin reads. Every value is bound; the incident counts
keep to what the bound ``viewer_agency`` may count (``geo.scope``; null: the system).
"""

from __future__ import annotations

from sqlalchemy import text

from geo.scope import VIEWER_PARAMETER, counted_condition, visibility_condition

# Which incidents count, for the viewer agency bound as ``viewer_agency``: what it may
# count (``geo.scope``), every incident when it is null (the system); and which of those
# it does not see in detail (none for the system). The statements below bind it.
_VIEWER = f"CAST(:{VIEWER_PARAMETER} AS text)"
COUNTED = f"({_VIEWER} IS NULL OR {counted_condition('i.')})"
NOT_VISIBLE = f"({_VIEWER} IS NOT NULL AND NOT {visibility_condition('i.')})"
# The one counting rule of a section's incidents (over ``incidents AS i``): each counts
# for its nearest section (one of ``:section_ids``) within ``:corridor_m`` metres, when
# the viewer may count it. The ranking's counts, the same period last year and the
# monthly series share it.
SECTION_COUNTED = ("i.nearest_segment_id = ANY(:section_ids) "
                   f"AND i.segment_distance_m <= :corridor_m AND {COUNTED}")

SECTIONS = text(
    """
    SELECT s.id, s.code, s.name, s.name_ka, s.length_m, s.surveillance_level, s.terrain_class,
           s.region_id, ST_AsBinary(s.geom) AS geom,
           (SELECT ST_Distance(ST_Transform(c.geom, :srid), ST_Transform(s.geom, :srid))
              FROM crossing_points AS c
             ORDER BY c.geom::geography <-> s.geom::geography LIMIT 1) AS crossing_distance_m
      FROM border_segments AS s
     WHERE CAST(:region_id AS integer) IS NULL OR s.region_id = :region_id
     ORDER BY s.id
    """
)

# Incidents per section, period (0 = the assessed one, k = k periods before) and
# category, of those the viewer counts (``not_visible``: how many it does not see).
# Each incident counts once: for its nearest section, inside the corridor.
COUNTS = text(
    f"""
    SELECT i.nearest_segment_id AS section_id,
           CASE WHEN i.occurred_at >= :start THEN 0
                ELSE ceil(extract(epoch FROM (:start - i.occurred_at)) / :period_seconds)::int
           END AS back,
           i.category,
           count(*) AS incidents,
           sum(i.persons_count) AS persons,
           count(*) FILTER (WHERE i.outcome = ANY(:life_outcomes)
                            AND (i.category = ANY(:life_categories)
                                 OR (i.transport_means = ANY(:life_transport)
                                     AND i.category = ANY(:life_transport_categories))))
               AS life_risk,
           count(*) FILTER (WHERE i.detection_method = ANY(:late_detection)
                            OR (i.outcome = ANY(:late_outcomes)
                                AND NOT coalesce(i.detection_method, '')
                                        = ANY(CAST(:late_checked_at AS text[])))) AS late,
           count(*) FILTER (WHERE {NOT_VISIBLE}) AS not_visible
      FROM incidents AS i
     WHERE {SECTION_COUNTED}
       AND i.occurred_at >= :earliest AND i.occurred_at <= :end
     GROUP BY 1, 2, 3
    """
)

LAST_YEAR = text(
    f"""
    SELECT i.nearest_segment_id AS section_id, count(*) AS incidents,
           count(*) FILTER (WHERE {NOT_VISIBLE}) AS not_visible
      FROM incidents AS i
     WHERE {SECTION_COUNTED}
       AND i.occurred_at >= :start AND i.occurred_at <= :end
     GROUP BY 1
    """
)

# Incidents per calendar month (UTC) and category of the sections, of those the viewer
# counts, in ``[:start, :end]``; ``not_visible``: how many of them it does not see.
MONTHLY = text(
    f"""
    SELECT date_trunc('month', i.occurred_at AT TIME ZONE 'UTC') AS month, i.category,
           count(*) AS incidents, count(*) FILTER (WHERE {NOT_VISIBLE}) AS not_visible
      FROM incidents AS i
     WHERE {SECTION_COUNTED}
       AND i.occurred_at >= :start AND i.occurred_at <= :end
     GROUP BY 1, 2
    """
)

CURRENT_DECISIONS = text(
    """
    SELECT DISTINCT ON (segment_id) segment_id, level, justification, decided_at,
           (SELECT username FROM users WHERE users.id = decided_by) AS decided_by
      FROM risk_level_decisions
     WHERE segment_id = ANY(:ids)
     ORDER BY segment_id, decided_at DESC, id DESC
    """
)

HISTORY = text(
    """
    SELECT 'assessment' AS kind, a.id AS assessment_id, a.period_start, a.period_end,
           r.level, r.risk, a.created_at AS at, NULL AS justification,
           coalesce((SELECT username FROM users WHERE users.id = a.created_by),
                    a.inputs->>'produced_by') AS by
      FROM risk_section_results AS r JOIN risk_assessments AS a ON a.id = r.assessment_id
     WHERE r.segment_id = :id
    UNION ALL
    SELECT 'decision', NULL, NULL, NULL, d.level, NULL, d.decided_at, d.justification,
           (SELECT username FROM users WHERE users.id = d.decided_by)
      FROM risk_level_decisions AS d
     WHERE d.segment_id = :id
     ORDER BY at, kind
    """
)

REGION = text(
    """
    SELECT r.id, r.code, r.name_en AS name, r.name_ka, r.provenance,
           ST_XMin(b) AS minx, ST_YMin(b) AS miny, ST_XMax(b) AS maxx, ST_YMax(b) AS maxy
      FROM regions AS r CROSS JOIN LATERAL Box2D(ST_Transform(r.geom, 3857)) AS b
     WHERE r.code = :code
    """
)

# The newest stored assessment of exactly this region and period, with its author (a
# user's name, or for the worker's the ``produced_by`` its inputs name).
STORED = text(
    """
    SELECT a.id, coalesce(u.username, a.inputs->>'produced_by') AS created_by
      FROM risk_assessments AS a LEFT JOIN users AS u ON u.id = a.created_by
     WHERE a.region_id = :region_id AND a.period_start = :start AND a.period_end = :end
     ORDER BY a.created_at DESC, a.id DESC
     LIMIT 1
    """
)

# Incidents of the period attributed to the region's sections that the viewer counts,
# by provenance: tells the reader whether the bulletin rests on synthetic (demo) records.
PROVENANCE = text(
    f"""
    SELECT i.provenance, count(*) AS incidents
      FROM incidents AS i JOIN border_segments AS s ON s.id = i.nearest_segment_id
     WHERE s.region_id = :region_id AND i.segment_distance_m <= :corridor_m
       AND i.occurred_at >= :start AND i.occurred_at <= :end AND {COUNTED}
     GROUP BY 1
    """
)

# Where the bulletin's map labels its region and sections: a point on the region's
# surface and the middle of each of its sections, in EPSG:3857 metres (the map's CRS).
MAP_LABELS = text(
    """
    SELECT 'region' AS kind, r.code, ST_X(p) AS x, ST_Y(p) AS y
      FROM regions AS r CROSS JOIN LATERAL ST_Transform(ST_PointOnSurface(r.geom), 3857) AS p
     WHERE r.id = :region_id
    UNION ALL
    SELECT 'section', s.code, ST_X(p), ST_Y(p)
      FROM border_segments AS s
           CROSS JOIN LATERAL ST_Transform(ST_LineInterpolatePoint(
               ST_LineMerge(s.geom), 0.5), 3857) AS p
     WHERE s.region_id = :region_id AND GeometryType(ST_LineMerge(s.geom)) = 'LINESTRING'
     ORDER BY 1, 2
    """
)

SECTION_PROVENANCE = text(
    "SELECT provenance, count(*) FROM border_segments WHERE region_id = :region_id GROUP BY 1"
)

# The first and last incident time the viewer may count (null, null without any): the
# data's extent, which decides the default analysis period (geo.products.periods).
INCIDENT_EXTENT = text(
    f"""
    SELECT min(i.occurred_at) AS first, max(i.occurred_at) AS last
      FROM incidents AS i
     WHERE {COUNTED}
    """
)

# The sections' lines as GeoJSON geometries (EPSG:4326), for the ranking's export.
SECTION_GEOJSON = text(
    """
    SELECT id, ST_AsGeoJSON(geom, 7)::json AS geometry
      FROM border_segments
     WHERE id = ANY(:ids)
    """
)

# The regions some of whose sections no stored assessment covers: those whose levels the
# map services compute live (geo.risk.levels).
REGIONS_NOT_ASSESSED = text(
    """
    SELECT DISTINCT r.code
      FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id
     WHERE NOT EXISTS (SELECT 1 FROM risk_section_results AS x WHERE x.segment_id = s.id)
     ORDER BY r.code
    """
)
