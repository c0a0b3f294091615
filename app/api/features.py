"""The four layers as REST resources: list, get, create, PATCH, DELETE, export.

``/api/v1/{layer}`` and ``/api/v1/{layer}/{id}`` with ``layer`` one of regions, segments,
crossings, incidents. Every route parses the request, calls one function in ``geo`` and
wraps its answer.
"""

from __future__ import annotations

import dataclasses
import json

from flask import Response, current_app, request, url_for
from sqlalchemy.exc import IntegrityError

from app import audit
from app.api import ApiError, bp
from app.api.downloads import streamed_file, whole_file
from app.api.params import (
    ParameterError,
    parse_bbox,
    parse_bool,
    parse_crs,
    parse_datetime_interval,
    parse_int,
    parse_list,
    parse_sortby,
)
from app.api.scoping import (
    refuse_deleting_linked_region,
    refuse_other_agencys_record,
    refuse_reference_write_when_scoped,
    scoped_region_code,
    write_rights,
)
from app.auth.scope import region_scope, viewer_agency
from app.auth.users import record_scope_changes, scope_snapshots
from app.extensions import db
from app.request_json import loads_bounded
from geo import queries
from geo.io import export
from geo.io.ingest import SCOPE_FIELD, IngestReport, ingest, patched_feature
from geo.io.readers import rows_with_geometry
from geo.layers import LAYER_ALIASES, LAYERS, Layer, get_layer
from geo.queries.agency_checks import agency_codes
from geo.transactions import unit_of_work

GEOJSON_MIME = "application/geo+json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9
# Every layer by its name and by the older names the API promised (segments, crossings).
LAYER_RULE = "<any(" + ", ".join([*LAYERS, *LAYER_ALIASES]) + "):layer_name>"
FILTER_PARAMETERS = ("bbox", "datetime", "category", "outcome", "region", "status", "agency")
FORMATS = ("geojson", "csv", "gpkg")


def parse_feature_query(layer: Layer, args) -> queries.FeatureQuery:
    """The list filters of a request; a filter the layer does not have is an error.

    Only the caller's regions are listed (``app.auth.scope``); naming another region is
    ``OutOfScopeError`` (403).
    """
    for name in FILTER_PARAMETERS:
        if args.get(name) not in (None, "") and name not in layer.filters:
            raise ParameterError(name, f"does not apply to {layer.name}; filters are "
                                       f"{', '.join(sorted(layer.filters))}")
    start, end = parse_datetime_interval(args.get("datetime"))
    region_id = None
    if args.get("region"):
        scoped_region_code(args["region"], default=False)  # 403 outside the caller's
        region_id = queries.region_id_for_code(db.session, args["region"])
        if region_id is None:
            raise ParameterError("region", f"unknown region code {args['region']!r}")
    status_field = layer.field("status") if "status" in layer.filters else None
    return queries.FeatureQuery(
        bbox=parse_bbox(args.get("bbox")),
        start=start,
        end=end,
        categories=parse_list("category", args.get("category"),
                              layer.field("category").choices
                              if "category" in layer.filters else None),
        outcomes=parse_list("outcome", args.get("outcome"),
                            layer.field("outcome").choices
                            if "outcome" in layer.filters else None),
        statuses=parse_list("status", args.get("status"),
                            status_field.choices if status_field else None),
        region_id=region_id,
        agencies=(parse_list("agency", args.get("agency"), agency_codes(db.session))
                  if args.get("agency") and "agency" in layer.filters else []),
        scope_region_ids=region_scope(),
        viewer_agency=viewer_agency(),
        sort=parse_sortby(args.get("sortby"), layer.sortable),
        limit=parse_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=parse_int("offset", args.get("offset"), 0, 0, MAX_OFFSET),
    )


def _next_link(layer: Layer, query: queries.FeatureQuery, matched: int | None,
               returned: int) -> list[dict]:
    # matched None: more than the bound match (queries.count_cap), so more than this page
    if (returned < (query.limit or 0) if matched is None
            else query.offset + (query.limit or 0) >= matched):
        return []
    args = request.args.to_dict()
    args["offset"] = str(query.offset + query.limit)
    args["limit"] = str(query.limit)
    href = url_for("api.list_features", layer_name=layer.name, _external=True, **args)
    return [{"rel": "next", "type": GEOJSON_MIME, "href": href}]


