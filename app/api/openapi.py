"""The OpenAPI 3 document of the API, generated, and a page that renders it.

``GET /api/v1/openapi.json`` is built on each request from what the service really is:
the paths and methods from the app's URL map (a rule with a layer converter becomes one
path per layer), the feature schemas from ``geo.layers.LAYERS`` (types, vocabularies,
ranges, patterns, required and read-only derived properties), parameter ranges and
choices from the constants the parsers use, the import report from
``IngestReport.as_dict``, and 401/403 from the authentication rules. What is written by
hand here is prose, and which statuses each kind of operation can answer.
``GET /api/v1/docs`` shows the document with Swagger UI.
"""

from __future__ import annotations

import json
import re

from flask import Response, current_app, render_template

from app.api import agencies, bp, features, import_jobs, imports
from app.api.features import (
    DEFAULT_LIMIT,
    FILTER_PARAMETERS,
    FORMATS,
    GEOJSON_MIME,
    MAX_LIMIT,
    MAX_OFFSET,
)
from app.api.openapi_analysis import analysis_builders
from app.api.openapi_events import event_builders
from app.api.openapi_forecast import forecast_builders
from app.api.openapi_inbox import inbox_builders
from app.api.openapi_products import product_builders
from app.api.openapi_schemas import (
    component_schemas,
    feature_schema,
    field_schema,
    ref,
    schema_name,
)
from app.api.openapi_subscriptions import subscription_builders
from app.auth import PUBLIC_ENDPOINTS, UNSAFE_METHODS
from app.auth.permissions import required_role
from app.errors import PROBLEM_MIME
from app.health import healthz
from geo.io import readers
from geo.layers import LAYERS, Layer

OPENAPI_VERSION = "3.0.3"
API_TITLE = "BorderRisk API"
API_VERSION = "1"
CSV_MIME = "text/csv"
GPKG_MIME = "application/geopackage+sqlite3"
JSON_MIME = "application/json"
# Only ``any(...)`` (the layer names) and ``int`` occur in our rules; others are strings.
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON, or (cookie sessions) the CSRF token is missing or "
         "wrong.",
    401: "Not signed in: no session, or the bearer token is missing, malformed, unknown, "
         "expired or revoked.",
    403: "Signed in, but not allowed: the role is too low for this operation, the "
         "request names a region outside the caller's regions (`field` is `region`), or "
         "(writes) a feature lies or would lie outside them, sets an incident status "
         "above the caller's role, changes another agency's incident (`field` "
         "`agency`) or its releasability (`releasability`), or names a reporting unit "
         "outside them (`errors` lists them). Nothing was written.",
    404: "No feature with this id, or none that the caller may see: outside their "
         "regions, or an incident not released to their agency (a GET, PATCH or DELETE "
         "of such a feature is answered alike), or no such path.",
    410: "The cursor is older than the events kept (EVENT_RETENTION_DAYS): re-sync from "
         "the list endpoints, then follow the feed from a new cursor.",
    409: "A feature with the same natural key already exists (`errors` lists them; its "
         "id only when the caller may see it), or (delete) records that cannot "
         "change refer to the feature, or users are restricted to the region (`users` "
         "names them).",
    413: "The request body is larger than the server accepts (MAX_BODY_MB).",
    422: "A parameter, property or geometry is invalid; `field` or `errors` names "
         "it. Nothing was written.",
}


# --- parameters and responses ---------------------------------------------------------

def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


def _comma_list(items: dict) -> dict:
    return {"style": "form", "explode": False, "schema": {"type": "array", "items": items}}


def component_parameters() -> dict:
    regions = LAYERS["regions"]
    region_key = field_schema(regions.field(regions.key[0]))
    return {
        "bbox": _query("bbox", {"type": "array", "minItems": 4, "maxItems": 4,
                                "items": {"type": "number", "minimum": -180, "maximum": 180}},
                       "minLon,minLat,maxLon,maxLat in EPSG:4326 degrees; features that "
                       "intersect it.", style="form", explode=False),
        "datetime": _query("datetime", {"type": "string"},
                           "An RFC 3339 instant, or an interval start/end with an open end "
                           "written .. or left empty (OGC API Features). A date means its "
                           "whole UTC day: 2025-06-01/2025-06-30 includes 30 June.",
                           example="2026-01-01T00:00:00Z/.."),
        "region": _query("region", region_key,
                         "Code of a region: features inside it. A user restricted to "
                         "regions sees only theirs, and may name only theirs (403)."),
        "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                  "default": DEFAULT_LIMIT},
                        "Features per page. CSV and GeoPackage without a limit hold the "
                        "whole selection."),
        "offset": _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                    "default": 0}, "Features to skip."),
        "f": _query("f", {"type": "string", "enum": list(FORMATS), "default": FORMATS[0]},
                    "Response format: GeoJSON, CSV (geometry as WKT) or GeoPackage. CSV "
                    "and GeoPackage are attachments and carry no paging metadata."),
        "crs": _query("crs", {"type": "string", "default": "EPSG:4326"},
                      "CRS of the body's coordinates: EPSG:nnnn or an OGC CRS URI; stored "
                      "as EPSG:4326.", example="EPSG:32638"),
        "allow_outside": _query("allow_outside", {"type": "boolean", "default": False},
                                "Accept points far from every region."),
        "dry_run": _query("dry_run", {"type": "boolean", "default": False},
                          "Check and count, write nothing: answers 200 with the report."),
    }


