"""Lists of features: the filters of ``FeatureQuery`` as one WHERE clause
(``feature_filter``, also used by the tiles, the analyses and the incident reader),
pages of GeoJSON written by PostgreSQL, streamed rows for exports, extents, deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from geo.layers import Layer
from geo.queries.links import derive_links
from geo.scope import (
    VIEWER_PARAMETER,
    counted_condition,
    scope_condition,
    scope_parameter,
    visibility_condition,
)


@dataclass
class FeatureQuery:
    """Filters, order and page of a list of features (all optional).

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326, or (min x, min y,
    max x, max y) in ``bbox_srid`` when that is another EPSG code; ``start``/``end``
    bound the layer's time field (closed interval, timezone-aware); ``categories``,
    ``outcomes``, ``statuses`` and ``agencies`` (originating agency codes) keep
    features with any of those values (empty: no filter); ``region_id`` keeps features
    linked to that region; ``equals`` maps
    readable properties to the value they must equal (OGC API property filters);
    ``sort`` is a list of (field, descending). ``scope_region_ids`` is the caller's
    region scope (``app.auth.scope``): when set, only features of those regions (regions
    by their own id, the other layers by ``region_id``; unlinked features are outside
    every scope); None means every region. ``viewer_agency`` is the caller's agency
    (``geo.scope``): when set, only the incidents it sees in detail, or with
    ``counting`` those that count in its aggregates (visible, or ``aggregate``); None
    means every record (an admin, the system). ``table_values`` are the values the
    layer's table subquery binds (``Layer.table_parameters``).
    """

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    region_id: int | None = None
    scope_region_ids: frozenset[int] | None = None
    viewer_agency: str | None = None
    counting: bool = False
    ids: list[int] | None = None
    equals: dict[str, object] = field(default_factory=dict)
    table_values: dict[str, str] = field(default_factory=dict)
    bbox_srid: int = 4326
    sort: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = 100
    offset: int = 0


def _where(layer: Layer, query: FeatureQuery) -> tuple[str, dict]:
    """WHERE clause (whitelisted identifiers only) and its bound values."""
    conditions, params = ["true"], {}
    # What the layer's table (a subquery) binds: given values, else an empty JSON array.
    params.update({name: query.table_values.get(name, "[]")
                   for name in layer.table_parameters})
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
    if query.agencies:
        conditions.append("agency = ANY(:agencies)")
        params["agencies"] = list(query.agencies)
    if query.region_id is not None:
        conditions.append("region_id = :region_id")
        params["region_id"] = query.region_id
    if query.scope_region_ids is not None:
        conditions.append(scope_condition(layer))
        params["scope_region_ids"] = scope_parameter(query.scope_region_ids)
    if query.viewer_agency is not None and layer.releasable:
        conditions.append(counted_condition() if query.counting else visibility_condition())
        params[VIEWER_PARAMETER] = query.viewer_agency
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

# A list of a time-enabled layer without a time window counts its matches up to a bound
# (issue 21: the whole table's count grew linearly with the history): when more than
# max(NUMBER_MATCHED_BOUND, offset + limit) match, numberMatched is left out (OGC API -
# Features makes it optional) and a full page links the next one. A list of a window
# (what the map page sends) counts exactly: its cost is the window's.
NUMBER_MATCHED_BOUND = 10_000

_FEATURES_SQL = """
WITH page AS (
    SELECT id, {columns}, geom FROM {table} WHERE {where} ORDER BY {order} {page}
)
SELECT json_build_object(
         'type', 'FeatureCollection',
         'numberMatched', {matched},
         'numberReturned', (SELECT count(*) FROM page),
         'features', COALESCE(
            (SELECT json_agg({feature} ORDER BY {order})
               FROM page AS p),
            '[]'::json))::text
