"""Vector tiles at ``/ogc/tiles/{layer}/{z}/{x}/{y}.mvt`` and TileJSON at
``/ogc/tiles/{layer}.json``.

Tiles come from ``geo.maps.tiles`` (``ST_AsMVT``). Filters, as the WMS has them:
``datetime`` (or ``time``: an RFC 3339 instant or interval) on incidents, ``category``,
``outcome``, ``status`` and ``agency`` (originating agency codes; comma-separated) where
the layer has them. Every tile carries an ``ETag`` made from the table's data version
(a request with a matching ``If-None-Match`` gets 304 without touching the tile) and
``Cache-Control: private, max-age=60`` (the data is not public; a client may reuse a
tile for a minute, then revalidates). A tile without features is 204. Errors are OGC
API exceptions (``{code, description}``): 400 for a bad filter, 404 for an unknown layer
or a tile outside the scheme (z 0-22).

A user restricted to regions (``app.auth.scope``) gets tiles of their regions' features
only, and of the incidents their agency sees in detail (``geo.scope``; the clustered
points below the cluster zoom too); the scope and the agency are part of the ETag, so a
scoped and an unscoped user (or two scopes, or two agencies) never share one, and
``private`` keeps shared caches from storing tiles at all.

Each worker process keeps the tiles it made (``geo.maps.tiles.TileCache``, by ETag, at most
``TILE_CACHE_BYTES``): a tile asked again at the same data version is not made again.
``X-Tile-Cache: hit`` or ``miss`` says which it was; a request with ``Cache-Control:
no-cache`` gets a freshly made tile (which replaces the kept one).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from flask import Response, current_app, request

from app.api.params import ParameterError, parse_datetime_interval, parse_list
from app.auth.scope import region_scope, viewer_agency
from app.extensions import db
from app.ogc import bp, tile_discovery
from app.ogc.features import OgcApiError, exception_answer
from app.ogc.routes import respond
from geo import clock, queries
from geo.layers import COLLECTIONS, TILE_LAYERS, Layer
from geo.maps import tiles, tiling
from geo.queries.agency_checks import agency_codes
from geo.risk import levels

MVT_MIME = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, max-age=60"
TILE_PARAMETERS = ("datetime", "time", "category", "outcome", "status", "agency")


def _tile_layer(name: str) -> Layer:
    try:
        return TILE_LAYERS[name]
    except KeyError:
        raise OgcApiError(404, "NotFound", f"no tile layer {name!r}; layers: "
                          f"{', '.join(TILE_LAYERS)}") from None


def _filters(layer: Layer, args) -> queries.FeatureQuery:
    unknown = sorted(set(args) - set(TILE_PARAMETERS))
    if unknown:
        raise ParameterError(unknown[0], f"unknown parameter; parameters are "
                             f"{', '.join(TILE_PARAMETERS)}")
    window = args.get("datetime") or args.get("time")
    if window and layer.time_field is None:
        raise ParameterError("datetime", f"{layer.name} has no time; only incidents do")
    start, end = parse_datetime_interval(window)
    names = {f.name for f in layer.readable}
    for name in ("category", "outcome", "status"):
        if args.get(name) and name not in names:
            raise ParameterError(name, f"{layer.name} has no {name}")

    def choices(name: str) -> list[str]:
        return parse_list(name, args.get(name),
                          layer.field(name).choices if name in names else None)

    agencies = []
    if args.get("agency"):
        if not layer.releasable:
            raise ParameterError("agency", f"{layer.name} has no agency")
        agencies = parse_list("agency", args["agency"], agency_codes(db.session))
    return queries.FeatureQuery(
        start=start, end=end, categories=choices("category"), outcomes=choices("outcome"),
        statuses=choices("status"), agencies=agencies, limit=None,
        scope_region_ids=region_scope(), viewer_agency=viewer_agency())


@bp.get("/tiles/<layer_name>/<int:z>/<int:x>/<int:y>.mvt")
@bp.get("/tiles/<layer_name>/<int:z>/<int:x>/<int:y>.pbf")
def vector_tile(layer_name: str, z: int, x: int, y: int):
    """A tile (``.pbf`` too, the extension of a tile directory that GDAL's MVT driver
    reads)."""
    return _tile(layer_name, z, x, y)


def _tile(layer_name: str, z: int, x: int, y: int) -> Response:
    try:
        tile_layer = _tile_layer(layer_name)
        if not tiling.tile_exists(z, x, y):
            raise OgcApiError(404, "NotFound", f"no tile {z}/{x}/{y}: z must be 0 to "
                              f"{tiling.MAX_ZOOM} and x, y 0 to 2^z - 1")
        query = _filters(tile_layer, request.args)
    except (ParameterError, OgcApiError) as exc:
        return respond(exception_answer(exc))
    key = f"{z}/{x}/{y}?{urlencode(sorted(request.args.items()))}|{_scope_key(query)}"
    if "live_risk" in tile_layer.table_parameters and current_app.config.get("RISK_MODEL"):
        # The risk tiles' live rows (geo.risk.levels): part of the tile, so of its ETag.
        live = levels.live_risk_json(db.session, current_app.config["RISK_MODEL"],
                                     current_app.config["ANALYSIS_SRID"], clock.utc_now())
        query.table_values = {"live_risk": live}
        key += "|live=" + hashlib.sha256(live.encode()).hexdigest()
    cache = _tile_cache()
    etag, body, from_cache = tiles.versioned_tile(
        db.session, tile_layer, z, x, y, query, key, request.if_none_match, cache=cache,
        refresh=bool(request.cache_control.no_cache))
    headers = {"ETag": f'"{etag}"', "Cache-Control": CACHE_CONTROL}
    if cache is not None and body is not None:
        headers["X-Tile-Cache"] = "hit" if from_cache else "miss"
    if body is None:
        return Response(status=304, headers=headers)
    if not body:
        return Response(status=204, headers=headers)
    return Response(body, mimetype=MVT_MIME, headers=headers)


def _tile_cache() -> tiles.TileCache | None:
    """This process's tile cache (made on first use), or None when TILE_CACHE_BYTES is 0."""
    size = current_app.config.get("TILE_CACHE_BYTES", 0)
    if not size:
        return None
    cache = current_app.extensions.get("borderrisk_tile_cache")
    if cache is None:  # two threads may get here: setdefault keeps one
        cache = current_app.extensions.setdefault("borderrisk_tile_cache",
                                                  tiles.TileCache(size))
    return cache


