"""The Flask routes of the WMS and OGC API Features: each builds the
``ServiceContext`` of the request, calls the service's protocol function
(``app.ogc.wms``, ``app.ogc.features``) and turns its ``(headers, status, body)`` into
a response. Errors raised outside the protocol's own checks (a database that is down)
are worded in each service's format through ``app.errors.register_error_format``.
"""

from __future__ import annotations

from flask import Response, current_app, render_template, request

from app.api.params import ParameterError
from app.auth.scope import region_codes_in_scope, region_scope, viewer_agency
from app.errors import register_error_format
from app.extensions import db
from app.ogc import bp, features, qgis_project, wms
from app.ogc.context import Answer, ServiceContext
from app.replicas import read_database_url


def service_context() -> ServiceContext:
    """The context of the current request: its session, the signed-in caller's scope,
    the app's settings; the database it reads (the replica's, ``app.replicas``)."""
    config = current_app.config
    return ServiceContext(
        session=db.session, database_url=read_database_url(),
        service_root=request.url_root, scope=region_scope(),
        scope_codes=region_codes_in_scope(), agency=viewer_agency(),
        analysis_srid=config["ANALYSIS_SRID"],
        max_cells=config["HOTSPOT_MAX_CELLS"],
        wms_max_size=int(config.get("WMS_MAX_SIZE", 4096)), render_html=render_template,
        risk_model=config.get("RISK_MODEL"))


def respond(answer: Answer) -> Response:
    headers, status, body = answer
    return Response(body, status=status, headers=headers)


# ------------------------------------------------------------------ WMS


@bp.get("/wms", endpoint="wms")
def wms_endpoint():
    """The WMS endpoint (``app.ogc.wms.wms``)."""
    return respond(wms.wms(service_context(), request.args.to_dict()))


def _wms_error(status: int, reason: str, code: str, locator: str | None) -> Response:
    """A ServiceExceptionReport of an error raised outside the WMS's own checks."""
    error = wms.WmsError(reason, code if status < 500 else None, locator, status=status)
    return respond(wms.exception_report(error, wms.request_version(wms.Params(request.args))))


register_error_format("/ogc/wms", _wms_error)


# ------------------------------------------------------------------ OGC API Features


def _features(function, *path) -> Response:
    return respond(features.answer(
        function, request.url_root + "ogc/features", request.args.to_dict(),
        request.args.get("f"), request.accept_mimetypes.best_match, service_context(),
        *path))


def _features_error(status: int, reason: str, code: str, locator: str | None) -> Response:
    """An OGC API exception document of an error raised outside the collections' own
    checks, for OGC API Features and the vector tiles alike."""
    return respond(features.exception_answer(features.OgcApiError(status, code, reason)))


register_error_format("/ogc/", _features_error)


@bp.get("/features")
@bp.get("/features/")
def features_landing():
    return _features(features.landing_page)


@bp.get("/features/conformance")
def features_conformance():
    return _features(features.conformance)


@bp.get("/features/api")
def features_api():
    return _features(features.openapi)


@bp.get("/features/collections")
def features_collections():
    return _features(features.describe_collections)


@bp.get("/features/collections/<collection_id>")
def features_collection(collection_id: str):
    return _features(features.describe_collection, collection_id)


@bp.get("/features/collections/<collection_id>/queryables")
def features_queryables(collection_id: str):
    return _features(features.queryables, collection_id)


@bp.get("/features/collections/<collection_id>/items")
def features_items(collection_id: str):
    return _features(features.get_collection_items, collection_id)


@bp.get("/features/collections/<collection_id>/items/<feature_id>")
def features_item(collection_id: str, feature_id: str):
    return _features(features.get_collection_item, collection_id, feature_id)


@bp.get("/features/<path:path>")
def features_unknown(path: str):
    return _features(features.not_found, path)


# ------------------------------------------------------------------ Open in QGIS


@bp.get("/qgis-project.qgs", endpoint="qgis_project")
def qgis_project_endpoint():
    """A QGIS project of every service (``app.ogc.qgis_project``), its sources naming
    the auth configuration ``authcfg`` (default ``brtoken``)."""
    authcfg = request.args.get("authcfg") or qgis_project.DEFAULT_AUTHCFG
    unknown = sorted(set(request.args) - {"authcfg"})
    if unknown:
        return respond(features.exception_answer(ParameterError(
            unknown[0], "unknown parameter; the only parameter is authcfg")))
    if not qgis_project.AUTHCFG_PATTERN.fullmatch(authcfg):
        return respond(features.exception_answer(ParameterError(
            "authcfg", "must be 7 letters or digits (a QGIS configuration id)")))
    context = service_context()
    capabilities = wms.capabilities(context, "1.3.0", wms.service_metadata(context))
    document = qgis_project.project_xml(request.url_root, authcfg,
                                        qgis_project.time_dimension(capabilities))
    return Response(document, headers={
        "Content-Type": "application/x-qgis-project",
        "Content-Disposition": 'attachment; filename="borderrisk.qgs"'})
