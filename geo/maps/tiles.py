"""Mapbox vector tiles (MVT) of the layers, made by PostGIS ``ST_AsMVT``.

Tiles are in the Web Mercator tiling scheme (EPSG:3857, ``z/x/y`` from the top left,
as ``ST_TileEnvelope``), 4096 units a side with a 64-unit buffer. Lines and polygons are
simplified per zoom: Douglas-Peucker (``ST_Simplify``) with a tolerance of one tile
unit (the tile's width in metres / 4096), so no detail finer than what the tile can
hold is sent. The filters are those of the list API (``geo.queries.FeatureQuery``: time
window, categories, outcomes, statuses), applied by the same SQL builder.

Points of a layer with ``cluster_below_zoom`` (incidents) are aggregated below that zoom:
one feature per category and cell of ``CLUSTER_CELL`` tile units (16: a pixel of a
256-pixel tile) carrying ``category`` and ``count``, at the cell's centre. A map of a
whole country then holds thousands of features instead of a million.

The version of a tile (for HTTP ``ETag``) is the ``data_versions`` counter of its table,
bumped by a trigger on every write, so it changes exactly when the data may have. It is
read in the tile's own statement (:func:`versioned_tile`), or alone when the client
already holds a version (``If-None-Match``: a 304 makes no tile).

A region scope (``FeatureQuery.scope_region_ids``, a user's regions) keeps only the
features of those regions (the aggregated points too); the caller puts the scope in the
tile's version key, so that users of different scopes never share an ETag.

A :class:`TileCache` keeps made tiles in the process, keyed by their ETag (layer, data
version, z/x/y, filters, scope), bounded in bytes, least recently used out first: a tile
many analysts look at is made once per data version. The version is read before every
lookup, so a write (a new version) is never answered from the cache. The version is the
counter *and* the transaction id (``xmin``) that last set it: a counter value a
rolled-back transaction had reached and a later one reaches again is not the same version.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import text

from geo import queries
from geo.layers import RISK_RESULTS, Layer

MAX_ZOOM = 22
EXTENT = 4096  # tile units a side
BUFFER = 64  # tile units around the tile, so that lines and labels join at the edges
WEB_MERCATOR_HALF_WIDTH = 20037508.342789244  # metres
MAX_LATITUDE = 85.0511287798066  # degrees: the edge of the Web Mercator square
CLUSTER_CELL = 16  # tile units a side of an aggregation cell


def tile_exists(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` is a tile of the scheme (0 <= z <= MAX_ZOOM, x and y in range)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_bounds_lonlat(z: int, x: int, y: int, buffer: float = 0.0
                       ) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) in degrees of tile ``z/x/y``, grown by
    ``buffer`` (a fraction of the tile's width) on each side and clipped to the world."""
    n = 2**z

    def lon(column: float) -> float:
        return column / n * 360.0 - 180.0

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (max(lon(x - buffer), -180.0), max(lat(y + 1 + buffer), -MAX_LATITUDE),
            min(lon(x + 1 + buffer), 180.0), min(lat(y - buffer), MAX_LATITUDE))


def _tile_width_m(z: int) -> float:
    return 2 * WEB_MERCATOR_HALF_WIDTH / 2**z


def _property_sql(layer: Layer, name: str) -> str:
    if layer.field(name).kind == "timestamp":
        return (f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                f"AS {name}")
    return name


_TILE_SQL = """
WITH features AS (
    SELECT id, {properties},
           ST_AsMVTGeom({geometry}, ST_TileEnvelope(:z, :x, :y), {extent}, {buffer}, true)
               AS geom
      FROM {table}
     WHERE {where}
)
SELECT ST_AsMVT(features, :layer_name, {extent}, 'geom', 'id')
  FROM features WHERE geom IS NOT NULL
"""


# Points below the layer's cluster zoom: counts per category and cell of CLUSTER_CELL
# tile units, placed at the cell's centre.
_CLUSTER_SQL = """
WITH points AS (
    SELECT category,
           ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y), {extent},
                        {buffer}, true) AS geom
      FROM {table}
     WHERE {where}
), cells AS (
    SELECT category, count(*) AS count,
           floor(ST_X(geom) / {cell}) AS i, floor(ST_Y(geom) / {cell}) AS j
      FROM points WHERE geom IS NOT NULL
     GROUP BY category, i, j
)
SELECT ST_AsMVT(features, :layer_name, {extent}, 'geom')
  FROM (SELECT category, count,
               ST_MakePoint((i + 0.5) * {cell}, (j + 0.5) * {cell}) AS geom
          FROM cells) AS features
"""