def _scope_key(query: queries.FeatureQuery) -> str:
    """The region scope and the viewer's agency as part of a tile's version key ('all'
    and '*' when unrestricted; an agency "" is the view every agency shares, not '*'):
    two callers who see different records never share a tile."""
    scope = query.scope_region_ids
    regions = "scope=all" if scope is None else "scope=" + ",".join(map(str, sorted(scope)))
    agency = "*" if query.viewer_agency is None else query.viewer_agency
    return f"{regions}|agency={agency}"


def _bounds(tile_layer: Layer, filters: queries.FeatureQuery):
    """The layer's data extent (CRS84) that the caller sees, or None when empty."""
    return tiles.layer_bounds(db.session, tile_layer, filters.scope_region_ids,
                              filters.viewer_agency)


def _query_string() -> str:
    return f"?{urlencode(request.args)}" if request.args else ""


@bp.get("/tiles/<layer_name>.json")
def tilejson(layer_name: str):
    try:
        tile_layer = _tile_layer(layer_name)
        filters = _filters(tile_layer, request.args)
    except (ParameterError, OgcApiError) as exc:
        return respond(exception_answer(exc))
    bounds = _bounds(tile_layer, filters) or (-180.0, -85.0511, 180.0, 85.0511)
    document = {
        "tilejson": "3.0.0",
        "name": tile_layer.name,
        "description": tile_layer.title,
        "scheme": "xyz",
        "tiles": [f"{request.url_root}ogc/tiles/{tile_layer.name}/{{z}}/{{x}}/{{y}}.mvt"
                  f"{_query_string()}"],
        "minzoom": 0,
        "maxzoom": tiling.MAX_ZOOM,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 8],
        "vector_layers": [tiles.tilejson_vector_layer(tile_layer)],
    }
    return document