def choice_parameter(layer: Layer, name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            **_comma_list({"type": "string", "enum": list(layer.field(name).choices)})}


def filter_parameters(layer: Layer) -> list[dict]:
    """The list filters that apply to ``layer``, in the order of ``FILTER_PARAMETERS``."""
    special = {
        "category": lambda: choice_parameter(layer, "category", "Any of these categories."),
        "outcome": lambda: choice_parameter(layer, "outcome",
                                            "Any of these outcomes (attempted or actual "
                                            "crossings)."),
        "status": lambda: choice_parameter(layer, "status", "Any of these statuses."),
        "agency": lambda: {
            "name": "agency", "in": "query", "required": False,
            "description": "Any of these originating agencies (codes, GET /api/v1/agencies); "
                           "only the incidents released to the caller's agency are listed.",
            **_comma_list({"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,15}$"})},
    }
    return [special[name]() if name in special else ref("parameters", name)
            for name in FILTER_PARAMETERS if name in layer.filters]


def sortby_parameter(layer: Layer) -> dict:
    names = sorted(layer.sortable)
    return {"name": "sortby", "in": "query", "required": False,
            "description": "Sort keys, comma-separated; a leading - sorts descending (+ "
                           f"or nothing ascending). Default: {','.join(layer.default_sort)}.",
            **_comma_list({"type": "string", "enum": names + [f"-{n}" for n in names]})}


def path_parameter(name: str, converter: str | None) -> dict:
    schema = {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": name.replace("_", " ").capitalize() + "."}


def component_responses() -> dict:
    responses = {}
    for status, description in _ERROR_DESCRIPTIONS.items():
        response = {"description": description,
                    "content": {PROBLEM_MIME: {"schema": ref("schemas", "Problem")}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                        "description": "Bearer"}}
        responses[f"Problem{status}"] = response
    return responses


def _content(schema: dict, *media_types: str) -> dict:
    return {media_type: {"schema": schema} for media_type in media_types}


def _one_of(layer: Layer, *suffixes: str) -> dict:
    return {"oneOf": [ref("schemas", schema_name(layer, s)) for s in suffixes]}


def _dry_run_response() -> dict:
    return {"description": "Dry run: what would be written (nothing is).",
            "content": _content(ref("schemas", "ImportReport"), JSON_MIME)}


# --- operations: one builder per view, given the layer of the path (or None) -------------
# Each returns the operation without 401/403/400-for-CSRF, which the authentication
# rules add (see ``operation``), and lists the other statuses the view can answer.

def list_operation(layer: Layer) -> dict:
    return {
        "summary": f"List {layer.name}",
        "description": f"{layer.title}, filtered, sorted and paged. A filter that does not "
                       f"apply to {layer.name} is an error (422).",
        "parameters": [*filter_parameters(layer), sortby_parameter(layer),
                       ref("parameters", "limit"), ref("parameters", "offset"),
                       ref("parameters", "f")],
        "responses": {
            "200": {"description": "The features (one page of them for GeoJSON).",
                    "content": {
                        GEOJSON_MIME: {"schema": ref("schemas",
                                                     schema_name(layer, "FeatureCollection"))},
                        CSV_MIME: {"schema": {"type": "string"}},
                        GPKG_MIME: {"schema": {"type": "string", "format": "binary"}},
                    }},
            "422": ref("responses", "Problem422"),
        },
    }


def get_operation(layer: Layer) -> dict:
    return {
        "summary": f"One feature of {layer.name}",
        "responses": {
            "200": {"description": "The feature.",
                    "content": _content(ref("schemas", schema_name(layer, "Feature")),
                                        GEOJSON_MIME)},
            "404": ref("responses", "Problem404"),
        },
    }


def _write_parameters() -> list[dict]:
    return [ref("parameters", name) for name in ("crs", "allow_outside", "dry_run")]


def create_operation(layer: Layer) -> dict:
    return {
        "summary": f"Create {layer.name}",
        "description": "A Feature or a FeatureCollection; all or nothing. Its natural key "
                       f"({' + '.join(layer.key)}) must not exist yet. Derived properties "
                       "and ids in the body are ignored.",
        "parameters": _write_parameters(),
        "requestBody": {"required": True,
                        "content": _content(_one_of(layer, "Feature", "FeatureCollection"),
                                            GEOJSON_MIME, JSON_MIME)},
        "responses": {
            "200": _dry_run_response(),
            "201": {"description": "Created: the feature (Location names it) or the "
                                   "collection of created features.",
                    "headers": {"Location": {"schema": {"type": "string"},
                                             "description": "URL of a single created "
                                                            "feature."}},
                    "content": _content(_one_of(layer, "Feature", "FeatureCollection"),
                                        GEOJSON_MIME)},
            "409": ref("responses", "Problem409"),
            "413": ref("responses", "Problem413"),
            "422": ref("responses", "Problem422"),
        },
    }


def update_operation(layer: Layer) -> dict:
    return {
        "summary": f"Change a feature of {layer.name}",
        "description": "The given properties replace the stored ones; the geometry, if "
                       "given, replaces the stored geometry.",
        "parameters": _write_parameters(),
        "requestBody": {"required": True, "content": _content({
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "properties": ref("schemas", schema_name(layer, "PropertiesPatch")),
                "geometry": feature_schema(layer)["properties"]["geometry"],
            },
        }, JSON_MIME, GEOJSON_MIME)},
        "responses": {
            "200": {"description": "The changed feature, or the report of a dry run.",
                    "content": {
                        GEOJSON_MIME: {"schema": ref("schemas", schema_name(layer, "Feature"))},
                        JSON_MIME: {"schema": ref("schemas", "ImportReport")},
                    }},
            "404": ref("responses", "Problem404"),
            "409": ref("responses", "Problem409"),
            "413": ref("responses", "Problem413"),
            "422": ref("responses", "Problem422"),
        },
    }