def tile_sql(layer: Layer, z: int, x: int, y: int,
             query: queries.FeatureQuery) -> tuple[str, dict]:
    """The ``ST_AsMVT`` statement of one tile and its bound values (also what the
    benchmark times as "bare SQL")."""
    # Every filter of the query; the tile decides the box, and there is no page or order.
    query = replace(query, bbox=tile_bounds_lonlat(z, x, y, BUFFER / EXTENT),
                    bbox_srid=4326, sort=[], limit=None, offset=0)
    where, params = queries.feature_filter(layer, query)
    params.update({"z": z, "x": x, "y": y, "layer_name": layer.name})
    if z < layer.tiles.cluster_below_zoom:
        return _CLUSTER_SQL.format(extent=EXTENT, buffer=BUFFER, table=layer.table,
                                   where=where, cell=CLUSTER_CELL), params
    geometry = "ST_Transform(geom, 3857)"
    if layer.geometry_type != "Point":
        geometry = f"ST_Simplify({geometry}, :tolerance, true)"
        params["tolerance"] = _tile_width_m(z) / EXTENT
    statement = _TILE_SQL.format(
        properties=", ".join(_property_sql(layer, p) for p in layer.tiles.properties),
        geometry=geometry, extent=EXTENT, buffer=BUFFER, table=layer.table, where=where)
    return statement, params


def vector_tile(session, layer: Layer, z: int, x: int, y: int,
                query: queries.FeatureQuery) -> bytes:
    """The MVT bytes of tile ``z/x/y`` of ``layer`` (empty bytes: no feature).

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    layer : geo.layers.Layer
        A layer of ``TILE_LAYERS`` (one with a ``tiles`` facet).
    z, x, y : int
        Tile address in the Web Mercator scheme; check it with :func:`tile_exists`.
    query : geo.queries.FeatureQuery
        Time window (``start``/``end``), ``categories``, ``outcomes``, ``statuses`` and
        the region scope ``scope_region_ids``; bbox, order and page are ignored (the tile
        decides them).
    """
    statement, params = tile_sql(layer, z, x, y, query)
    return bytes(session.execute(text(statement), params).scalar_one() or b"")


# The data version of a layer's tiles: the ``data_versions`` counter of its table and the
# transaction that last bumped it (``xmin``; see the module's docstring). The risk
# collection reads these tables; a new assessment bumps none of them, so its tiles are
# also keyed by the newest assessment.
_VERSION_SQL = ("SELECT version::text || '.' || xmin::text FROM data_versions "
                "WHERE table_name = :version_table")
_RISK_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM risk_assessments)::text || '.' || "
    "coalesce((SELECT version::text || '.' || xmin::text FROM data_versions "
    "WHERE table_name = 'border_segments'), '')")
# The version and the tile in one statement (one round trip, one snapshot).
_VERSIONED_TILE_SQL = "SELECT ({version}) AS version, tile FROM ({tile}) AS t(tile)"


def _version_sql(layer: Layer) -> tuple[str, dict]:
    if layer is RISK_RESULTS:
        return _RISK_VERSION_SQL, {}
    return _VERSION_SQL, {"version_table": layer.table}


def _etag(layer: Layer, version, key: str) -> str:
    digest = hashlib.sha256(f"{layer.name}|{version}|{key}".encode()).hexdigest()
    return digest[:32]


def tile_version(session, layer: Layer, key: str) -> str:
    """A version string of a tile for ``ETag``: changes whenever the layer's data does.

    ``key`` is everything else that makes the tile (z/x/y, the filters and the region
    scope).
    """
    statement, params = _version_sql(layer)
    return _etag(layer, session.execute(text(f"SELECT ({statement})"), params)
                 .scalar_one(), key)