@bp.get(f"/{LAYER_RULE}")
def list_features(layer_name: str):
    layer = get_layer(layer_name)
    fmt = request.args.get("f", "geojson")
    if fmt not in FORMATS:
        raise ParameterError("f", f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    query = parse_feature_query(layer, request.args)
    if fmt != "geojson" and "limit" not in request.args:
        # A file carries no paging links, so without an explicit page it holds the whole
        # selection (streamed), never a silently cut first page.
        query = dataclasses.replace(query, limit=None)
    if fmt == "csv":
        # Streamed: a database failure after the first rows cuts the transfer visibly.
        rows = queries.iter_feature_rows(db.session, layer, query)
        return streamed_file(export.csv_chunks(layer, rows), what=f"{layer.name} (csv)",
                             mimetype="text/csv", filename=f"{layer.name}.csv")
    if fmt == "gpkg":
        # Written whole first: a database failure is a 503, never a cut download.
        rows = queries.iter_feature_rows(db.session, layer, query)
        return whole_file(export.gpkg_file(layer, rows),
                          mimetype="application/geopackage+sqlite3",
                          filename=f"{layer.name}.gpkg")
    collection = json.loads(queries.features_geojson(db.session, layer, query))
    if collection["numberMatched"] is None:
        # Not counted past the bound (a list without a time window): left out, as
        # OGC API - Features allows; "next" still links a full page's successor.
        del collection["numberMatched"]
    collection["links"] = _next_link(layer, query, collection.get("numberMatched"),
                                     collection["numberReturned"])
    # Asked for as a file (f=geojson, the page's export): named with its extension, not
    # after the last part of the URL.
    headers = ({"Content-Disposition": f'attachment; filename="{layer.name}.geojson"'}
               if "f" in request.args else {})
    return Response(json.dumps(collection), mimetype=GEOJSON_MIME, headers=headers)


@bp.get(f"/{LAYER_RULE}/<int:feature_id>")
def get_feature(layer_name: str, feature_id: int):
    # A feature outside the caller's regions, or not released to their agency, is not
    # found: its existence is not revealed.
    return Response(_feature_or_404(get_layer(layer_name), feature_id, region_scope(),
                                    viewer_agency()),
                    mimetype=GEOJSON_MIME)


def _feature_or_404(layer: Layer, feature_id: int,
                    scope_region_ids: frozenset[int] | None = None,
                    viewer: str | None = None) -> str:
    body = queries.feature_geojson(db.session, layer, feature_id, scope_region_ids, viewer)
    if body is None:
        raise ApiError(404, "Not Found", f"no {layer.name} feature with id {feature_id}")
    return body


def _writable_feature(layer: Layer, feature_id: int) -> str:
    """The feature a PATCH or DELETE writes: 404 when there is none, it lies outside
    the caller's regions (or in none) or is not released to their agency, as a GET
    answers: its existence is not revealed."""
    refuse_reference_write_when_scoped(layer)
    return _feature_or_404(layer, feature_id, region_scope(), viewer_agency())


def read_json_body():
    """The request body as JSON; 400 naming the position of a syntax error."""
    raw = request.get_data(cache=False)
    try:
        return loads_bounded(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise ApiError(400, "Bad Request", f"the body is not valid JSON: {exc}") from None


def _features_of(body) -> tuple[list, bool]:
    """(features, is_collection) of a Feature or FeatureCollection body."""
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        features = body.get("features")
        if not isinstance(features, list):
            raise ApiError(422, "Unprocessable Content",
                             "features: a FeatureCollection needs a features array",
                             field="features")
        return features, True
    if isinstance(body, dict) and body.get("type") == "Feature":
        return [body], False
    raise ApiError(422, "Unprocessable Content",
                     "type: the body must be a GeoJSON Feature or FeatureCollection",
                     field="type")


def _where(row: int, field: str, collection: bool) -> str:
    prefix = f"features[{row}]." if collection else ""
    if field == SCOPE_FIELD:  # the feature as a whole
        return f"features[{row}]" if collection else "feature"
    if field == "geometry":
        return f"{prefix}geometry"
    if field in ("type", "properties"):
        return f"{prefix}{field}"
    return f"{prefix}properties.{field}"


def raise_for_report(report: IngestReport, collection: bool) -> None:
    """403 when a feature is beyond the caller's rights (outside its regions, a status
    above its role), listing those; else 422 (or 409 when only existing keys collide)
    listing every problem."""
    if report.error_count == 0:
        return
    if report.forbidden:
        denied = [{"index": e.row, "field": e.field, "pointer": _where(e.row, e.field,
                                                                      collection),
                   "message": e.message} for e in report.permission_errors]
        more = len(denied) - 1
        raise ApiError(403, "Forbidden", f"{denied[0]['pointer']}: {denied[0]['message']}"
                       + (f" (and {more} more)" if more else "") + "; nothing was written",
                       field=denied[0]["field"], errors=denied)
    errors = [{"index": e.row, "field": e.field, "pointer": _where(e.row, e.field, collection),
               "message": e.message} for e in report.errors]
    first = errors[0]
    more = report.error_count - 1
    detail = f"{first['pointer']}: {first['message']}" + (
        f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
    if report.conflict:
        raise ApiError(409, "Conflict", detail, errors=errors)
    raise ApiError(422, "Unprocessable Content", detail, errors=errors,
                     error_count=report.error_count)


def _write_options(layer: Layer) -> dict:
    return {
        **write_rights(layer),
        "analysis_srid": current_app.config["ANALYSIS_SRID"],
        "allow_outside": parse_bool("allow_outside", request.args.get("allow_outside")),
        "dry_run": parse_bool("dry_run", request.args.get("dry_run")),
    }


@bp.post(f"/{LAYER_RULE}")
def create_features(layer_name: str):
    layer = get_layer(layer_name)
    refuse_reference_write_when_scoped(layer)
    source_srid = parse_crs("crs", request.args.get("crs"))
    options = _write_options(layer)
    features, collection = _features_of(read_json_body())
    frame, parse_errors = rows_with_geometry(features)
    if frame.empty:
        raise ApiError(422, "Unprocessable Content", "features: the collection is empty",
                         field="features")
    with unit_of_work(db.session) as work:
        report = ingest(db.session, layer, [(frame, source_srid, parse_errors)],
                        mode="create", **options)
        raise_for_report(report, collection)  # nothing is kept
        if report.dry_run:
            work.discard()
        else:
            audit.record_features(db.session, "create", layer, report.ids)
    if report.dry_run:
        return {"dry_run": True, **report.as_dict("index")}, 200
    if not collection:
        new_id = report.ids[0]
        location = url_for("api.get_feature", layer_name=layer.name, feature_id=new_id)
        return Response(_feature_or_404(layer, new_id), status=201, mimetype=GEOJSON_MIME,
                        headers={"Location": location})
    body = json.loads(queries.features_geojson(
        db.session, layer, queries.FeatureQuery(ids=report.ids, limit=None,
                                                sort=[("id", False)])))
    return Response(json.dumps(body), status=201, mimetype=GEOJSON_MIME)


@bp.patch(f"/{LAYER_RULE}/<int:feature_id>")
def update_feature(layer_name: str, feature_id: int):
    layer = get_layer(layer_name)
    source_srid = parse_crs("crs", request.args.get("crs"))
    options = _write_options(layer)
    current = json.loads(_writable_feature(layer, feature_id))
    patch = read_json_body()
    if not isinstance(patch, dict):
        raise ApiError(422, "Unprocessable Content",
                         "the body must be an object with properties and/or geometry")
    changes = patch.get("properties", {})
    if not isinstance(changes, dict):
        raise ApiError(422, "Unprocessable Content", "properties: must be an object",
                         field="properties")
    merged = patched_feature(layer, current, {**patch, "properties": changes})
    if "geometry" not in patch:
        source_srid = 4326  # the stored geometry is already EPSG:4326
    frame, parse_errors = rows_with_geometry([merged])
    with unit_of_work(db.session) as work:
        before = audit.lock_features(db.session, layer, [feature_id])
        scopes_before = scope_snapshots(db.session) if layer.name == "regions" else None
        report = ingest(db.session, layer, [(frame, source_srid, parse_errors)],
                        mode="update", target_id=feature_id, **options)
        raise_for_report(report, collection=False)  # nothing is kept
        if report.dry_run:
            work.discard()
        else:
            audit.record_features(db.session, "update", layer, report.ids, before=before)
            if scopes_before is not None:  # a new code: the linked users' regions renamed
                record_scope_changes(db.session, scopes_before,
                                     f"regions feature {feature_id} changed")
    if report.dry_run:
        return {"dry_run": True, **report.as_dict("index")}, 200
    return Response(_feature_or_404(layer, feature_id), mimetype=GEOJSON_MIME)


@bp.delete(f"/{LAYER_RULE}/<int:feature_id>")
def delete_feature(layer_name: str, feature_id: int):
    layer = get_layer(layer_name)
    current = json.loads(_writable_feature(layer, feature_id))
    refuse_other_agencys_record(layer, current)
    if layer.name == "regions":
        refuse_deleting_linked_region(feature_id)
    try:
        with unit_of_work(db.session):
            audit.record_features(db.session, "delete", layer, [feature_id])  # before it goes
            if not queries.delete_feature(db.session, layer, feature_id,
                                          current_app.config["ANALYSIS_SRID"]):
                raise ApiError(404, "Not Found",
                               f"no {layer.name} feature with id {feature_id}")
    except IntegrityError as exc:
        # Stored risk assessments and level decisions are records: they keep the regions
        # and sections they are about (foreign keys ON DELETE RESTRICT).
        table = getattr(getattr(exc.orig, "diag", None), "table_name", None) or "records"
        raise ApiError(409, "Conflict", f"{layer.name} feature {feature_id} is referenced "
                                        f"by {table}, which cannot change; nothing was "
                                        "deleted") from None
    return "", 204
