"""OGC API - Features (Part 1 Core, Part 2 CRS) at ``/ogc/features``.

The protocol functions (``landing_page``, ``conformance``, ``openapi``,
``describe_collections``, ``get_collection_items``, ``get_collection_item``...) take an
``OgcRequest`` and return ``(headers, status, body)`` as pygeoapi's API does; the Flask
routes at the end only adapt. Data comes from ``geo.maps.ogc_features`` (one call per
request); the items' GeoJSON is written by PostgreSQL and spliced into the envelope
here, never parsed (except to render HTML).

Errors are OGC API exceptions: ``{"code": ..., "description": ...}`` with 400 (a bad
parameter, named) or 404 (no such collection or item).

A user restricted to regions (``app.auth.scope``) reads only their regions' items
(``geo.maps.ogc_features`` says how each collection is restricted); an item outside the
scope is 404, as if it did not exist; so is an incident not released to the caller's
agency (``geo.scope``), and collection extents are those of what the caller sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from app.api.params import ParameterError, parse_bbox, parse_datetime_interval
from app.ogc import tile_discovery
from app.ogc.context import Answer, ServiceContext
from geo import clock, queries
from geo.io.validation import quoted
from geo.layers import COLLECTIONS, TILE_LAYERS, Layer
from geo.maps import ogc_features
from geo.maps.ogc_features import CRS84, CRS_URIS, OutputCrs
from geo.risk import levels

JSON_MIME = "application/json"
GEOJSON_MIME = "application/geo+json"
HTML_MIME = "text/html"
OPENAPI_MIME = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9
TITLE = "BorderRisk OGC API - Features"
CONFORMANCE_CLASSES = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # OGC API - Tiles of the tiled collections (app.ogc.tile_discovery)
    *tile_discovery.CONFORMANCE_CLASSES,
)
ITEM_PARAMETERS = frozenset({"f", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset"})
FORMATS = ("json", "html")


class OgcApiError(Exception):
    """An OGC API exception: HTTP ``status``, ``code`` and a ``description``."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


@dataclass
class OgcRequest:
    """What the protocol functions need of an HTTP request."""

    base_url: str  # .../ogc/features, no trailing slash
    args: dict[str, str]
    format: str  # json | html
    context: ServiceContext


def _json(document: dict, mime: str = JSON_MIME, status: int = 200) -> Answer:
    return {"Content-Type": mime}, status, json.dumps(document)


def _html(req: OgcRequest, template: str, **context) -> Answer:
    return {"Content-Type": "text/html; charset=utf-8"}, 200, req.context.render_html(
        f"ogc/{template}", title=TITLE, **context)


def _links(url: str, json_mime: str, title: str) -> list[dict]:
    """self/alternate links of a resource in JSON (``json_mime``) and HTML."""
    return [
        {"rel": "self", "type": json_mime, "title": f"{title} (JSON)", "href": f"{url}?f=json"},
        {"rel": "alternate", "type": HTML_MIME, "title": f"{title} (HTML)",
         "href": f"{url}?f=html"},
    ]


# ------------------------------------------------------------------ protocol functions


def landing_page(req: OgcRequest) -> Answer:
    base = req.base_url
    document = {
        "title": TITLE,
        "description": "Border sections, crossing points, regions, incidents and the "
                       "latest hot-spot and risk results of BorderRisk.",
        "links": [
            *_links(base, JSON_MIME, "this document"),
            {"rel": "service-desc", "type": OPENAPI_MIME, "title": "OpenAPI definition",
             "href": f"{base}/api"},
            {"rel": "conformance", "type": JSON_MIME, "title": "Conformance classes",
             "href": f"{base}/conformance"},
            {"rel": "data", "type": JSON_MIME, "title": "Collections",
             "href": f"{base}/collections"},
            {"rel": tile_discovery.REL_TILING_SCHEMES, "type": JSON_MIME,
             "title": "Tile matrix sets of the vector tiles",
             "href": f"{base}/tileMatrixSets"},
        ],
    }
    if req.format == "html":
        return _html(req, "features_landing.html", document=document)
    return _json(document)


