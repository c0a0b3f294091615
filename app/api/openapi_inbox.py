"""OpenAPI operations of the inbox and its e-mail subscriptions (builders in the form
``app.api.openapi`` expects)."""

from __future__ import annotations

from app.api import notifications
from app.api.openapi_analysis import _json, _query, _ref

_INSTANT = {"type": "string", "format": "date-time"}
_NULLABLE_INSTANT = {**_INSTANT, "nullable": True}

NOTIFICATION = {
    "type": "object",
    "required": ["id", "kind", "title", "body", "link", "created_at", "read", "read_at",
                 "emailed_at"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["alert", "decision", "bulletin", "webhook"]},
        "title": {"type": "string", "description": "In the request's language "
                                                   "(English or Georgian)."},
        "body": {"type": "string"},
        "link": {"type": "string", "nullable": True,
                 "description": "Where it leads: a path of this service (or a URL)."},
        "created_at": _INSTANT,
        "read": {"type": "boolean"},
        "read_at": _NULLABLE_INSTANT,
        "emailed_at": _NULLABLE_INSTANT,
    },
}
SETTINGS = {
    "type": "object",
    "required": ["email", "email_alerts", "email_bulletins", "email_available"],
    "properties": {
        "email": {"type": "string", "nullable": True, "format": "email"},
        "email_alerts": {"type": "boolean"},
        "email_bulletins": {"type": "boolean"},
        "email_available": {"type": "boolean", "description": "Whether this installation "
                                                              "sends e-mail (SMTP_URL)."},
    },
}
_UNREAD = {"type": "integer", "minimum": 0}


def list_operation(_layer) -> dict:
    return {
        "summary": "The caller's notifications, newest first",
        "description": "Alerts, level decisions and bulletins of the caller's regions (and "
                       "their webhooks' troubles). Page with `before` (the `next` link).",
        "tags": ["service"],
        "parameters": [
            _query("unread", {"type": "boolean", "default": False}, "Unread ones only."),
            _query("before", {"type": "integer", "minimum": 1},
                   "Only those older than this notification id."),
            _query("limit", {"type": "integer", "minimum": 1,
                             "maximum": notifications.MAX_LIMIT,
                             "default": notifications.DEFAULT_LIMIT}, "Most notifications."),
        ],
        "responses": {
            "200": {"description": "A page of notifications and the unread count.",
                    "content": _json({
                        "type": "object",
                        "required": ["notifications", "unread_count", "total_count", "links"],
                        "properties": {
                            "notifications": {"type": "array", "items": NOTIFICATION},
                            "unread_count": _UNREAD,
                            "total_count": _UNREAD,
                            "links": {"type": "array", "items": {"type": "object"}}}})},
            "422": _ref("responses", "Problem422"),
        },
    }


def read_operation(_layer) -> dict:
    return {
        "summary": "Mark one of the caller's notifications read",
        "tags": ["service"],
        "responses": {
            "200": {"description": "The notification, read, and the unread count.",
                    "content": _json({"type": "object",
                                      "required": ["notification", "unread_count"],
                                      "properties": {"notification": NOTIFICATION,
                                                     "unread_count": _UNREAD}})},
            "404": _ref("responses", "Problem404"),
        },
    }


def read_all_operation(_layer) -> dict:
    return {
        "summary": "Mark the caller's notifications read",
        "description": "All of them, or those up to `through` (the newest one shown, so "
                       "that one that arrived since stays unread).",
        "tags": ["service"],
        "requestBody": {"required": False, "content": _json({
            "type": "object", "properties": {"through": {"type": "integer", "minimum": 0}}})},
        "responses": {
            "200": {"description": "How many were marked, and the unread count.",
                    "content": _json({"type": "object",
                                      "required": ["marked", "unread_count"],
                                      "properties": {"marked": _UNREAD,
                                                     "unread_count": _UNREAD}})},
            "422": _ref("responses", "Problem422"),
        },
    }


def settings_operation(_layer) -> dict:
    return {"summary": "The caller's e-mail address and subscriptions", "tags": ["service"],
            "responses": {"200": {"description": "The settings.",
                                  "content": _json(SETTINGS)}}}


def update_settings_operation(_layer) -> dict:
    return {
        "summary": "Set the caller's e-mail address and subscriptions",
        "description": "Alerts and bulletins of the caller's inbox are e-mailed to the "
                       "address when the installation sends e-mail (`email_available`). "
                       "Null or '' removes the address and ends the subscriptions.",
        "tags": ["service"],
        "requestBody": {"required": True, "content": _json({
            "type": "object", "additionalProperties": False,
            "properties": {"email": {"type": "string", "nullable": True, "format": "email",
                                     "maxLength": notifications.MAX_EMAIL},
                           "email_alerts": {"type": "boolean"},
                           "email_bulletins": {"type": "boolean"}}})},
        "responses": {"200": {"description": "The settings.", "content": _json(SETTINGS)},
                      "422": _ref("responses", "Problem422")},
    }


def inbox_builders() -> dict:
    return {notifications.list_notifications: list_operation,
            notifications.read_notification: read_operation,
            notifications.read_all_notifications: read_all_operation,
            notifications.notification_settings: settings_operation,
            notifications.update_notification_settings: update_settings_operation}
