"""The change feed (``GET /api/v1/changes``) and the JSON Schemas of the events'
data (``GET /api/v1/schemas``, ``/api/v1/schemas/<type>``).

A partner system lists a layer once, keeps the ``cursor`` of a first call to the feed
made before the listing, then follows the feed from it: every event it is allowed to
see, in commit order, each as it sees it (``geo.events.feed``). A cursor older than the
retention (``EVENT_RETENTION_DAYS``) is answered 410: re-sync from the list endpoints.
"""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for

from app.api import ApiError, bp, event_schemas
from app.api.params import ParameterError, parse_int
from app.api.scoping import scoped_region_code
from app.auth.scope import region_scope, viewer_agency
from app.extensions import db
from geo.events.cloudevents import envelope
from geo.events.feed import CursorExpiredError, FeedQuery, decode_cursor, read_feed
from geo.events.types import TYPES, parse_types
from geo.queries.database import region_id_for_code

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Property filters of the feed (and of subscriptions): parameter -> property.
PROPERTY_FILTERS = ("category", "agency", "level")
MAX_FILTER_VALUES = 50


def property_filters(args) -> dict[str, tuple[str, ...]]:
    """``category``, ``agency`` and ``level`` filters (comma-separated values) of a
    request's ``args`` or a subscription's ``filters``."""
    equals = {}
    for name in PROPERTY_FILTERS:
        value = args.get(name)
        if value in (None, "", []):
            continue
        values = value.split(",") if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ParameterError(name, "must be a text or a list of texts")
        values = tuple(v.strip() for v in values if v.strip())
        if len(values) > MAX_FILTER_VALUES or any(len(v) > 64 for v in values):
            raise ParameterError(name, f"takes at most {MAX_FILTER_VALUES} values of at "
                                       "most 64 characters")
        if values:
            equals[name] = values
    return equals


def feed_region_id(code: str | None) -> int | None:
    """The id of the region a feed or subscription names (checked against the caller's
    scope: 403 outside it; 422 when there is no such region)."""
    code = scoped_region_code(code, default=False)
    if code is None:
        return None
    region_id = region_id_for_code(db.session, code)
    if region_id is None:
        raise ParameterError("region", f"unknown region code {code!r}")
    return region_id


@bp.get("/changes")
def list_changes():
    args = request.args
    since = args.get("since")
    query = FeedQuery(
        since_id=decode_cursor(since) if since else None,
        types=parse_types(args.get("types", "")),
        region_id=feed_region_id(args.get("region")),
        equals=property_filters(args),
        scope_region_ids=region_scope(), viewer_agency=viewer_agency(),
        limit=parse_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT))
    try:
        page = read_feed(db.session, query)
    except CursorExpiredError:
        raise ApiError(410, "Gone", "the cursor is older than the events kept "
                       f"({current_app.config['EVENT_RETENTION_DAYS']:g} days): re-sync "
                       "from the list endpoints, then follow the feed from a new cursor",
                       field="since") from None
    source = current_app.config["EVENT_SOURCE"]
    following = request.args.to_dict() | {"since": page.cursor}
    return jsonify({
        "events": [envelope(event, source) for event in page.events],
        "cursor": page.cursor,
        "links": [{"rel": "next", "type": "application/json",
                   "href": url_for("api.list_changes", _external=True, **following)}],
    })


@bp.get("/schemas")
def list_event_schemas():
    return jsonify({"types": [
        {"type": name, "description": event_schemas.description(name),
         "href": url_for("api.event_schema", event_type=name, _external=True)}
        for name in TYPES]})


@bp.get("/schemas/<event_type>")
def event_schema(event_type: str):
    if event_type not in TYPES:
        raise ApiError(404, "Not Found", f"no event type {event_type!r}; types are "
                                         f"{', '.join(TYPES)}")
    schema = event_schemas.data_schema(event_type)
    schema["$id"] = url_for("api.event_schema", event_type=event_type, _external=True)
    response = jsonify(schema)
    response.mimetype = "application/schema+json"
    return response
