"""How clients discover the vector tiles: documents only, no Flask, no SQL.

Two ways in, both describing the tiles of ``app.ogc.tiles`` (``geo.maps.tiles``):

- **GDAL's MVT tile directory.** ``ogrinfo MVT:<root>/ogc/tiles/{layer}/{z}`` opens one
  zoom level of a ``{z}/{x}/{y}.pbf`` directory and reads ``metadata.json`` beside the
  zoom levels (:func:`gdal_metadata`): tippecanoe's format, which GDAL's MVT driver reads
  (``format`` pbf, zooms, ``bounds`` and ``center`` as text, and ``json``, a JSON text
  holding ``vector_layers`` with each layer's ``fields`` and ``tilestats`` with its
  geometry type). Without it GDAL would probe up to 1,000 tiles to learn the fields.
- **OGC API - Tiles** (OGC 20-057, Part 1 Core) beside OGC API Features at
  ``/ogc/features``: ``/tileMatrixSets`` and ``/tileMatrixSets/WebMercatorQuad`` (OGC
  Two Dimensional Tile Matrix Set 2.0, JSON: :func:`web_mercator_quad`),
  ``/collections/{id}/tiles`` (the tilesets list: :func:`tilesets`) and
  ``/collections/{id}/tiles/WebMercatorQuad`` (the tileset: :func:`tileset`) whose
  ``item`` link is the URL template ``.../{tileMatrix}/{tileRow}/{tileCol}``
  (row = y, column = x of the XYZ scheme). Each tiled collection links its tilesets with
  the relation ``http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector``, which
  QGIS 3.34+ and GDAL's OGCAPI driver follow (GDAL 3.6.2 reads every document, answered
  200, yet opens no layer: its vector-tiles branch is not compiled, being under
  ``#ifdef OGR_ENABLE_DRIVER_GML``, which 3.6's CMake sets only after configuring
  ``frmts/``; its MVT directory mode above works).

Coordinates: bounds in CRS84 degrees (longitude, latitude); the tile matrix set in
EPSG:3857 metres, 256-pixel tiles, zooms 0 to ``geo.maps.tiling.MAX_ZOOM``.
"""

from __future__ import annotations

import json

from geo.layers import Layer
from geo.maps import tiles, tiling
from geo.maps.tiling import MAX_ZOOM, WEB_MERCATOR_HALF_WIDTH

MVT_MIME = "application/vnd.mapbox-vector-tile"
JSON_MIME = "application/json"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
WEB_MERCATOR_URI = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
# OGC API - Tiles Part 1 (1.0) and the tile matrix set standard's JSON encoding.
CONFORMANCE_CLASSES = (
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)
TILE_SIZE = 256  # pixels a side of a tile of the matrix set
PIXEL_SIZE_M = 0.00028  # the OGC standardised rendering pixel (scale denominators)
# The world, when a layer has no data: the Web Mercator square in degrees.
WORLD = (-180.0, -85.0511287798066, 180.0, 85.0511287798066)
# tilestats geometry words (mapbox-geostats), as GDAL's MVT driver reads them.
_GEOSTATS_GEOMETRY = {"Point": "Point", "LineString": "LineString",
                      "MultiPolygon": "Polygon", "Polygon": "Polygon"}
# OGC API - Tiles geometryDimension of a layer: 0 points, 1 lines, 2 polygons.
_DIMENSION = {"Point": 0, "LineString": 1, "MultiPolygon": 2, "Polygon": 2}


def _center(bounds: tuple[float, float, float, float], zoom: int) -> list[float]:
    return [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom]


def gdal_metadata(layer: Layer, bounds: tuple[float, float, float, float] | None) -> dict:
    """``metadata.json`` of a layer's tile directory, as tippecanoe writes it and GDAL's
    MVT driver reads it: ``bounds`` (CRS84, the layer's data; the world when empty)
    limits the tiles GDAL asks for."""
    box = bounds or WORLD
    vector_layer = tiles.tilejson_vector_layer(layer)
    stats = {"layerCount": 1, "layers": [{
        "layer": layer.name, "geometry": _GEOSTATS_GEOMETRY[layer.geometry_type],
        "attributeCount": len(vector_layer["fields"]),
        "attributes": [{"attribute": name, "type": kind.lower()}
                       for name, kind in vector_layer["fields"].items()]}]}
    return {
        "name": layer.name, "description": layer.title, "version": "2",
        "minzoom": "0", "maxzoom": str(MAX_ZOOM),
        "center": ",".join(f"{v:g}" for v in _center(box, 8)),
        "bounds": ",".join(f"{v:.6f}" for v in box),
        "type": "overlay", "format": "pbf",
        "json": json.dumps({"vector_layers": [vector_layer], "tilestats": stats}),
    }