class TileCache:
    """Made tiles by version (:func:`tile_version`), at most ``max_bytes`` bytes in all,
    the least recently used dropped first; safe to share between threads.

    Each entry counts its tile's bytes plus ``ENTRY_OVERHEAD`` (its key and bookkeeping),
    so empty tiles count too. A tile larger than the whole bound is not kept.

    Parameters
    ----------
    max_bytes : int
        The bound, in bytes; 0 keeps nothing.
    """

    ENTRY_OVERHEAD = 200  # bytes per entry besides the tile: key string, dict slot

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        """Bytes held now (tiles plus the per-entry overhead)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, version: str) -> bytes | None:
        """The tile of ``version``, or None when not kept."""
        with self._lock:
            body = self._entries.get(version)
            if body is None:
                self.misses += 1
                return None
            self._entries.move_to_end(version)
            self.hits += 1
            return body

    def put(self, version: str, body: bytes) -> None:
        """Keep ``body`` as the tile of ``version``, dropping the least recently used
        tiles until the bound holds."""
        size = len(body) + self.ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(version, None)
            if old is not None:
                self._bytes -= len(old) + self.ENTRY_OVERHEAD
            self._entries[version] = body
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped) + self.ENTRY_OVERHEAD


class VersionedTile(NamedTuple):
    """A tile and its version (:func:`versioned_tile`)."""

    version: str
    body: bytes | None  # None: the client holds this version; b"": no feature
    from_cache: bool = False


def versioned_tile(session, layer: Layer, z: int, x: int, y: int,
                   query: queries.FeatureQuery, key: str, known_versions=(), *,
                   cache: TileCache | None = None, refresh: bool = False) -> VersionedTile:
    """The version (:func:`tile_version`) and the MVT bytes of tile ``z/x/y``.

    The bytes are None when the version is one of ``known_versions`` (the client's copy
    is current, e.g. HTTP ``If-None-Match``: the tile is not made), empty when the tile
    has no feature. With a ``cache``, the version is read first and a tile of that
    version in the cache is answered without making it; a tile made is put in it.
    Otherwise (and with ``refresh``, when neither the client nor the cache may answer)
    the version and the tile come from one statement: a round trip less, which is a
    tenth of a small tile's time.

    A tile made after reading the version is at least as new as that version (each
    statement sees what is committed when it starts), so the cache never holds a tile
    older than its key: a write is never answered with a tile made before it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    layer : geo.layers.Layer
        A layer of ``TILE_LAYERS`` (one with a ``tiles`` facet).
    z, x, y : int
        Tile address (:func:`tile_exists`).
    query : geo.queries.FeatureQuery
        Filters, as :func:`vector_tile`.
    key : str
        Everything else that makes the tile, as :func:`tile_version`.
    known_versions : container of str
        Versions the client holds (anything supporting ``in``; falsy when none).
    cache : TileCache, optional
        Tiles made before, by version.
    refresh : bool
        Make the tile even when ``cache`` holds it (and put the new one in it).
    """
    if known_versions or (cache is not None and not refresh):
        version = tile_version(session, layer, key)
        if known_versions and version in known_versions:
            return VersionedTile(version, None)
        if cache is not None:
            body = cache.get(version)
            if body is not None:
                return VersionedTile(version, body, from_cache=True)
        body = vector_tile(session, layer, z, x, y, query)
    else:
        tile_statement, params = tile_sql(layer, z, x, y, query)
        version_statement, version_params = _version_sql(layer)
        statement = _VERSIONED_TILE_SQL.format(version=version_statement,
                                               tile=tile_statement)
        raw_version, body = session.execute(text(statement),
                                            {**params, **version_params}).one()
        version, body = _etag(layer, raw_version, key), bytes(body or b"")
    if cache is not None:
        cache.put(version, body)
    return VersionedTile(version, body)


_FIELD_TYPES = {"text": "String", "choice": "String", "timestamp": "String",
                "int": "Number", "float": "Number"}


def tilejson_vector_layer(layer: Layer) -> dict:
    """The TileJSON ``vector_layers`` entry of a layer (its fields and their types)."""
    fields = {name: _FIELD_TYPES[layer.field(name).kind] for name in layer.tiles.properties}
    description = layer.title
    if layer.tiles.cluster_below_zoom:
        fields["count"] = "Number"
        description += (f"; below zoom {layer.tiles.cluster_below_zoom} one point per "
                        "category and cell of 1/256 of the tile, with category and count")
    return {"id": layer.name, "description": description, "minzoom": 0,
            "maxzoom": MAX_ZOOM, "fields": fields}


def layer_bounds(session, layer: Layer,
                 scope_region_ids: frozenset[int] | None = None
                 ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the layer's data (in the region scope
    when given), or None when empty."""
    return queries.layer_extent(session, layer, scope_region_ids)
