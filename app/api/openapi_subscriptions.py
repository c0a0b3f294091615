"""The OpenAPI operations of the webhook subscriptions (``app.api.subscriptions``)."""

from __future__ import annotations

from app.api import subscriptions
from app.api.openapi_schemas import ref

JSON_MIME = "application/json"

SUBSCRIPTION_INPUT = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "format": "uri",
                "description": "http(s) URL whose host is in WEBHOOK_ALLOWED_HOSTS; no "
                               "user name or password."},
        "types": {"type": "array", "items": {"type": "string"},
                  "description": "Event types (`incident.*` for a prefix); none: all."},
        "filters": {"type": "object", "additionalProperties": False, "properties": {
            "region": {"type": "string"},
            **{name: {"oneOf": [{"type": "string"},
                                {"type": "array", "items": {"type": "string"}}]}
               for name in ("category", "agency", "level")}}},
        "batch_size": {"type": "integer", "minimum": 1,
                       "description": "Above 1: CloudEvents batches of up to this many."},
        "active": {"type": "boolean", "description": "true resumes a paused subscription."},
    },
}
SUBSCRIPTION = {"type": "object", "properties": {
    "id": {"type": "integer"}, "owner": {"type": "string"}, "url": {"type": "string"},
    "types": {"type": "array", "items": {"type": "string"}}, "filters": {"type": "object"},
    "batch_size": {"type": "integer"}, "active": {"type": "boolean"},
    "paused": {"type": "boolean"},
    "paused_at": {"type": "string", "format": "date-time", "nullable": True},
    "pause_reason": {"type": "string", "nullable": True},
    "failing_since": {"type": "string", "format": "date-time", "nullable": True},
    "consecutive_failures": {"type": "integer"},
    "next_attempt_at": {"type": "string", "format": "date-time"},
    "last_event_id": {"type": "integer"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "links": {"type": "array", "items": {"type": "object"}}}}
DELIVERY = {"type": "object", "properties": {
    "id": {"type": "integer"}, "delivery_id": {"type": "string", "format": "uuid"},
    "first_event_id": {"type": "integer"}, "last_event_id": {"type": "integer"},
    "event_count": {"type": "integer"}, "attempt": {"type": "integer"},
    "status_code": {"type": "integer", "nullable": True},
    "error": {"type": "string", "nullable": True},
    "latency_ms": {"type": "number", "nullable": True}, "succeeded": {"type": "boolean"},
    "replay": {"type": "boolean"}, "at": {"type": "string", "format": "date-time"}}}


def _json(schema: dict) -> dict:
    return {JSON_MIME: {"schema": schema}}


def _answer(description: str, schema: dict, *problems: int) -> dict:
    return {"200": {"description": description, "content": _json(schema)},
            **{str(s): ref("responses", f"Problem{s}") for s in problems}}


def create_operation(_layer) -> dict:
    return {"summary": "Subscribe a URL to the events (webhook)", "tags": ["webhooks"],
            "requestBody": {"required": True, "content": _json(
                {**SUBSCRIPTION_INPUT, "required": ["url"]})},
            "responses": {"201": {"description": "Created; `secret` is shown this once.",
                                  "content": _json({**SUBSCRIPTION, "properties": {
                                      **SUBSCRIPTION["properties"],
                                      "secret": {"type": "string"}}})},
                          "422": ref("responses", "Problem422")}}


def list_operation(_layer) -> dict:
    return {"summary": "Your subscriptions (an admin: everybody's)", "tags": ["webhooks"],
            "responses": _answer("The subscriptions.", {"type": "object", "properties": {
                "subscriptions": {"type": "array", "items": SUBSCRIPTION}}})}


def get_operation(_layer) -> dict:
    return {"summary": "A subscription", "tags": ["webhooks"],
            "responses": _answer("The subscription (never its secret).", SUBSCRIPTION, 404)}


def update_operation(_layer) -> dict:
    return {"summary": "Change or resume a subscription", "tags": ["webhooks"],
            "requestBody": {"required": True, "content": _json(SUBSCRIPTION_INPUT)},
            "responses": _answer("The subscription as changed.", SUBSCRIPTION, 404, 422)}


def delete_operation(_layer) -> dict:
    return {"summary": "Delete a subscription and its log", "tags": ["webhooks"],
            "responses": {"204": {"description": "Deleted."},
                          "404": ref("responses", "Problem404")}}


def deliveries_operation(_layer) -> dict:
    return {"summary": "A subscription's delivery log, newest first", "tags": ["webhooks"],
            "parameters": [
                {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": subscriptions.MAX_LOG_LIMIT,
                    "default": 100}},
                {"name": "before", "in": "query", "schema": {"type": "integer"},
                 "description": "Entries older than this log entry's id."}],
            "responses": _answer("The attempts.", {"type": "object", "properties": {
                "deliveries": {"type": "array", "items": DELIVERY}}}, 404, 422)}


def replay_operation(_layer) -> dict:
    return {"summary": "Send a logged delivery's events again, under its delivery id",
            "tags": ["webhooks"],
            "responses": _answer("The replay's log entry.", DELIVERY, 404)}


def subscription_builders() -> dict:
    """The builder of each view of ``app.api.subscriptions``."""
    return {subscriptions.create_subscription: create_operation,
            subscriptions.list_subscriptions: list_operation,
            subscriptions.get_subscription: get_operation,
            subscriptions.update_subscription: update_operation,
            subscriptions.delete_subscription: delete_operation,
            subscriptions.subscription_deliveries: deliveries_operation,
            subscriptions.replay_delivery: replay_operation}