def web_mercator_quad(base_url: str) -> dict:
    """The WebMercatorQuad tile matrix set: EPSG:3857, 256-pixel tiles, 2^z x 2^z tiles
    at zoom z; ``base_url`` is the API's root.

    In the JSON of TMS 2.0 (OGC 17-083r4: ``crs``, ``tileMatrices`` with ``cellSize``
    and ``pointOfOrigin``) and, in the same document, TMS 1.0's members (``identifier``,
    ``supportedCRS``, ``tileMatrix`` with ``topLeftCorner``): GDAL 3.6 parses only 1.0
    (a 2.0 document alone: "Cannot parse CRS"), newer clients 2.0."""
    world = 2 * WEB_MERCATOR_HALF_WIDTH
    matrices = []
    for z in range(MAX_ZOOM + 1):
        cell = world / TILE_SIZE / 2**z  # metres per pixel
        matrices.append({
            "id": str(z), "scaleDenominator": cell / PIXEL_SIZE_M, "cellSize": cell,
            "cornerOfOrigin": "topLeft",
            "pointOfOrigin": [-WEB_MERCATOR_HALF_WIDTH, WEB_MERCATOR_HALF_WIDTH],
            "tileWidth": TILE_SIZE, "tileHeight": TILE_SIZE,
            "matrixWidth": 2**z, "matrixHeight": 2**z})
    return {
        "id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
        "crs": WEB_MERCATOR_URI, "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
        "type": "TileMatrixSetType", "identifier": TMS_ID, "supportedCRS": WEB_MERCATOR_URI,
        "tileMatrix": [{"type": "TileMatrixType", "identifier": m["id"],
                        "scaleDenominator": m["scaleDenominator"],
                        "topLeftCorner": m["pointOfOrigin"], "tileWidth": TILE_SIZE,
                        "tileHeight": TILE_SIZE, "matrixWidth": m["matrixWidth"],
                        "matrixHeight": m["matrixHeight"]} for m in matrices],
        "links": [{"rel": "self", "type": JSON_MIME, "title": TMS_ID,
                   "href": f"{base_url}/tileMatrixSets/{TMS_ID}"}],
    }


def tile_matrix_sets(base_url: str) -> dict:
    """``/tileMatrixSets``: the one tile matrix set the tiles use."""
    return {"tileMatrixSets": [{
        "id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
        "links": [{"rel": "self", "type": JSON_MIME, "title": TMS_ID,
                   "href": f"{base_url}/tileMatrixSets/{TMS_ID}"}]}]}


def _tileset_links(base_url: str, layer: Layer, query: str) -> list[dict]:
    url = f"{base_url}/collections/{layer.name}/tiles/{TMS_ID}"
    return [
        {"rel": "self", "type": JSON_MIME, "title": f"{layer.title}: tileset",
         "href": f"{url}{query}"},
        {"rel": REL_TILING_SCHEME, "type": JSON_MIME, "title": TMS_ID,
         "href": f"{base_url}/tileMatrixSets/{TMS_ID}"},
        {"rel": "item", "type": MVT_MIME, "title": f"{layer.title}: tiles (MVT)",
         "templated": True,
         "href": f"{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{query}"},
    ]


def tilesets(base_url: str, layer: Layer, query: str = "") -> dict:
    """``/collections/{id}/tiles``: the collection's one vector tileset; ``query`` (""
    or "?...") the filters a client gave, carried to the tileset and its tiles."""
    return {
        "links": [{"rel": "self", "type": JSON_MIME, "title": "Tilesets",
                   "href": f"{base_url}/collections/{layer.name}/tiles{query}"}],
        "tilesets": [{"title": layer.title, "dataType": "vector", "crs": WEB_MERCATOR_URI,
                      "tileMatrixSetURI": TMS_URI,
                      "links": _tileset_links(base_url, layer, query)}],
    }


def tile_matrix_set_limits(bounds: tuple[float, float, float, float]) -> list[dict]:
    """Per zoom, the rows and columns of the tiles that cover ``bounds`` (CRS84): the
    tileset's ``tileMatrixSetLimits``, so that a client asks only for those."""
    west, south, east, north = bounds
    limits = []
    for z in range(MAX_ZOOM + 1):
        left, top = tiling.tile_of(west, north, z)
        right, bottom = tiling.tile_of(east, south, z)
        limits.append({"tileMatrix": str(z), "minTileRow": top, "maxTileRow": bottom,
                       "minTileCol": left, "maxTileCol": right})
    return limits


def tileset(base_url: str, layer: Layer, bounds: tuple[float, float, float, float] | None,
            query: str = "") -> dict:
    """``/collections/{id}/tiles/WebMercatorQuad``: the tileset's metadata, its layer
    (the MVT layer named as the collection, with its properties' schema), the bounding
    box of its data (CRS84) and the tiles that cover it at each zoom."""
    box = bounds or WORLD
    vector_layer = tiles.tilejson_vector_layer(layer)
    types = {"String": "string", "Number": "number", "Boolean": "boolean"}
    return {
        "title": layer.title, "dataType": "vector", "crs": WEB_MERCATOR_URI,
        "tileMatrixSetURI": TMS_URI,
        "boundingBox": {"lowerLeft": [box[0], box[1]], "upperRight": [box[2], box[3]],
                        "crs": CRS84},
        "centerPoint": {"coordinates": _center(box, 8)[:2], "crs": CRS84,
                        "tileMatrix": "8"},
        "tileMatrixSetLimits": tile_matrix_set_limits(box),
        "layers": [{
            "id": layer.name, "title": layer.title, "description":
                vector_layer["description"], "dataType": "vector",
            "geometryDimension": _DIMENSION[layer.geometry_type],
            "minTileMatrix": "0", "maxTileMatrix": str(MAX_ZOOM),
            "propertiesSchema": {"type": "object", "properties": {
                name: {"type": types[kind]} for name, kind in vector_layer["fields"].items()}},
        }],
        "links": _tileset_links(base_url, layer, query),
    }
