"""JSON Schemas (draft 2020-12) of the events' ``data``, one per event type, and the
shapes the application's events promise (``geo.events.outbox.emit`` callers follow
them; tests validate emitted events against them)."""

from __future__ import annotations

from app.api.openapi_schemas import geometry_schema, properties_schema
from geo.events.types import APPLICATION_TYPES, FEATURE_TYPES, PREFIX_LAYERS
from geo.layers import get_layer

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_INSTANT = {"type": "string", "format": "date-time"}
_PERIOD = {"type": "array", "items": _INSTANT, "minItems": 2, "maxItems": 2,
           "description": "start and end of the period, RFC 3339: [start, end) of "
                          "an alert's or a bulletin's period, the closed interval an "
                          "assessment was asked for"}
_LEVEL = {"type": ["string", "null"], "description": "a CIRAM risk level (null: none)"}


def _object(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "required": sorted(required),
            "properties": {**required, **(optional or {})}}


# The data of the application's events.
APPLICATION_SCHEMAS = {
    "alert.raised": _object({
        "section_id": _INT, "section_code": _TEXT, "region_code": _NULLABLE_TEXT,
        "period": _PERIOD, "observed": _INT, "expected": {"type": "number"},
        "p_value": {"type": "number"}, "level": _LEVEL}),
    "level.decided": _object({
        "section_id": _INT, "section_code": _TEXT, "region_code": _NULLABLE_TEXT,
        "level": _LEVEL, "previous_level": _LEVEL, "justification": _TEXT,
        "decided_by": _NULLABLE_TEXT, "decided_at": _INSTANT}),
    "assessment.stored": _object({
        "assessment_id": _INT, "region_code": _NULLABLE_TEXT, "period": _PERIOD,
        "created_at": _INSTANT, "sections": _INT, "alerts": _INT},
        {"created_by": _NULLABLE_TEXT}),
    "bulletin.published": _object({
        "bulletin_id": _INT, "region_code": _NULLABLE_TEXT,
        "product": {"enum": ["weekly", "monthly"]}, "period": _PERIOD,
        "published_at": _INSTANT},
        {"schedule_id": {"type": ["integer", "null"]}, "assessment_id": _INT,
         "links": {"type": "object"}}),
}
TOMBSTONE = _object({"id": _INT})


def _from_openapi(schema):
    """JSON Schema of an OpenAPI 3.0 schema: ``nullable`` becomes a "null" type."""
    if isinstance(schema, list):
        return [_from_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: _from_openapi(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def description(event_type: str) -> str:
    if event_type in APPLICATION_TYPES:
        return APPLICATION_TYPES[event_type]
    prefix, _, change = event_type.partition(".")
    layer = get_layer(PREFIX_LAYERS[prefix])
    if change == "deleted":
        return (f"A feature of {layer.title} was deleted, or the subscriber may no longer "
                "see it (released to it no more, or out of its regions): a tombstone.")
    return (f"A feature of {layer.title} was {change} (or, as 'created', became visible "
            "to the subscriber); data is the feature as the REST API returns it.")


def data_schema(event_type: str) -> dict:
    """The JSON Schema of ``data`` of events of ``event_type`` (a new dict)."""
    if event_type in APPLICATION_SCHEMAS:
        schema = dict(APPLICATION_SCHEMAS[event_type])
    elif event_type.endswith(".deleted"):
        schema = dict(TOMBSTONE)
    else:
        assert event_type in FEATURE_TYPES
        layer = get_layer(PREFIX_LAYERS[event_type.partition(".")[0]])
        schema = _object({"type": {"const": "Feature"}, "id": _INT,
                          "geometry": geometry_schema(layer.geometry_type),
                          "properties": _from_openapi(properties_schema(layer))})
    return {"$schema": DIALECT, "title": event_type, "description": description(event_type),
            **schema}