"""


def features_geojson(session, layer: Layer, query: FeatureQuery) -> str:
    """A GeoJSON FeatureCollection (text) of ``layer`` filtered by ``query``.

    Coordinates are EPSG:4326 (RFC 7946). The collection carries ``numberMatched`` (all
    features that pass the filters; null when a list without a time window matches more
    than :func:`count_cap` counts, see ``NUMBER_MATCHED_BOUND``) and ``numberReturned``
    (this page); every feature carries ``id`` and its writable and derived properties.

    Raises
    ------
    KeyError
        A sort field the layer does not have.
    """
    where, params = _where(layer, query)
    page, page_params = _page(query)
    cap = count_cap(layer, query)
    matched = (f"(SELECT count(*) FROM {layer.table} WHERE {where})" if cap is None
               else f"NULLIF((SELECT {_BOUNDED_COUNT.format(table=layer.table, where=where)}"
               "), :count_cap)")
    statement = _FEATURES_SQL.format(
        columns=", ".join(layer.readable_names), table=layer.table, where=where,
        order=_order(layer, query), page=page, feature=_FEATURE_JSON, matched=matched,
    )
    values = {**params, **page_params, **({} if cap is None else {"count_cap": cap})}
    return session.execute(text(statement), values).scalar_one()


_BOUNDED_COUNT = "count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT :count_cap) AS c"


def count_cap(layer: Layer, query: FeatureQuery) -> int | None:
    """How many matches a list counts at most (one more than it reports), or None: all
    (a layer without time, or a query with a time window). See NUMBER_MATCHED_BOUND."""
    if (layer.time_field is None or query.start is not None or query.end is not None
            or query.ids is not None):
        return None
    return max(NUMBER_MATCHED_BOUND, query.offset + (query.limit or 0)) + 1


def feature_geojson(session, layer: Layer, feature_id: int,
                    scope_region_ids: frozenset[int] | None = None,
                    viewer_agency: str | None = None) -> str | None:
    """One feature as GeoJSON text (as in :func:`features_geojson`), or None; None too
    when ``scope_region_ids`` is given and the feature is outside it, or
    ``viewer_agency`` is given and does not see it (see :class:`FeatureQuery`)."""
    where, params = _where(layer, FeatureQuery(ids=[feature_id],
                                               scope_region_ids=scope_region_ids,
                                               viewer_agency=viewer_agency))
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
    SELECT id, {matched} AS matched FROM {table} WHERE {where}
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

    number_matched: int | None  # None: more than a bounded count counts (count_cap)
    number_returned: int
    features: str


def feature_page(session, layer: Layer, query: FeatureQuery, srid: int = 4326,
                 swap_axes: bool = False, decimals: int = 15) -> FeaturePage:
    """A page of ``layer``'s features as GeoJSON text made by the database.

    No feature becomes a Python object: PostgreSQL writes the array of Features
    (``json_agg``), the caller wraps it. ``numberMatched`` comes from the same pass
    over the matching rows (counted apart only for a page past the end), except for a
    list without a time window, counted apart up to :func:`count_cap` (None past it).

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
    cap = count_cap(layer, query)
    statement = _PAGE_SQL.format(
        columns=", ".join(layer.readable_names), table=layer.table, where=where,
        order=_order(layer, query), page=page, geometry=_output_geometry(srid, swap_axes),
        properties=properties, matched="count(*) OVER ()" if cap is None else "NULL::int8",
    )
    returned, matched, features = session.execute(
        text(statement), {**params, **page_params, "decimals": decimals}).one()
    if cap is not None:
        # The page through the sort's index; the matches counted up to the cap apart.
        matched = session.execute(text("SELECT " + _BOUNDED_COUNT.format(
            table=layer.table, where=where)), {**params, "count_cap": cap}).scalar_one()
        return FeaturePage(None if matched >= cap else matched, returned, features)
    if matched is None:  # an empty page: none match, or the offset is past the end
        matched = 0 if not query.offset else session.execute(
            text(_COUNT_SQL.format(table=layer.table, where=where)), params).scalar_one()
    return FeaturePage(matched, returned, features)


_EXTENT_SQL = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
  FROM (SELECT ST_Extent(geom) AS e FROM {table} WHERE {where}) AS x
"""


def layer_extent(session, layer: Layer, scope_region_ids: frozenset[int] | None = None,
                 viewer_agency: str | None = None
                 ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of ``layer``'s features (EPSG:4326), or None;
    of the features in ``scope_region_ids`` that ``viewer_agency`` sees only when given
    (see :class:`FeatureQuery`): no extent is computed over a hidden record."""
    where, params = _where(layer, FeatureQuery(scope_region_ids=scope_region_ids,
                                               viewer_agency=viewer_agency))
    row = session.execute(text(_EXTENT_SQL.format(table=layer.table, where=where)),
                          params).one()
    return None if row[0] is None else tuple(float(v) for v in row)


_TIME_EXTENT_SQL = "SELECT min({field}), max({field}) FROM {table} WHERE {where}"


def layer_time_extent(session, layer: Layer, scope_region_ids: frozenset[int] | None = None,
                      viewer_agency: str | None = None
                      ) -> tuple[datetime, datetime] | None:
    """(first, last) of ``layer``'s time field, or None (no time field or no rows); of
    the features in ``scope_region_ids`` that ``viewer_agency`` sees only when given
    (see :class:`FeatureQuery`)."""
    if layer.time_field is None:
        return None
    where, params = _where(layer, FeatureQuery(scope_region_ids=scope_region_ids,
                                               viewer_agency=viewer_agency))
    first, last = session.execute(text(_TIME_EXTENT_SQL.format(
        field=layer.time_field, table=layer.table, where=where)), params).one()
    return None if first is None else (first, last)


def feature_filter(layer: Layer, query: FeatureQuery) -> tuple[str, dict]:
    """The WHERE clause of ``query``'s filters on ``layer`` (whitelisted identifiers)
    and its bound values, for statements built elsewhere (vector tiles)."""
    return _where(layer, query)