def conformance(req: OgcRequest) -> Answer:
    document = {"conformsTo": list(CONFORMANCE_CLASSES)}
    if req.format == "html":
        return _html(req, "features_conformance.html", document=document)
    return _json(document)


def _collection_document(req: OgcRequest, collection: Layer) -> dict:
    url = f"{req.base_url}/collections/{collection.name}"
    extent = ogc_features.collection_extent(req.context.session, collection,
                                            req.context.scope, req.context.agency)
    return {
        "id": collection.name,
        "title": collection.title,
        "description": collection.collection,
        "itemType": "feature",
        "extent": extent,
        "crs": list(CRS_URIS),
        "storageCrs": CRS84,
        "links": [
            *_links(url, JSON_MIME, collection.title),
            {"rel": "items", "type": GEOJSON_MIME, "title": "Items (GeoJSON)",
             "href": f"{url}/items?f=json"},
            {"rel": "items", "type": HTML_MIME, "title": "Items (HTML)",
             "href": f"{url}/items?f=html"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "title": "Queryables",
             "href": f"{url}/queryables"},
            *([{"rel": tile_discovery.REL_TILESETS_VECTOR, "type": JSON_MIME,
                "title": "Vector tilesets (OGC API - Tiles)", "href": f"{url}/tiles"}]
              if collection.name in TILE_LAYERS else []),
        ],
    }


def describe_collections(req: OgcRequest) -> Answer:
    url = f"{req.base_url}/collections"
    document = {
        "links": _links(url, JSON_MIME, "Collections"),
        "collections": [_collection_document(req, c) for c in COLLECTIONS.values()],
        "crs": list(CRS_URIS),
    }
    if req.format == "html":
        return _html(req, "features_collections.html", document=document)
    return _json(document)


def _collection(collection_id: str) -> Layer:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise OgcApiError(404, "NotFound", f"no collection {collection_id!r}; collections: "
                          f"{', '.join(COLLECTIONS)}") from None


def describe_collection(req: OgcRequest, collection_id: str) -> Answer:
    document = _collection_document(req, _collection(collection_id))
    if req.format == "html":
        return _html(req, "features_collection.html", document=document)
    return _json(document)


_SCHEMA_TYPES = {"text": "string", "choice": "string", "int": "integer", "float": "number",
                 "timestamp": "string", "bool": "boolean"}


def queryables(req: OgcRequest, collection_id: str) -> Answer:
    collection = _collection(collection_id)
    properties = {}
    for field in collection.queryables:
        schema: dict = {"title": field.name, "type": _SCHEMA_TYPES[field.kind]}
        if field.choices:
            schema["enum"] = list(field.choices)
        if field.description:
            schema["description"] = field.description
        properties[field.name] = schema
    document = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{req.base_url}/collections/{collection.name}/queryables",
        "type": "object", "title": collection.title, "properties": properties,
    }
    return _json(document, "application/schema+json")


def _output_crs(args: dict, name: str) -> OutputCrs:
    value = args.get(name)
    if value in (None, ""):
        return CRS_URIS[CRS84]
    crs = ogc_features.output_crs(value)
    if crs is None:
        raise ParameterError(name, f"unsupported CRS {value!r}; supported: "
                             f"{', '.join(CRS_URIS)} (or "
                             f"{', '.join(ogc_features.CRS_SHORT_NAMES)})")
    return crs


def _bbox(args: dict) -> tuple[tuple[float, float, float, float] | None, int]:
    """The bbox as (min x, min y, max x, max y) in the returned EPSG code's axis order
    x/y (EPSG:4326 given lat/lon is swapped here)."""
    value = args.get("bbox")
    crs = _output_crs(args, "bbox-crs")
    if value in (None, ""):
        if args.get("bbox-crs"):
            raise ParameterError("bbox-crs", "given without bbox")
        return None, 4326
    parts = value.split(",")
    if len(parts) == 6:  # three-dimensional: heights are ignored
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if crs.swap_axes and len(parts) == 4:
        parts = [parts[1], parts[0], parts[3], parts[2]]
    if crs.srid == 4326:
        return parse_bbox(",".join(parts)), 4326
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise ParameterError("bbox", f"{value!r} holds something that is not a number") from None
    if len(numbers) != 4 or numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise ParameterError("bbox", "needs minX,minY,maxX,maxY with minimum <= maximum")
    return numbers, crs.srid