@bp.get("/tiles/<layer_name>/metadata.json")
def tile_directory_metadata(layer_name: str):
    """``metadata.json`` beside the zoom levels, for GDAL's MVT driver
    (``app.ogc.tile_discovery.gdal_metadata``)."""
    try:
        tile_layer = _tile_layer(layer_name)
        filters = _filters(tile_layer, request.args)
    except (ParameterError, OgcApiError) as exc:
        return respond(exception_answer(exc))
    return tile_discovery.gdal_metadata(tile_layer, _bounds(tile_layer, filters))


# ------------------------------------------------------------------ OGC API - Tiles


def _features_root() -> str:
    return request.url_root + "ogc/features"


def _tiled_collection(collection_id: str) -> Layer:
    """A collection served as tiles too; 404 (an OGC API exception) otherwise."""
    if collection_id not in COLLECTIONS:
        raise OgcApiError(404, "NotFound", f"no collection {collection_id!r}; "
                          f"collections: {', '.join(COLLECTIONS)}")
    if collection_id not in TILE_LAYERS:
        raise OgcApiError(404, "NotFound", f"collection {collection_id!r} has no tiles; "
                          f"tiled collections: {', '.join(TILE_LAYERS)}")
    return TILE_LAYERS[collection_id]


def _tile_matrix_set(tms: str) -> None:
    if tms != tile_discovery.TMS_ID:
        raise OgcApiError(404, "NotFound", f"no tile matrix set {tms!r}; tile matrix "
                          f"sets: {tile_discovery.TMS_ID}")


@bp.get("/features/tileMatrixSets")
def tile_matrix_sets():
    return tile_discovery.tile_matrix_sets(_features_root())


@bp.get("/features/tileMatrixSets/<tms>")
def tile_matrix_set(tms: str):
    try:
        _tile_matrix_set(tms)
    except OgcApiError as exc:
        return respond(exception_answer(exc))
    return tile_discovery.web_mercator_quad(_features_root())


@bp.get("/features/collections/<collection_id>/tiles")
def collection_tilesets(collection_id: str):
    try:
        tile_layer = _tiled_collection(collection_id)
        _filters(tile_layer, request.args)
    except (ParameterError, OgcApiError) as exc:
        return respond(exception_answer(exc))
    return tile_discovery.tilesets(_features_root(), tile_layer, _query_string())


@bp.get("/features/collections/<collection_id>/tiles/<tms>")
def collection_tileset(collection_id: str, tms: str):
    try:
        tile_layer = _tiled_collection(collection_id)
        _tile_matrix_set(tms)
        filters = _filters(tile_layer, request.args)
    except (ParameterError, OgcApiError) as exc:
        return respond(exception_answer(exc))
    return tile_discovery.tileset(_features_root(), tile_layer,
                                  _bounds(tile_layer, filters), _query_string())


@bp.get("/features/collections/<collection_id>/tiles/<tms>/<int:tile_matrix>"
        "/<int:tile_row>/<int:tile_col>")
def collection_tile(collection_id: str, tms: str, tile_matrix: int, tile_row: int,
                    tile_col: int):
    """A tile by OGC API - Tiles' address: tile matrix = z, row = y, column = x."""
    try:
        _tiled_collection(collection_id)
        _tile_matrix_set(tms)
    except OgcApiError as exc:
        return respond(exception_answer(exc))
    return _tile(collection_id, tile_matrix, tile_col, tile_row)
