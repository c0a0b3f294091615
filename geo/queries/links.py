"""What is derived from the geometry of what is written: incidents' links to
their region, nearest section and crossing point (set-based, over a grid of
``LINK_CELL_M`` cells), sections' and crossing points' regions, sections' lengths.
Distances and lengths in metres in the analysis CRS ``analysis_srid``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text

from geo.queries.database import local_settings, without_jit

_REFRESH_SEGMENT_LENGTHS = text(
    """
    UPDATE border_segments
       SET length_m = ST_Length(ST_Transform(geom, :srid))
     WHERE (CAST(:all_rows AS boolean) OR id = ANY(:ids))
    """
)

# The derived links of incidents: the region that contains the point (the lowest id if
# several do), the nearest border section and crossing point, with distances in metres,
# all in the analysis CRS (``:srid``), so that they agree with segment lengths.
#
# A nearest-neighbour lookup per point (KNN in a LATERAL) costs 10-35 µs a row; instead
# the points are binned into square cells of LINK_CELL_M metres (analysis CRS) and most of
# the work is done once per cell: a cell's centre c has a nearest section at distance D,
# and every point p of the cell lies within h = LINK_CELL_M / sqrt(2) of c, so the
# section nearest to p is at most D + h from p and D + 2h from c (triangle inequality).
# Only those candidates are measured per point, exactly. Likewise a cell covered by one
# region (a 10 m margin around it absorbs the curvature of its edges in EPSG:4326) gives
# its points that region; points of the other cells are tested against the regions
# their cell touches, clipped to the cell. Temporary tables (dropped at commit) hold each
# step, analysed so the planner sizes the joins right.
LINK_CELL_M = 2000.0
_CELL_MARGIN_M = 10.0
_LINK_WORK_MEM = "256MB"
INCIDENT_LINK_COLUMNS = ("region_id", "nearest_segment_id", "segment_distance_m",
                         "nearest_crossing_id", "crossing_distance_m")
INCIDENT_LINKS = "incident_links"  # the temporary table incident_links() fills
# What an incident's links can be computed from: a whitelisted source of (key, geom).
_LINK_SOURCES = {
    "incidents": "SELECT id AS key, geom FROM incidents "
                 "WHERE CAST(:all_rows AS boolean) OR id = ANY(:ids)",
}
_LINK_STEPS = (
    """
    CREATE TEMP TABLE link_points ON COMMIT DROP AS
    SELECT key, geom, pgeom, floor(ST_X(pgeom) / :cell) AS cx, floor(ST_Y(pgeom) / :cell) AS cy
      FROM (SELECT src.key, src.geom, ST_Transform(src.geom, :srid) AS pgeom
              FROM ({source}) AS src) AS p
    """,
    "ANALYZE link_points (key, cx, cy)",  # statistics of a geometry column cost more
    """
    CREATE TEMP TABLE link_cells ON COMMIT DROP AS
    SELECT cx, cy,
           ST_SetSRID(ST_MakePoint((cx + 0.5) * :cell, (cy + 0.5) * :cell), :srid) AS centre,
           ST_Transform(ST_MakeEnvelope(cx * :cell - :margin, cy * :cell - :margin,
                                        (cx + 1) * :cell + :margin, (cy + 1) * :cell + :margin,
                                        :srid), 4326) AS box
      FROM (SELECT DISTINCT cx, cy FROM link_points) AS c
    """,
    """
    CREATE TEMP TABLE link_segments ON COMMIT DROP AS
    SELECT id, ST_Transform(geom, :srid) AS geom FROM border_segments
    """,
    "CREATE INDEX ON link_segments USING gist (geom)",
    """
    CREATE TEMP TABLE link_crossings ON COMMIT DROP AS
    SELECT id, ST_Transform(geom, :srid) AS geom FROM crossing_points
    """,
    "CREATE INDEX ON link_crossings USING gist (geom)",
    "ANALYZE link_cells",
    "ANALYZE link_segments",
    "ANALYZE link_crossings",
    # candidates of each cell: within D + 2h of its centre
    *(f"""
    CREATE TEMP TABLE link_{kind}_candidates ON COMMIT DROP AS
    SELECT c.cx, c.cy, s.id, s.geom
      FROM link_cells AS c
      CROSS JOIN LATERAL (SELECT ST_Distance(n.geom, c.centre) AS d FROM link_{kind}s AS n
                           ORDER BY n.geom <-> c.centre LIMIT 1) AS nearest
      JOIN link_{kind}s AS s ON ST_DWithin(s.geom, c.centre, nearest.d + :cell * sqrt(2) + 1)
    """ for kind in ("segment", "crossing")),  # fixed names, no input
    # Regions a cell touches, clipped to the cell (a point-in-polygon test against a
    # few vertices instead of the whole region); "whole" when one region covers the
    # cell and no other touches it.
    """
    CREATE TEMP TABLE link_region_candidates ON COMMIT DROP AS
    SELECT cx, cy, id, whole, CASE WHEN whole THEN NULL ELSE ST_Intersection(geom, box) END AS geom
      FROM (SELECT c.cx, c.cy, c.box, r.id, r.geom,
                   count(*) OVER (PARTITION BY c.cx, c.cy) = 1 AND ST_CoveredBy(c.box, r.geom)
                       AS whole
              FROM link_cells AS c JOIN regions AS r ON ST_Intersects(r.geom, c.box)) AS t
    """,
    "ANALYZE link_segment_candidates",
    "ANALYZE link_crossing_candidates",
    "ANALYZE link_region_candidates",
    # (run with merge joins off: with them the planner sorted every point by cell first)
    f"""
    CREATE TEMP TABLE {INCIDENT_LINKS} ON COMMIT DROP AS
    WITH nearest_segment AS (
        SELECT DISTINCT ON (p.key) p.key, c.id, ST_Distance(c.geom, p.pgeom) AS distance_m
          FROM link_points AS p JOIN link_segment_candidates AS c USING (cx, cy)
         ORDER BY p.key, distance_m, c.id
    ), nearest_crossing AS (
        SELECT DISTINCT ON (p.key) p.key, c.id, ST_Distance(c.geom, p.pgeom) AS distance_m
          FROM link_points AS p JOIN link_crossing_candidates AS c USING (cx, cy)
         ORDER BY p.key, distance_m, c.id
    ), region AS (
        SELECT DISTINCT ON (p.key) p.key, c.id
          FROM link_points AS p JOIN link_region_candidates AS c USING (cx, cy)
         WHERE c.whole OR ST_Intersects(c.geom, p.geom)
         ORDER BY p.key, c.id
    )
    SELECT p.key, r.id AS region_id, s.id AS nearest_segment_id,
           s.distance_m AS segment_distance_m, x.id AS nearest_crossing_id,
           x.distance_m AS crossing_distance_m
      FROM link_points AS p
      LEFT JOIN region AS r USING (key)
      LEFT JOIN nearest_segment AS s USING (key)
      LEFT JOIN nearest_crossing AS x USING (key)
    """,
    f"ANALYZE {INCIDENT_LINKS} (key)",
)
_LINK_TEMP_TABLES = ("link_points", "link_cells", "link_segments", "link_crossings",
                     "link_segment_candidates", "link_crossing_candidates",
                     "link_region_candidates", INCIDENT_LINKS)

_STORED_LINKS = ", ".join("t." + c for c in INCIDENT_LINK_COLUMNS)
_NEW_LINKS = ", ".join("l." + c for c in INCIDENT_LINK_COLUMNS)
_UPDATE_INCIDENT_LINKS = text(
    f"""
    UPDATE incidents AS t
       SET ({', '.join(INCIDENT_LINK_COLUMNS)}) = ({_NEW_LINKS})
      FROM {INCIDENT_LINKS} AS l
     WHERE t.id = l.key AND ({_STORED_LINKS}) IS DISTINCT FROM ({_NEW_LINKS})
    """
)

def _id_params(ids: Sequence[int] | None) -> dict:
    return {"all_rows": ids is None, "ids": list(ids or [])}


def refresh_segment_lengths(session, analysis_srid: int, ids: Sequence[int] | None = None) -> int:
    """Recompute ``border_segments.length_m`` (metres in ``analysis_srid``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    analysis_srid : int
        EPSG code of the metric CRS, e.g. 32638 (UTM 38N).
    ids : sequence of int, optional
        Segments to update; all segments when omitted.

    Returns
    -------
    int
        Number of segments updated.
    """
    result = session.execute(
        _REFRESH_SEGMENT_LENGTHS, {"srid": analysis_srid, **_id_params(ids)}
    )
    return result.rowcount


@contextmanager
def incident_links(session, analysis_srid: int, source: str = "incidents",
                   params: dict | None = None) -> Iterator[str]:
    """Compute the derived links of a set of points into a temporary table.

    Set-based SQL (see the comment on ``LINK_CELL_M``): the region containing each point
    (lowest id if several), the nearest border section and crossing point (lowest id on
    a tie) and the distances to them, metres in the analysis CRS. Yields the table's
    name (``key`` plus ``INCIDENT_LINK_COLUMNS``, one row per point); the temporary
    tables are dropped on leaving.

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    analysis_srid : int
        EPSG code of the metric CRS, e.g. 32638.
    source : str
        ``"incidents"`` (rows chosen by ``params`` ``all_rows`` and ``ids``), or a
        trusted SELECT, built from whitelisted identifiers only, giving ``key`` and
        ``geom`` (Point, EPSG:4326).
    params : dict, optional
        Values bound in ``source``.
    """
    sql = _LINK_SOURCES.get(source, source)
    values = {"srid": analysis_srid, "cell": LINK_CELL_M, "margin": _CELL_MARGIN_M,
              **(params or {})}
    _drop_link_tables(session)
    # Memory for the sorts and hashes of a million points, local to the transaction.
    with without_jit(session), local_settings(session, work_mem=_LINK_WORK_MEM):
        for step in _LINK_STEPS:
            if step.lstrip().startswith(f"CREATE TEMP TABLE {INCIDENT_LINKS} "):
                with local_settings(session, enable_mergejoin="off"):
                    session.execute(text(step), values)
            else:
                session.execute(text(step.replace("{source}", sql)), values)
    for table in _LINK_TEMP_TABLES[:-1]:
        session.execute(text(f"DROP TABLE {table}"))
    yield INCIDENT_LINKS
    _drop_link_tables(session)


def _drop_link_tables(session) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {', '.join(_LINK_TEMP_TABLES)}"))


def link_incidents(session, analysis_srid: int, ids: Sequence[int] | None = None) -> int:
    """Derive each incident's region, nearest segment and nearest crossing point.

    Distances (``segment_distance_m``, ``crossing_distance_m``) are metres in the
    analysis CRS ``analysis_srid``. Set-based SQL (:func:`incident_links`) for one
    incident or a million; only rows whose links change are written.

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    analysis_srid : int
        EPSG code of the metric CRS, e.g. 32638.
    ids : sequence of int, optional
        Incidents to link; all incidents when omitted.

    Returns
    -------
    int
        Number of incidents whose links changed.
    """
    with incident_links(session, analysis_srid, "incidents", _id_params(ids)):
        return session.execute(_UPDATE_INCIDENT_LINKS).rowcount


_LINK_CROSSING_REGIONS = text(
    """
    UPDATE crossing_points AS c
       SET region_id = (SELECT r.id FROM regions AS r WHERE ST_Intersects(r.geom, c.geom)
                         ORDER BY r.id LIMIT 1)
     WHERE (CAST(:all_rows AS boolean) OR c.id = ANY(:ids))
    """
)

# A section belongs to the region holding the longest part of it.
_LINK_SEGMENT_REGIONS = text(
    """
    UPDATE border_segments AS s
       SET region_id = (SELECT r.id FROM regions AS r WHERE ST_Intersects(r.geom, s.geom)
                         ORDER BY ST_Length(ST_Intersection(r.geom, s.geom)) DESC, r.id
                         LIMIT 1)
     WHERE (CAST(:all_rows AS boolean) OR s.id = ANY(:ids))
    """
)


def derive_links(session, layer: str, analysis_srid: int, ids: Sequence[int]) -> None:
    """Recompute what is derived from the rows ``ids`` just written to ``layer``.

    Incidents get their links; crossing points and sections their region (sections also
    their length, metres in ``analysis_srid``). A change to sections, crossing points or
    regions can change any incident's nearest feature or region, so all incidents are
    relinked then (one set-based statement).
    """
    if layer == "incidents":
        link_incidents(session, analysis_srid, ids)
        return
    if layer == "crossing_points":
        session.execute(_LINK_CROSSING_REGIONS, _id_params(ids))
    elif layer == "border_segments":
        session.execute(_LINK_SEGMENT_REGIONS, _id_params(ids))
        refresh_segment_lengths(session, analysis_srid, ids)
    elif layer == "regions":
        session.execute(_LINK_CROSSING_REGIONS, _id_params(None))
        session.execute(_LINK_SEGMENT_REGIONS, _id_params(None))
    else:
        raise KeyError(layer)
    link_incidents(session, analysis_srid)