def _limit(args: dict) -> int:
    value = args.get("limit")
    if value in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise ParameterError("limit", f"{quoted(value)} is not a whole number") from None
    if limit < 1:
        raise ParameterError("limit", f"must be at least 1, got {quoted(value)}")
    return min(limit, MAX_LIMIT)  # a larger limit is served as the maximum (OGC 17-069r4)


def _offset(args: dict) -> int:
    value = args.get("offset")
    if value in (None, ""):
        return 0
    # The length first: int() refuses more than 4,300 digits.
    if (not value.isascii() or not value.isdigit() or len(value) > 18
            or int(value) > MAX_OFFSET):
        raise ParameterError("offset", f"{quoted(value)} is not a whole number from 0 to "
                             f"{MAX_OFFSET:,}")
    return int(value)


def _items_query(collection: Layer, args: dict, scope: frozenset[int] | None,
                 agency: str | None) -> queries.FeatureQuery:
    filters = {f.name: f for f in collection.queryables}
    unknown = sorted(set(args) - ITEM_PARAMETERS - set(filters))
    if unknown:
        raise ParameterError(unknown[0], "unknown parameter; parameters are "
                             f"{', '.join(sorted(ITEM_PARAMETERS | set(filters)))}")
    if args.get("datetime") and not collection.temporal:
        raise ParameterError("datetime", f"{collection.name} has no time; only incidents do")
    start, end = parse_datetime_interval(args.get("datetime"))
    bbox, bbox_srid = _bbox(args)
    return queries.FeatureQuery(
        bbox=bbox, bbox_srid=bbox_srid, start=start, end=end,
        equals={name: ogc_features.parse_property_value(filters[name], args[name])
                for name in filters if name in args},
        sort=[("id", False)], limit=_limit(args), offset=_offset(args),
        scope_region_ids=scope, viewer_agency=agency,
    )


def _page_links(req: OgcRequest, url: str, query: queries.FeatureQuery,
                page: queries.FeaturePage) -> list[dict]:
    def href(fmt: str, offset: int | None = None) -> str:
        args = {**req.args, "f": fmt}
        if offset is not None:
            args["offset"] = str(offset)
            args["limit"] = str(query.limit)
        return f"{url}?{urlencode(args)}"

    links = [
        {"rel": "self", "type": GEOJSON_MIME, "title": "this page (GeoJSON)",
         "href": href("json")},
        {"rel": "alternate", "type": HTML_MIME, "title": "this page (HTML)",
         "href": href("html")},
        {"rel": "collection", "type": JSON_MIME, "title": "the collection",
         "href": url.rsplit("/", 1)[0]},
    ]
    if (page.number_returned == query.limit if page.number_matched is None
            else query.offset + page.number_returned < page.number_matched):
        links.append({"rel": "next", "type": GEOJSON_MIME, "title": "next page",
                      "href": href("json", query.offset + query.limit)})
    if query.offset > 0:
        links.append({"rel": "prev", "type": GEOJSON_MIME, "title": "previous page",
                      "href": href("json", max(query.offset - query.limit, 0))})
    return links


def _settings(req: OgcRequest) -> tuple[int, int]:
    return req.context.max_cells, req.context.analysis_srid


def _table_values(req: OgcRequest, collection: Layer) -> dict[str, str]:
    """What the collection's table binds: the ``risk`` collection's live scores of the
    sections no stored assessment covers (``geo.risk.levels``), as the workspace
    computes them (in the view every agency shares)."""
    if "live_risk" not in collection.table_parameters or req.context.risk_model is None:
        return {}
    return {"live_risk": levels.live_risk_json(req.context.session, req.context.risk_model,
                                               req.context.analysis_srid, clock.utc_now())}


