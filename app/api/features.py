"""List endpoints of the four layers as GeoJSON FeatureCollections."""

from __future__ import annotations

from flask import request

from app.api import bp
from app.api.params import ParameterError, parse_datetime_interval, parse_int
from app.errors import problem
from app.extensions import db
from geo.queries import features_geojson

GEOJSON_MIME = "application/geo+json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def _list(layer: str):
    try:
        start, end = parse_datetime_interval(request.args.get("datetime"))
        limit = parse_int("limit", request.args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = parse_int("offset", request.args.get("offset"), 0, 0, 10**9)
    except ParameterError as exc:
        return problem(422, "Unprocessable Content", str(exc), field=exc.field)
    body = features_geojson(db.session, layer, start=start, end=end, limit=limit, offset=offset)
    return body, 200, {"Content-Type": GEOJSON_MIME}


@bp.get("/regions")
def list_regions():
    return _list("regions")


@bp.get("/segments")
def list_segments():
    return _list("segments")


@bp.get("/crossings")
def list_crossings():
    return _list("crossings")


@bp.get("/incidents")
def list_incidents():
    return _list("incidents")