def delete_operation(layer: Layer) -> dict:
    return {
        "summary": f"Delete a feature of {layer.name}",
        "description": "Features that were linked to it are linked again to what is now "
                       "nearest. A region or section that stored risk assessments or level "
                       "decisions refer to cannot be deleted (409).",
        "responses": {"204": {"description": "Deleted."},
                      "404": ref("responses", "Problem404"),
                      "409": ref("responses", "Problem409")},
    }


def import_operation(layer: Layer) -> dict:
    form = {
        "file": {"type": "string", "format": "binary",
                 "description": "GeoJSON, CSV (WKT or lon/lat columns), GeoPackage or a "
                                "zipped Shapefile."},
        "format": {"type": "string", "enum": list(readers.FORMATS),
                   "description": "Default: from the file name's extension."},
        "crs": {"type": "string", "description": "EPSG:nnnn, when the file does not say."},
        "mapping": {"type": "string", "description": "property=column,... for columns "
                                                     "with other names."},
        "dry_run": {"type": "boolean", "default": False},
        "allow_outside": {"type": "boolean", "default": False},
    }
    if "source" in layer.writable_names:
        form["source"] = {"type": "string", "description": "source of rows that have none "
                                                          "(default: the file name)."}
    return {
        "summary": f"Import a file into {layer.name}",
        "description": "All or nothing; upserts on the natural key "
                       f"({' + '.join(layer.key)}); unknown columns are ignored and "
                       "listed. The fields may also be sent as query parameters.",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": form}}}},
        "responses": {
            "200": {"description": "The report.",
                    "content": _content(ref("schemas", "ImportReport"), JSON_MIME)},
            "202": {"description": "Still importing after IMPORT_SYNC_WAIT_S seconds, or "
                                   "`Prefer: respond-async` was sent: the job (`Location`"
                                   " is its URL, /api/v1/imports/jobs/{job_id}).",
                    "content": _content({"type": "object"}, JSON_MIME)},
            "413": ref("responses", "Problem413"),
            "422": {"description": "The file cannot be read, or rows have problems "
                                   "(`report` lists them). Nothing was written.",
                    "content": _content(ref("schemas", "Problem"), PROBLEM_MIME)},
        },
    }