def get_collection_items(req: OgcRequest, collection_id: str) -> Answer:
    collection = _collection(collection_id)
    query = _items_query(collection, req.args, req.context.scope, req.context.agency)
    query.table_values = _table_values(req, collection)
    crs = _output_crs(req.args, "crs")
    page = ogc_features.items(req.context.session, collection, query, crs, *_settings(req))
    url = f"{req.base_url}/collections/{collection.name}/items"
    envelope = {
        "type": "FeatureCollection",
        # left out when more match than a list without a time window counts
        # (queries.count_cap): optional in OGC API - Features
        **({} if page.number_matched is None else {"numberMatched": page.number_matched}),
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).replace(microsecond=0).isoformat().replace(
            "+00:00", "Z"),
        "links": _page_links(req, url, query, page),
    }
    headers = {"Content-Crs": f"<{crs.uri}>"}
    if req.format == "html":
        headers_html, status, body = _html(req,
            "features_items.html", collection=collection, document=envelope,
            features=json.loads(page.features), offset=query.offset,
            counted=queries.count_cap(collection, query))
        return {**headers_html, **headers}, status, body
    # The features' text comes from the database as it is: spliced, not re-encoded.
    body = json.dumps(envelope)[:-1] + ', "features": ' + page.features + "}"
    return {"Content-Type": GEOJSON_MIME, **headers}, 200, body


def get_collection_item(req: OgcRequest, collection_id: str, feature_id: str) -> Answer:
    collection = _collection(collection_id)
    unknown = sorted(set(req.args) - {"f", "crs"})
    if unknown:
        raise ParameterError(unknown[0], "unknown parameter; parameters are crs, f")
    crs = _output_crs(req.args, "crs")
    feature = None
    if feature_id.isascii() and feature_id.isdigit() and len(feature_id) < 10:
        feature = ogc_features.item(req.context.session, collection, int(feature_id), crs,
                                    *_settings(req), scope_region_ids=req.context.scope,
                                    viewer_agency=req.context.agency,
                                    table_values=_table_values(req, collection))
    if feature is None:
        raise OgcApiError(404, "NotFound", f"no item {feature_id!r} in {collection.name}")
    url = f"{req.base_url}/collections/{collection.name}/items/{feature_id}"
    links = [*_links(url, GEOJSON_MIME, "this item"),
             {"rel": "collection", "type": JSON_MIME, "title": collection.title,
              "href": f"{req.base_url}/collections/{collection.name}"}]
    headers = {"Content-Crs": f"<{crs.uri}>"}
    if req.format == "html":
        headers_html, status, body = _html(req, "features_item.html", collection=collection,
                                           feature=json.loads(feature), links=links)
        return {**headers_html, **headers}, status, body
    body = feature[:-1] + ', "links": ' + json.dumps(links) + "}"
    return {"Content-Type": GEOJSON_MIME, **headers}, 200, body


# ------------------------------------------------------------------ OpenAPI


def _parameter(name: str, description: str, schema: dict, style: str | None = None,
               explode: bool | None = None) -> dict:
    parameter = {"name": name, "in": "query", "required": False,
                 "description": description, "schema": schema}
    if style:
        parameter["style"] = style
    if explode is not None:
        parameter["explode"] = explode
    return parameter


# ``limit`` is declared once, under components/parameters, with its default and maximum:
# QGIS reads it there (and only there) to choose its page size (3.22: 1,000 when the
# default is below and the maximum above; 100 without it); the items paths refer to it.
LIMIT_PARAMETER = _parameter(
    "limit", f"Items per page (default {DEFAULT_LIMIT}; larger than {MAX_LIMIT:,} is served "
    f"as {MAX_LIMIT:,}).",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    style="form", explode=False)
_FORMAT_PARAMETER = _parameter("f", "Output format; by default the Accept header decides.",
                               {"type": "string", "enum": list(FORMATS)})
