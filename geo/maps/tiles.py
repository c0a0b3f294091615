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
import threading
from collections import OrderedDict
from typing import NamedTuple

from geo import queries
from geo.layers import RISK_RESULTS, SEGMENTS, Layer
from geo.maps.tiling import MAX_ZOOM
from geo.queries.tiles import fetch_tile_row, tile_sql, version_sql, versioned_tile_sql


def vector_tile(session, layer: Layer, z: int, x: int, y: int,
                query: queries.FeatureQuery) -> bytes:
    """The MVT bytes of tile ``z/x/y`` of ``layer`` (empty bytes: no feature).

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    layer : geo.layers.Layer
        A layer of ``TILE_LAYERS`` (one with a ``tiles`` facet).
    z, x, y : int
        Tile address in the Web Mercator scheme; check it with ``geo.maps.tiling.tile_exists``.
    query : geo.queries.FeatureQuery
        Time window (``start``/``end``), ``categories``, ``outcomes``, ``statuses`` and
        the region scope ``scope_region_ids``; bbox, order and page are ignored (the tile
        decides them).
    """
    statement, params = tile_sql(layer, z, x, y, query)
    return bytes(fetch_tile_row(session, statement, params)[0] or b"")


def _etag(layer: Layer, version, key: str) -> str:
    digest = hashlib.sha256(f"{layer.name}|{version}|{key}".encode()).hexdigest()
    return digest[:32]


def tile_version(session, layer: Layer, key: str) -> str:
    """A version string of a tile for ``ETag``: changes whenever the layer's data does.

    ``key`` is everything else that makes the tile (z/x/y, the filters and the region
    scope).
    """
    statement, params = version_sql(layer)
    return _etag(layer, fetch_tile_row(session, statement, params)[0], key)


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
        Tile address (``geo.maps.tiling.tile_exists``).
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
        statement, params = versioned_tile_sql(layer, z, x, y, query)
        raw_version, body = fetch_tile_row(session, statement, params)
        version, body = _etag(layer, raw_version, key), bytes(body or b"")
    if cache is not None:
        cache.put(version, body)
    return VersionedTile(version, body)


_FIELD_TYPES = {"text": "String", "choice": "String", "timestamp": "String",
                "int": "Number", "float": "Number", "bool": "Boolean"}


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
                 scope_region_ids: frozenset[int] | None = None,
                 viewer_agency: str | None = None
                 ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the layer's data (in the region scope,
    and what ``viewer_agency`` sees, when given), or None when empty. The ``risk``
    layer may hold every section (stored or live scores): the sections' extent."""
    if layer is RISK_RESULTS:
        layer = SEGMENTS
    return queries.layer_extent(session, layer, scope_region_ids, viewer_agency)