def import_job_operation(_layer: None) -> dict:
    return {
        "summary": "An import job: its progress and final answer",
        "description": "An import that does not end within IMPORT_SYNC_WAIT_S seconds (or "
                       "sent with `Prefer: respond-async`) is answered 202 with this URL "
                       "in `Location`. `status`: queued, running, succeeded, failed or "
                       "interrupted; `rows_read` grows while it runs; once finished, "
                       "`http_status` and `result` are what the import's request would "
                       "have answered (the report, or the problem), `report` the report. "
                       "Only the job's owner (or an admin) sees it; others get 404.",
        "tags": ["service"],
        "responses": {
            "200": {"description": "The job.", "content": _content({"type": "object"},
                                                                    JSON_MIME)},
            "404": {"description": "No such job of the caller.",
                    "content": _content(ref("schemas", "Problem"), PROBLEM_MIME)},
        },
    }


def openapi_operation(_layer: None) -> dict:
    return {"summary": "This OpenAPI document",
            "responses": {"200": {"description": "OpenAPI 3 document.",
                                  "content": _content({"type": "object"}, JSON_MIME)}}}


def docs_operation(_layer: None) -> dict:
    return {"summary": "This document as a web page (Swagger UI)",
            "responses": {"200": {"description": "HTML page.",
                                  "content": _content({"type": "string"}, "text/html")}}}


def health_operation(_layer: None) -> dict:
    return {
        "summary": "Liveness and database readiness, for monitors",
        "responses": {
            "200": {"description": "Up, and the database answers.",
                    "content": _content(ref("schemas", "Health"), JSON_MIME)},
            "503": {"description": "The database does not answer.",
                    "content": _content(ref("schemas", "Health"), JSON_MIME)},
        },
    }


AGENCY_SCHEMA = {
    "type": "object", "required": ["code", "name_en", "name_ka", "active"],
    "description": "An agency of the ministry; incidents name it as their originator "
                   "(agency) and in their releasability.",
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,15}$"},
        "name_en": {"type": "string", "maxLength": 200},
        "name_ka": {"type": "string", "maxLength": 200},
        "active": {"type": "boolean", "description": "An inactive agency takes no new users."},
        "default_releasability": {"oneOf": [{"type": "string", "enum": ["all", "agency"]},
                                            {"type": "array", "items": {"type": "string"}}],
                                  "description": "What its new incidents get when their "
                                                 "writer gives none."},
        "default_aggregate": {"type": "boolean"},
    },
}


def agencies_operation(_layer: None) -> dict:
    return {"summary": "The agencies", "tags": ["service"],
            "responses": {"200": {"description": "Every agency, by code.", "content": _content(
                {"type": "object", "properties": {
                    "agencies": {"type": "array", "items": AGENCY_SCHEMA}}}, JSON_MIME)}}}


def agency_operation(_layer: None) -> dict:
    return {"summary": "One agency", "tags": ["service"],
            "responses": {"200": {"description": "The agency.",
                                  "content": _content(AGENCY_SCHEMA, JSON_MIME)},
                          "404": ref("responses", "Problem404")}}


def create_agency_operation(_layer: None) -> dict:
    return {"summary": "Add an agency", "tags": ["service"],
            "requestBody": {"required": True, "content": _content(AGENCY_SCHEMA, JSON_MIME)},
            "responses": {"201": {"description": "Created.",
                                  "content": _content(AGENCY_SCHEMA, JSON_MIME)},
                          "409": ref("responses", "Problem409"),
                          "422": ref("responses", "Problem422")}}


def update_agency_operation(_layer: None) -> dict:
    return {"summary": "Change an agency's names, active flag or release defaults",
            "tags": ["service"],
            "requestBody": {"required": True, "content": _content(
                {k: v for k, v in AGENCY_SCHEMA.items() if k != "required"}, JSON_MIME)},
            "responses": {"200": {"description": "The agency as changed.",
                                  "content": _content(AGENCY_SCHEMA, JSON_MIME)},
                          "404": ref("responses", "Problem404"),
                          "422": ref("responses", "Problem422")}}


def operation(build, view, endpoint: str, method: str, layer: Layer | None) -> dict:
    """The operation of one method of one rule, with its authentication responses."""
    op = build(layer)
    op["operationId"] = f"{view.__name__}_{layer.name}" if layer else view.__name__
    op.setdefault("tags", [layer.name if layer else "service"])
    responses = op["responses"]
    if endpoint in PUBLIC_ENDPOINTS:
        op["security"] = []
    else:
        responses["401"] = ref("responses", "Problem401")
        role = required_role(endpoint, {"layer_name": layer.name} if layer else None)
        if role != "viewer":
            responses["403"] = ref("responses", "Problem403")
            op["description"] = " ".join(filter(None, [f"Needs the {role} role or higher.",
                                                       op.get("description")]))
        if _names_a_region(op):
            # A user restricted to regions may name only theirs (app.api.scoping).
            responses.setdefault("403", ref("responses", "Problem403"))
        if method in UNSAFE_METHODS:
            responses.setdefault("400", ref("responses", "Problem400"))
    op["responses"] = dict(sorted(responses.items()))
    return op