_CRS_SCHEMA = {"type": "string", "enum": [*CRS_URIS, *ogc_features.CRS_SHORT_NAMES]}
_EXCEPTION = {"description": "An OGC API exception.",
              "content": {JSON_MIME: {"schema": {"$ref": "#/components/schemas/exception"}}}}


def _operation(operation_id: str, summary: str, mime: str, parameters=(),
               not_found: bool = False) -> dict:
    responses = {
        "200": {"description": summary, "content": {
            mime: {"schema": {"type": "object"}},
            HTML_MIME: {"schema": {"type": "string"}}}},
        "400": _EXCEPTION,
        "401": {"description": "No valid bearer token, HTTP Basic credentials or session."},
    }
    if not_found:
        responses["404"] = _EXCEPTION
    return {"get": {"operationId": operation_id, "summary": summary,
                    "parameters": [_FORMAT_PARAMETER, *parameters], "responses": responses}}


def _path_parameter(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


def _tiles_paths() -> dict:
    """The OGC API - Tiles paths (``app.ogc.tile_discovery``; served by
    ``app.ogc.tiles``) of every tiled collection."""
    tms = _path_parameter("tileMatrixSetId", "The tile matrix set.",
                          {"type": "string", "enum": [tile_discovery.TMS_ID]})

    def get(operation_id: str, summary: str, mime: str, parameters=()) -> dict:
        return {"get": {"operationId": operation_id, "summary": summary,
                        "parameters": list(parameters), "responses": {
                            "200": {"description": summary, "content": {
                                mime: {"schema": {"type": "object"} if "json" in mime
                                       else {"type": "string", "format": "binary"}}}},
                            "204": {"description": "A tile without features."},
                            "400": _EXCEPTION, "401": {"description": "No valid token."},
                            "404": _EXCEPTION}}}

    paths = {
        "/tileMatrixSets": get("getTileMatrixSets", "Tile matrix sets", JSON_MIME),
        "/tileMatrixSets/{tileMatrixSetId}": get(
            "getTileMatrixSet", "A tile matrix set (TMS 2.0 JSON)", JSON_MIME, [tms]),
    }
    for cid in TILE_LAYERS:
        if cid not in COLLECTIONS:
            continue
        base = f"/collections/{cid}/tiles"
        paths[base] = get(f"getTilesets_{cid}", f"Vector tilesets of {cid}", JSON_MIME)
        paths[f"{base}/{{tileMatrixSetId}}"] = get(
            f"getTileset_{cid}", f"Vector tileset of {cid}", JSON_MIME, [tms])
        paths[f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = get(
            f"getTile_{cid}", f"A vector tile of {cid} (MVT)", tile_discovery.MVT_MIME, [
                tms, *(_path_parameter(name, description, {"type": "integer", "minimum": 0})
                       for name, description in (("tileMatrix", "Zoom level."),
                                                 ("tileRow", "Row (y) from the top."),
                                                 ("tileCol", "Column (x) from the left.")))])
    return paths


def openapi(req: OgcRequest) -> Answer:
    paths = {
        "/": _operation("getLandingPage", "Landing page", JSON_MIME),
        "/conformance": _operation("getConformance", "Conformance classes", JSON_MIME),
        "/api": {"get": {"operationId": "getOpenAPI", "summary": "This document",
                         "responses": {"200": {"description": "OpenAPI 3.0",
                                               "content": {OPENAPI_MIME: {}}}}}},
        "/collections": _operation("getCollections", "Collections", JSON_MIME),
    }
    for collection in COLLECTIONS.values():
        cid = collection.name
        filters = [_parameter(f.name, f"Items whose {f.name} equals this value.",
                              {"type": _SCHEMA_TYPES[f.kind],
                               **({"enum": list(f.choices)} if f.choices else {})})
                   for f in collection.queryables]
        item_parameters = [
            _parameter("bbox", "minX,minY,maxX,maxY (or 6 numbers with heights) in "
                       "bbox-crs, CRS84 by default.",
                       {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}, style="form", explode=False),
            _parameter("bbox-crs", "CRS of bbox.", _CRS_SCHEMA),
            _parameter("crs", "CRS of the returned coordinates.", _CRS_SCHEMA),
            {"$ref": "#/components/parameters/limit"},
            _parameter("offset", "Items to skip (the next link sets it).",
                       {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                        "default": 0}),
        ]
        if collection.temporal:
            item_parameters.append(_parameter(
                "datetime", "RFC 3339 instant or interval start/end (open ends '..'); a "
                "date means its whole UTC day.",
                {"type": "string"}))
        paths[f"/collections/{cid}"] = _operation(
            f"describe_{cid}", collection.title, JSON_MIME, not_found=True)
        paths[f"/collections/{cid}/queryables"] = _operation(
            f"queryables_{cid}", f"Queryables of {cid}", "application/schema+json")
        paths[f"/collections/{cid}/items"] = _operation(
            f"getItems_{cid}", f"Items of {cid}" + (
                f" (without datetime, numberMatched is given when at most max("
                f"{queries.NUMBER_MATCHED_BOUND:,}, offset + limit) items match, left out "
                "otherwise; the next link follows a full page)"
                if collection.temporal else ""), GEOJSON_MIME,
            [*item_parameters, *filters])
        item_path = _operation(
            f"getItem_{cid}", f"One item of {cid}", GEOJSON_MIME,
            [_parameter("crs", "CRS of the returned coordinates.", _CRS_SCHEMA)],
            not_found=True)
        item_path["get"]["parameters"].insert(0, {
            "name": "featureId", "in": "path", "required": True,
            "description": "The item's id.", "schema": {"type": "integer"}})
        paths[f"/collections/{cid}/items/{{featureId}}"] = item_path
    paths.update(_tiles_paths())
    document = {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1.0.0",
                 "description": "OGC API - Features Part 1 (Core) and Part 2 (CRS)."},
        "servers": [{"url": req.base_url}],
        "paths": paths,
        "components": {
            "parameters": {"limit": LIMIT_PARAMETER},
            "schemas": {"exception": {
                "type": "object", "required": ["code"],
                "properties": {"code": {"type": "string"},
                               "description": {"type": "string"}}}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "A user name and password, or any user name and "
                                         "an API token as the password."}},
        },
        "security": [{"bearer": []}, {"basic": []}],
    }
    if req.format == "html":
        return _html(req, "features_api.html", document=document,
                     text=json.dumps(document, indent=2))
    return _json(document, OPENAPI_MIME)


