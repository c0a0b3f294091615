"""OpenAPI operations of the change feed and the events' schemas (builders in the form
``app.api.openapi`` expects)."""

from __future__ import annotations

from app.api import changes
from app.api.openapi_analysis import JSON_MIME, _json, _query, _ref
from geo.events.types import TYPES

CLOUD_EVENT = {
    "type": "object", "description": "A CloudEvents 1.0 event (structured JSON).",
    "required": ["specversion", "id", "source", "type", "time", "subject",
                 "datacontenttype", "data"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "description": "Unique with source; a redelivery "
                                                "carries the same."},
        "source": {"type": "string", "description": "EVENT_SOURCE of the installation."},
        "type": {"type": "string", "enum": list(TYPES)},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "example": "incidents/123"},
        "datacontenttype": {"type": "string",
                            "enum": ["application/geo+json", "application/json"]},
        "data": {"type": "object", "description": "GET /api/v1/schemas/{type}: a "
                 "feature as the REST API returns it, a tombstone {id}, or the "
                 "application event's object."},
    },
}


def changes_operation(_layer) -> dict:
    return {
        "summary": "The change feed: events after a cursor, in commit order",
        "description": "Events the caller may see (releasability and region scope, before "
                       "and after each change): a record the caller stops seeing comes as "
                       "a `*.deleted` tombstone, one it starts seeing as `*.created`. "
                       "Keep `cursor` and ask again with it as `since`.",
        "tags": ["service"],
        "parameters": [
            _query("since", {"type": "string"}, "A cursor an earlier answer gave; without "
                   "it, from the oldest event kept."),
            _query("types", {"type": "string"}, "Comma-separated event types or prefixes "
                   "(`incident.*`).", example="incident.*,alert.raised"),
            _query("region", {"type": "string"}, "Events of records in this region "
                   "(before or after the change)."),
            *(_query(name, {"type": "string"}, f"Comma-separated values of the data's "
                     f"`{name}`; events whose data has no `{name}` pass.")
              for name in changes.PROPERTY_FILTERS),
            _query("limit", {"type": "integer", "minimum": 1,
                             "maximum": changes.MAX_LIMIT,
                             "default": changes.DEFAULT_LIMIT}, "Most events."),
        ],
        "responses": {
            "200": {"description": "A page of events and the cursor after them (the "
                                   "latest cursor when the page is empty).",
                    "content": _json({"type": "object",
                                      "required": ["events", "cursor", "links"],
                                      "properties": {
                                          "events": {"type": "array", "items": CLOUD_EVENT},
                                          "cursor": {"type": "string"},
                                          "links": {"type": "array",
                                                    "items": {"type": "object"}}}})},
            "410": _ref("responses", "Problem410"),
            "422": _ref("responses", "Problem422"),
        },
    }


def schemas_operation(_layer) -> dict:
    return {"summary": "The event types and their data's JSON Schemas", "tags": ["service"],
            "responses": {"200": {"description": "Each type, described, with its schema's URL.",
                                  "content": _json({"type": "object", "properties": {
                                      "types": {"type": "array",
                                                "items": {"type": "object"}}}})}}}


def schema_operation(_layer) -> dict:
    return {"summary": "The JSON Schema (2020-12) of one event type's data",
            "tags": ["service"],
            "responses": {"200": {"description": "The schema.", "content": {
                "application/schema+json": {"schema": {"type": "object"}}}},
                "404": _ref("responses", "Problem404")}}


def event_builders() -> dict:
    return {changes.list_changes: changes_operation,
            changes.list_event_schemas: schemas_operation,
            changes.event_schema: schema_operation}


__all__ = ["JSON_MIME", "event_builders"]
