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

from geo.layers import Layer

_REFRESH_SEGMENT_LENGTHS = text(
    """
    UPDATE border_segments
       SET length_m = ST_Length(ST_Transform(geom, :srid))
     WHERE (CAST(:all_rows AS boolean) OR id = ANY(:ids))
    """
)

# The derived links of an incident ``src`` (one definition, used by ``link_incidents`` and
# by the import, which writes them with the rows): the region that contains the point,
# then the nearest segment and crossing point. The KNN operator on geography ranks
# candidates on the sphere (index-assisted); the distance is then measured in the
# analysis CRS (``:srid``) so it agrees with segment lengths.
_REGION_OF_INCIDENT = """
    SELECT reg.id FROM regions AS reg
     WHERE ST_Intersects(reg.geom, src.geom)
     ORDER BY reg.id LIMIT 1"""
_NEAREST_SEGMENT = """
    SELECT seg.id,
           ST_Distance(ST_Transform(seg.geom, :srid), ST_Transform(src.geom, :srid))
               AS distance_m
      FROM border_segments AS seg
     ORDER BY seg.geom::geography <-> src.geom::geography
     LIMIT 1"""
_NEAREST_CROSSING = """
    SELECT cp.id,
           ST_Distance(ST_Transform(cp.geom, :srid), ST_Transform(src.geom, :srid))
               AS distance_m
      FROM crossing_points AS cp
     ORDER BY cp.geom::geography <-> src.geom::geography
     LIMIT 1"""
INCIDENT_LINK_COLUMNS = ("region_id", "nearest_segment_id", "segment_distance_m",
                         "nearest_crossing_id", "crossing_distance_m")
# For a SELECT over ``src``: the joins, then the values in INCIDENT_LINK_COLUMNS order.
INCIDENT_LINK_JOINS = (f"LEFT JOIN LATERAL ({_REGION_OF_INCIDENT}) AS r ON true "
                       f"LEFT JOIN LATERAL ({_NEAREST_SEGMENT}) AS s ON true "
                       f"LEFT JOIN LATERAL ({_NEAREST_CROSSING}) AS c ON true")
INCIDENT_LINK_VALUES = "r.id, s.id, s.distance_m, c.id, c.distance_m"

# One set-based statement for any number of incidents. No self-join: on a table whose
# statistics say "empty" (just loaded, not yet analysed) the planner joined incidents to
# itself with a nested loop, quadratic in the number of rows.
_LINK_INCIDENTS = text(
    f"""
    UPDATE incidents AS src
       SET region_id = ({_REGION_OF_INCIDENT}),
           (nearest_segment_id, segment_distance_m) = ({_NEAREST_SEGMENT}),
           (nearest_crossing_id, crossing_distance_m) = ({_NEAREST_CROSSING})
     WHERE CAST(:all_rows AS boolean) OR src.id = ANY(:ids)
    """
)

_JIT_SETTING = text("SELECT current_setting('jit')")
_SET_JIT = text("SELECT set_config('jit', :value, true)")


@contextmanager
def without_jit(session) -> Iterator[None]:
    """Run the statements inside with PostgreSQL's JIT off, then restore the setting.

    The per-row lookups of the link statements cost many times the planner's
    estimate; over ~10,000 rows JIT kicks in and LLVM's inlining and optimisation of
    PostGIS calls made ``link_incidents`` of 20,000 incidents take minutes instead of a
    second (PostgreSQL 15, PostGIS 3.3). Local to the transaction either way.
    """
    previous = session.execute(_JIT_SETTING).scalar_one()
    session.execute(_SET_JIT, {"value": "off"})
    yield
    # Not on an error: the statement failed, and rolling back undoes set_config too.
    session.execute(_SET_JIT, {"value": previous})


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


def link_incidents(session, analysis_srid: int, ids: Sequence[int] | None = None) -> int:
    """Derive each incident's region, nearest segment and nearest crossing point.

    Distances (``segment_distance_m``, ``crossing_distance_m``) are metres in the
    analysis CRS ``analysis_srid``. Runs as one statement for one incident or a million.

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
        Number of incidents updated.
    """
    with without_jit(session):
        result = session.execute(_LINK_INCIDENTS, {"srid": analysis_srid, **_id_params(ids)})
    return result.rowcount


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
    if layer == "crossings":
        session.execute(_LINK_CROSSING_REGIONS, _id_params(ids))
    elif layer == "segments":
        session.execute(_LINK_SEGMENT_REGIONS, _id_params(ids))
        refresh_segment_lengths(session, analysis_srid, ids)
    elif layer == "regions":
        session.execute(_LINK_CROSSING_REGIONS, _id_params(None))
        session.execute(_LINK_SEGMENT_REGIONS, _id_params(None))
    else:
        raise KeyError(layer)
    link_incidents(session, analysis_srid)


_POSTGIS_VERSION = text("SELECT postgis_lib_version()")


def postgis_version(session) -> str:
    """Version string of the PostGIS library in the connected database."""
    return session.execute(_POSTGIS_VERSION).scalar_one()


__all__ = ["link_incidents", "postgis_version", "refresh_segment_lengths"]


@dataclass
class FeatureQuery:
    """Filters, order and page of a list of features (all optional).

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326; ``start``/``end``
    bound the layer's time field (closed interval, timezone-aware); ``region_id`` keeps
    features linked to that region; ``sort`` is a list of (field, descending).
    """

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    region_id: int | None = None
    ids: list[int] | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = 100
    offset: int = 0


def _where(layer: Layer, query: FeatureQuery) -> tuple[str, dict]:
    """WHERE clause (whitelisted identifiers only) and its bound values."""
    conditions, params = ["true"], {}
    if query.bbox is not None:
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
    if query.statuses:
        conditions.append("status = ANY(:statuses)")
        params["statuses"] = list(query.statuses)
    if query.region_id is not None:
        conditions.append("region_id = :region_id")
        params["region_id"] = query.region_id
    if query.ids is not None:
        conditions.append("id = ANY(:ids)")
        params["ids"] = list(query.ids)
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


def feature_geojson(session, layer: Layer, feature_id: int) -> str | None:
    """One feature as GeoJSON text (as in :func:`features_geojson`), or None."""
    statement = text(
        f"SELECT {_FEATURE_JSON}::text FROM (SELECT id, {', '.join(layer.readable_names)}, "
        f"geom FROM {layer.table} WHERE id = :id) AS p"
    )
    return session.execute(statement, {"id": feature_id}).scalar_one_or_none()


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