def exception_answer(exc: ParameterError | OgcApiError) -> Answer:
    """The OGC API exception document of an error: 400 for a parameter (named)."""
    if isinstance(exc, ParameterError):
        exc = OgcApiError(400, "InvalidParameterValue", str(exc))
    return _json({"code": exc.code, "description": exc.description}, status=exc.status)


def negotiated_format(requested: str | None, best_match) -> str:
    """``json`` or ``html``: the ``f`` parameter when given, else what the Accept header
    prefers (``best_match(mimes, default)``, as werkzeug's)."""
    if requested in (None, ""):
        best = best_match([JSON_MIME, GEOJSON_MIME, OPENAPI_MIME, HTML_MIME], default=JSON_MIME)
        return "html" if best == HTML_MIME else "json"
    if requested not in FORMATS:
        raise ParameterError("f", f"unknown format {requested!r}; formats: "
                             f"{', '.join(FORMATS)}")
    return requested


def answer(function, base_url: str, args: dict[str, str], fmt: str | None, best_match,
           context: ServiceContext, *path) -> Answer:
    """Run a protocol function on a request: its parameters checked (no NUL), its
    errors as OGC API exception documents."""
    try:
        req = OgcRequest(base_url=base_url, args=args,
                         format=negotiated_format(fmt, best_match), context=context)
        if any("\x00" in k or "\x00" in v for k, v in req.args.items()):
            raise ParameterError("query", "contains a NUL character")
        return function(req, *path)
    except (ParameterError, OgcApiError) as exc:
        return exception_answer(exc)


def not_found(req: OgcRequest, path: str) -> Answer:
    raise OgcApiError(404, "NotFound", f"no resource /ogc/features/{path}")