def _names_a_region(op: dict) -> bool:
    """Whether the operation takes a ``region`` query parameter (or its component)."""
    return any(p.get("name") == "region" or p.get("$ref") == "#/components/parameters/region"
               for p in op.get("parameters", []))


def operation_builders() -> dict:
    """The builder of each documented view; a route without one is not documented."""
    return {
        features.list_features: list_operation,
        features.get_feature: get_operation,
        features.create_features: create_operation,
        features.update_feature: update_operation,
        features.delete_feature: delete_operation,
        imports.import_features: import_operation,
        import_jobs.import_job: import_job_operation,
        openapi_json: openapi_operation,
        api_docs: docs_operation,
        healthz: health_operation,
        agencies.agencies: agencies_operation,
        agencies.get_agency: agency_operation,
        agencies.create_agency_route: create_agency_operation,
        agencies.update_agency_route: update_agency_operation,
        **analysis_builders(),
        **event_builders(),
        **forecast_builders(),
        **product_builders(),
        **inbox_builders(),
        **subscription_builders(),
    }


def expand_rule(rule: str) -> list[tuple[str, Layer | None, list[dict]]]:
    """``(OpenAPI path, layer, path parameters)`` for each path a URL rule matches.

    A layer converter ``<any(regions, ...):layer_name>`` gives one path per layer;
    other arguments become ``{name}`` path parameters.
    """
    layer_names: list[str | None] = [None]
    parameters = []
    for match in _RULE_ARGUMENT.finditer(rule):
        if match["converter"] == "any":
            # Each layer once, by its name; an older alias (segments) is not documented.
            layer_names = [name for name in (n.strip().strip("'\"") for n in
                                             match["args"].split(",")) if name in LAYERS]
        else:
            parameters.append(path_parameter(match["name"], match["converter"]))
    paths = []
    for layer_name in layer_names:
        def substitute(match, layer_name=layer_name):
            return layer_name if match["converter"] == "any" else "{" + match["name"] + "}"

        paths.append((_RULE_ARGUMENT.sub(substitute, rule),
                      LAYERS[layer_name] if layer_name else None, parameters))
    return paths


def openapi_document() -> dict:
    """The OpenAPI document of the current app (see the module docstring)."""
    builders = operation_builders()
    tags = [{"name": layer.name, "description": layer.title} for layer in LAYERS.values()]
    tags.append({"name": "analysis", "description": "Hot-spot analyses for planners."})
    tags.append({"name": "risk", "description": "CIRAM risk of border sections."})
    tags.append({"name": "webhooks", "description": "Subscriptions to the events, "
                                                    "delivered as signed POSTs."})
    tags.append({"name": "service", "description": "Health and this documentation."})
    paths: dict[str, dict] = {}
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions[rule.endpoint]
        build = builders.get(view)
        if build is None:
            continue
        for path, layer, path_parameters in expand_rule(rule.rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                op = operation(build, view, rule.endpoint, method, layer)
                op["parameters"] = path_parameters + op.get("parameters", [])
                if not op["parameters"]:
                    del op["parameters"]
                paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": API_TITLE, "version": API_VERSION,
                 "description": "Regions, border sections, crossing points and incidents "
                                "as GeoJSON (EPSG:4326), with filters, CSV and GeoPackage "
                                "export, writes and file import. Errors are RFC 7807 "
                                "problem+json."},
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": component_schemas(),
            "parameters": component_parameters(),
            "responses": component_responses(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from `flask tokens create NAME`."},
                "cookieSession": {"type": "apiKey", "in": "cookie",
                                  "name": current_app.config["SESSION_COOKIE_NAME"],
                                  "description": "The session of a signed-in browser; "
                                                 "writes also need the X-CSRFToken header."},
            },
        },
        "security": [{"bearerAuth": []}, {"cookieSession": []}],
    }


@bp.get("/openapi.json")
def openapi_json():
    # json.dumps keeps the generated order (jsonify would sort the keys).
    return Response(json.dumps(openapi_document()), mimetype=JSON_MIME)


@bp.get("/docs")
def api_docs():
    return render_template("api_docs.html")
