"""Spatial SQL of BorderRisk as named, parameterised functions.

Each function takes a SQLAlchemy ``Session`` (or ``Connection``) and binds every value;
identifiers are never built from input. Distances and lengths are in metres, measured
in the analysis CRS given as an EPSG code (``analysis_srid``, e.g. 32638).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from geo.layers import MAP_LAYERS, Layer
from geo.scope import scope_condition

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

_GET_SETTING = text("SELECT current_setting(:name)")
_SET_SETTING = text("SELECT set_config(:name, :value, true)")


@contextmanager
def local_settings(session, **settings: str) -> Iterator[None]:
    """Run the statements inside with these server settings, then restore them.

    Local to the transaction either way (``set_config(..., true)``).
    """
    previous = {name: session.execute(_GET_SETTING, {"name": name}).scalar_one()
                for name in settings}
    for name, value in settings.items():
        session.execute(_SET_SETTING, {"name": name, "value": value})
    yield
    # Not on an error: the statement failed, and rolling back undoes set_config too.
    for name, value in previous.items():
        session.execute(_SET_SETTING, {"name": name, "value": value})


@contextmanager
def without_jit(session) -> Iterator[None]:
    """Run the statements inside with PostgreSQL's JIT off, then restore the setting.

    The per-row lookups of the link statements cost many times the planner's
    estimate; over ~10,000 rows JIT kicks in and LLVM's inlining and optimisation of
    PostGIS calls made ``link_incidents`` of 20,000 incidents take minutes instead of a
    second (PostgreSQL 15, PostGIS 3.3). Local to the transaction either way.
    """
    with local_settings(session, jit="off"):
        yield


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


_POSTGIS_VERSION = text("SELECT postgis_lib_version()")


def data_versions(session) -> dict[str, int]:
    """Current data version per table (bumped by a trigger on every change): the key of
    every cache of derived data (hot-spot maps, map points, tiles' ETags)."""
    rows = session.execute(text("SELECT table_name, version FROM data_versions")).all()
    return {row.table_name: row.version for row in rows}


def postgis_version(session) -> str:
    """Version string of the PostGIS library in the connected database."""
    return session.execute(_POSTGIS_VERSION).scalar_one()


__all__ = ["link_incidents", "postgis_version", "refresh_segment_lengths"]


@dataclass
class FeatureQuery:
    """Filters, order and page of a list of features (all optional).

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326, or (min x, min y,
    max x, max y) in ``bbox_srid`` when that is another EPSG code; ``start``/``end``
    bound the layer's time field (closed interval, timezone-aware); ``categories``,
    ``outcomes`` and ``statuses`` keep features with any of those values (empty: no
    filter); ``region_id`` keeps features linked to that region; ``equals`` maps
    readable properties to the value they must equal (OGC API property filters);
    ``sort`` is a list of (field, descending). ``scope_region_ids`` is the caller's
    region scope (``app.auth.scope``): when set, only features of those regions (regions
    by their own id, the other layers by ``region_id``; unlinked features are outside
    every scope); None means every region.
    """

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    region_id: int | None = None
    scope_region_ids: frozenset[int] | None = None
    ids: list[int] | None = None
    equals: dict[str, object] = field(default_factory=dict)
    bbox_srid: int = 4326
    sort: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = 100
    offset: int = 0


def _where(layer: Layer, query: FeatureQuery) -> tuple[str, dict]:
    """WHERE clause (whitelisted identifiers only) and its bound values."""
    conditions, params = ["true"], {}
    if query.bbox is not None and query.bbox_srid != 4326:
        # The box's edges, densified (1/64 of its width) so that they stay edges
        # when transformed, as EPSG:4326 geometry for the index.
        conditions.append(
            "ST_Intersects(geom, ST_Transform(ST_Segmentize(ST_MakeEnvelope("
            ":minx, :miny, :maxx, :maxy, :bbox_srid), (:maxx - :minx) / 64.0 + 1e-9), 4326))")
        params.update(zip(("minx", "miny", "maxx", "maxy"), query.bbox, strict=True))
        params["bbox_srid"] = query.bbox_srid
    elif query.bbox is not None:
        conditions.append("geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) AND "
                          "ST_Intersects(geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
        params.update(zip(("minx", "miny", "maxx", "maxy"), query.bbox, strict=True))
    if layer.time_field and query.start is not None:
        conditions.append(f"{layer.time_field} >= :start")
        params["start"] = query.start
    if layer.time_field and query.end is not None:
        conditions.append(f"{layer.time_field} <= :end")
        params["end"] = query.end
    if query.categories:
        conditions.append("category = ANY(:categories)")
        params["categories"] = list(query.categories)
    if query.outcomes:
        conditions.append("outcome = ANY(:outcomes)")
        params["outcomes"] = list(query.outcomes)
    if query.statuses:
        conditions.append("status = ANY(:statuses)")
        params["statuses"] = list(query.statuses)
    if query.region_id is not None:
        conditions.append("region_id = :region_id")
        params["region_id"] = query.region_id
    if query.scope_region_ids is not None:
        conditions.append(scope_condition(layer))
        params["scope_region_ids"] = sorted(query.scope_region_ids)
    if query.ids is not None:
        conditions.append("id = ANY(:ids)")
        params["ids"] = list(query.ids)
    for number, (name, value) in enumerate(sorted(query.equals.items())):
        layer.field(name)  # KeyError unless a readable property: identifiers whitelisted
        conditions.append(f"{name} = :equals_{number}")
        params[f"equals_{number}"] = value
    return " AND ".join(conditions), params


def _order(layer: Layer, query: FeatureQuery) -> str:
    sort = query.sort or [(name.lstrip("-"), name.startswith("-"))
                          for name in layer.default_sort]
    if all(name != "id" for name, _ in sort):
        sort = [*sort, ("id", False)]  # a total order, so pages never overlap
    for name, _ in sort:
        if name not in layer.sortable:
            raise KeyError(name)
    return ", ".join(f"{name} {'DESC' if desc else 'ASC'}" for name, desc in sort)


def _page(query: FeatureQuery) -> tuple[str, dict]:
    if query.limit is None:
        return "OFFSET :offset", {"offset": query.offset}
    return "LIMIT :limit OFFSET :offset", {"limit": query.limit, "offset": query.offset}


# Coordinates with 15 decimals: doubles survive the GeoJSON round trip unchanged.
_FEATURE_JSON = """json_build_object(
    'type', 'Feature',
    'id', p.id,
    'geometry', ST_AsGeoJSON(p.geom, 15)::json,
    'properties', to_jsonb(p) - 'geom' - 'id')"""

_FEATURES_SQL = """
WITH page AS (
    SELECT id, {columns}, geom FROM {table} WHERE {where} ORDER BY {order} {page}
)
SELECT json_build_object(
         'type', 'FeatureCollection',
         'numberMatched', (SELECT count(*) FROM {table} WHERE {where}),
         'numberReturned', (SELECT count(*) FROM page),
         'features', COALESCE(
            (SELECT json_agg({feature} ORDER BY {order})
               FROM page AS p),
            '[]'::json))::text
"""


def features_geojson(session, layer: Layer, query: FeatureQuery) -> str:
    """A GeoJSON FeatureCollection (text) of ``layer`` filtered by ``query``.

    Coordinates are EPSG:4326 (RFC 7946). The collection carries ``numberMatched`` (all
    features that pass the filters) and ``numberReturned`` (this page); every feature
    carries ``id`` and its writable and derived properties.

    Raises
    ------
    KeyError
        A sort field the layer does not have.
    """
    where, params = _where(layer, query)
    page, page_params = _page(query)
    statement = _FEATURES_SQL.format(
        columns=", ".join(layer.readable_names), table=layer.table, where=where,
        order=_order(layer, query), page=page, feature=_FEATURE_JSON,
    )
    return session.execute(text(statement), {**params, **page_params}).scalar_one()


def feature_geojson(session, layer: Layer, feature_id: int,
                    scope_region_ids: frozenset[int] | None = None) -> str | None:
    """One feature as GeoJSON text (as in :func:`features_geojson`), or None; None too
    when ``scope_region_ids`` is given and the feature is outside it (see
    :class:`FeatureQuery`)."""
    where, params = _where(layer, FeatureQuery(ids=[feature_id],
                                               scope_region_ids=scope_region_ids))
    statement = text(
        f"SELECT {_FEATURE_JSON}::text FROM (SELECT id, {', '.join(layer.readable_names)}, "
        f"geom FROM {layer.table} WHERE {where}) AS p"
    )
    return session.execute(statement, params).scalar_one_or_none()


def iter_feature_rows(session, layer: Layer, query: FeatureQuery,
                      batch_size: int = 5000) -> Iterator[dict]:
    """Rows (dicts with ``id``, the properties and ``geometry`` as WKB bytes) in order.

    Streams with a server-side cursor: memory stays bounded for any number of rows.
    """
    where, params = _where(layer, query)
    page, page_params = _page(query)
    statement = text(
        f"SELECT id, {', '.join(layer.readable_names)}, ST_AsBinary(geom) AS geometry "
        f"FROM {layer.table} WHERE {where} ORDER BY {_order(layer, query)} {page}"
    )
    # Options on the statement, not the connection: a shared connection stays as it was.
    result = session.execute(
        statement.execution_options(stream_results=True, max_row_buffer=batch_size),
        {**params, **page_params},
    )
    for row in result.mappings():
        yield dict(row)


def region_id_for_code(session, code: str) -> int | None:
    """Id of the region with this code, or None."""
    return session.execute(
        text("SELECT id FROM regions WHERE code = :code"), {"code": code}
    ).scalar_one_or_none()


def delete_feature(session, layer: Layer, feature_id: int, analysis_srid: int) -> bool:
    """Delete one feature; False when there is no such id.

    Rows that pointed to a deleted section, crossing point or region lose the link
    (foreign keys set it NULL) and are linked again to what is now nearest.
    """
    deleted = session.execute(
        text(f"DELETE FROM {layer.table} WHERE id = :id RETURNING id"), {"id": feature_id}
    ).scalar_one_or_none()
    if deleted is not None and layer.name != "incidents":
        derive_links(session, layer.name, analysis_srid, [])
    return deleted is not None


# ------------------------------------------------------------------ OGC API Features pages

# One pass over the matching rows gives both the page's ids and numberMatched (a window
# count before LIMIT/OFFSET); only ids are sorted, the page's rows are then fetched by
# id. A separate count(*) would read every matching row's heap block a second time:
# at 50,000 matching incidents out of 1,000,000 that doubled the time of a request.
_PAGE_SQL = """
WITH ids AS (
    SELECT id, count(*) OVER () AS matched FROM {table} WHERE {where}
     ORDER BY {order} {page}
), page AS (
    SELECT id, {columns}, geom, matched FROM ids JOIN {table} USING (id)
)
SELECT count(*) AS returned, max(matched) AS matched,
       COALESCE(json_agg(json_build_object(
           'type', 'Feature',
           'id', p.id,
           'geometry', ST_AsGeoJSON({geometry}, :decimals)::json,
           'properties', json_build_object({properties})) ORDER BY {order}), '[]')::text
  FROM page AS p
"""
_COUNT_SQL = "SELECT count(*) FROM {table} WHERE {where}"


def _output_geometry(srid: int, swap_axes: bool) -> str:
    """SQL of ``p.geom`` in ``srid`` (an int, from a whitelist), axes swapped if asked."""
    geometry = "p.geom" if srid == 4326 else f"ST_Transform(p.geom, {int(srid)})"
    return f"ST_FlipCoordinates({geometry})" if swap_axes else geometry


@dataclass
class FeaturePage:
    """One page of features: ``features`` is the JSON text of the array of Features."""

    number_matched: int
    number_returned: int
    features: str


def feature_page(session, layer: Layer, query: FeatureQuery, srid: int = 4326,
                 swap_axes: bool = False, decimals: int = 15) -> FeaturePage:
    """A page of ``layer``'s features as GeoJSON text made by the database.

    No feature becomes a Python object: PostgreSQL writes the array of Features
    (``json_agg``), the caller wraps it. ``numberMatched`` comes from the same pass
    over the matching rows (counted apart only for a page past the end).

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    layer : Layer
        What to read; its table and field names are trusted identifiers.
    query : FeatureQuery
        Filters, order and page.
    srid : int
        EPSG code of the output coordinates (4326 degrees, or a projected CRS in
        metres); the caller whitelists it.
    swap_axes : bool
        Write (y, x), e.g. (lat, lon) for EPSG:4326 in its authority axis order.
    decimals : int
        Decimals of the coordinates (15 for degrees keeps doubles; 3 is 1 mm in metres).

    Raises
    ------
    KeyError
        A sort or filter field the layer does not have.
    """
    where, params = _where(layer, query)
    page, page_params = _page(query)
    properties = ", ".join(f"'{name}', p.{name}" for name in layer.readable_names)
    statement = _PAGE_SQL.format(
        columns=", ".join(layer.readable_names), table=layer.table, where=where,
        order=_order(layer, query), page=page, geometry=_output_geometry(srid, swap_axes),
        properties=properties,
    )
    returned, matched, features = session.execute(
        text(statement), {**params, **page_params, "decimals": decimals}).one()
    if matched is None:  # an empty page: none match, or the offset is past the end
        matched = 0 if not query.offset else session.execute(
            text(_COUNT_SQL.format(table=layer.table, where=where)), params).scalar_one()
    return FeaturePage(matched, returned, features)


_EXTENT_SQL = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
  FROM (SELECT ST_Extent(geom) AS e FROM {table} WHERE {where}) AS x
"""


def layer_extent(session, layer: Layer, scope_region_ids: frozenset[int] | None = None
                 ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of ``layer``'s features (EPSG:4326), or None;
    of the features in ``scope_region_ids`` only when given (see :class:`FeatureQuery`)."""
    where, params = _where(layer, FeatureQuery(scope_region_ids=scope_region_ids))
    row = session.execute(text(_EXTENT_SQL.format(table=layer.table, where=where)),
                          params).one()
    return None if row[0] is None else tuple(float(v) for v in row)


_TIME_EXTENT_SQL = "SELECT min({field}), max({field}) FROM {table} WHERE {where}"


def layer_time_extent(session, layer: Layer, scope_region_ids: frozenset[int] | None = None
                      ) -> tuple[datetime, datetime] | None:
    """(first, last) of ``layer``'s time field, or None (no time field or no rows); of
    the features in ``scope_region_ids`` only when given (see :class:`FeatureQuery`)."""
    if layer.time_field is None:
        return None
    where, params = _where(layer, FeatureQuery(scope_region_ids=scope_region_ids))
    first, last = session.execute(text(_TIME_EXTENT_SQL.format(
        field=layer.time_field, table=layer.table, where=where)), params).one()
    return None if first is None else (first, last)


def feature_filter(layer: Layer, query: FeatureQuery) -> tuple[str, dict]:
    """The WHERE clause of ``query``'s filters on ``layer`` (whitelisted identifiers)
    and its bound values, for statements built elsewhere (vector tiles)."""
    return _where(layer, query)


# ------------------------------------------------------------------ WMS GetFeatureInfo

# The table and the properties (``MapFacet.info``) come from the catalogue, geo.layers:
# identifiers are its constants only.
_FEATURE_INFO_SQL = """
SELECT {columns}, ST_AsGeoJSON(geom, 7) AS geometry_json
  FROM {table}
 WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
   AND ST_Intersects(geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
   {time_filter}{scope_filter}
 ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), id
 LIMIT :limit
"""
_FEATURE_INFO_TIME = """
   AND occurred_at >= COALESCE(CAST(:start AS timestamptz), '-infinity')
   AND occurred_at <= COALESCE(CAST(:end AS timestamptz), 'infinity')
   AND (CAST(:region_id AS integer) IS NULL OR region_id = CAST(:region_id AS integer))
   AND (cardinality(CAST(:categories AS text[])) = 0
        OR category = ANY(CAST(:categories AS text[])))
   AND (cardinality(CAST(:outcomes AS text[])) = 0 OR outcome = ANY(CAST(:outcomes AS text[])))
"""


def features_at_point(session, map_layer: str, lon: float, lat: float,
                      envelope: tuple[float, float, float, float], limit: int,
                      start: datetime | None = None, end: datetime | None = None,
                      region_id: int | None = None, categories=(),
                      outcomes=(), scope_region_ids: frozenset[int] | None = None
                      ) -> list[dict]:
    """Features of a map layer near a clicked point (WMS GetFeatureInfo), nearest first.

    Parameters
    ----------
    map_layer : str
        A queryable layer of ``geo.layers.MAP_LAYERS``: 'regions', 'border_segments',
        'crossing_points' or 'incidents'.
    lon, lat : float
        The point, EPSG:4326 degrees.
    envelope : tuple of float
        (min lon, min lat, max lon, max lat): the search box, the clicked pixel grown by
        the tolerance; features must intersect it.
    limit : int
        Most features returned (FEATURE_COUNT).
    start, end : datetime, optional
        UTC closed window [start, end] of ``occurred_at`` (incidents only).
    region_id : int, optional
        Incidents of this region only.
    categories, outcomes : sequence of str, optional
        Incidents of any of these categories / outcomes only (empty: all).
    scope_region_ids : frozenset of int, optional
        The caller's region scope (see :class:`FeatureQuery`): features of these
        regions only (regions by id, the other layers by ``region_id``); None: all.

    Returns
    -------
    list of dict
        Properties of each feature plus ``geometry`` (GeoJSON object as text in
        ``geometry_json``) and ``layer``.
    """
    layer = MAP_LAYERS[map_layer]
    sql = _FEATURE_INFO_SQL.format(
        columns=", ".join(layer.map.info), table=layer.table,
        time_filter=_FEATURE_INFO_TIME if layer.temporal else "",
        scope_filter="" if scope_region_ids is None
        else "\n   AND " + scope_condition(layer))
    minx, miny, maxx, maxy = (float(v) for v in envelope)
    params = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, "lon": float(lon),
              "lat": float(lat), "limit": int(limit)}
    if layer.temporal:
        params.update({"start": start, "end": end, "region_id": region_id,
                       "categories": list(categories), "outcomes": list(outcomes)})
    if scope_region_ids is not None:
        params["scope_region_ids"] = sorted(int(r) for r in scope_region_ids)
    rows = session.execute(text(sql), params).mappings().all()
    return [{"layer": map_layer, **dict(row)} for row in rows]
