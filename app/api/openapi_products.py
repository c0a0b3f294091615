"""OpenAPI operations of the scheduled products: schedules and the bulletins' archive
(builders in the form ``app.api.openapi`` expects)."""

from __future__ import annotations

from app.api import products
from app.api.openapi_analysis import _json, _query, _ref

_INSTANT = {"type": "string", "format": "date-time", "nullable": True}
_PRODUCT = {"type": "string", "enum": ["weekly", "monthly"]}
_PAGE = [_query("region", {"type": "string"}, "Only this region's (a code)."),
         _query("limit", {"type": "integer", "minimum": 1, "maximum": products.MAX_LIMIT,
                          "default": products.DEFAULT_LIMIT}, "Most items."),
         _query("offset", {"type": "integer", "minimum": 0,
                           "maximum": products.MAX_OFFSET, "default": 0},
                "Items to skip.")]

SCHEDULE = {
    "type": "object", "required": ["id", "region", "product", "time_zone", "active"],
    "properties": {
        "id": {"type": "integer"}, "region_id": {"type": "integer"},
        "region": {"type": "string"}, "product": _PRODUCT,
        "time_zone": {"type": "string", "example": "Asia/Tbilisi"},
        "active": {"type": "boolean"},
        "next_run_at": _INSTANT, "last_run_at": _INSTANT, "last_period_start": _INSTANT,
        "created_by": {"type": "string", "nullable": True},
        "created_at": _INSTANT, "updated_at": _INSTANT,
    },
}
SCHEDULE_BODY = {
    "type": "object",
    "properties": {"region": {"type": "string"}, "product": _PRODUCT,
                   "time_zone": {"type": "string"}, "active": {"type": "boolean"}},
}
BULLETIN = {
    "type": "object", "required": ["id", "region", "product", "period", "created_by"],
    "properties": {
        "id": {"type": "integer"}, "schedule_id": {"type": "integer", "nullable": True},
        "region_id": {"type": "integer"}, "region": {"type": "string"}, "product": _PRODUCT,
        "time_zone": {"type": "string"},
        "period": {"type": "array", "items": {"type": "string", "format": "date-time"},
                   "description": "[start, end) of the period."},
        "assessment_id": {"type": "integer"}, "config_sha256": {"type": "string"},
        "config": {"type": "string", "description": "The risk configuration's text."},
        "created_by": {"type": "string", "description": "A user, or the worker."},
        "created_at": {"type": "string", "format": "date-time"},
        "html_bytes": {"type": "integer"}, "pdf_bytes": {"type": "integer"},
        "links": {"type": "object"},
    },
}


def _list(name: str, item: dict) -> dict:
    return _json({"type": "object", "required": [name, "numberMatched", "numberReturned"],
                  "properties": {name: {"type": "array", "items": item},
                                 "numberMatched": {"type": "integer"},
                                 "numberReturned": {"type": "integer"},
                                 "links": {"type": "array", "items": {"type": "object"}}}})


def list_schedules_operation(_layer) -> dict:
    return {"summary": "The schedules of the regions' bulletins", "tags": ["risk"],
            "parameters": _PAGE,
            "responses": {"200": {"description": "A page of schedules.",
                                  "content": _list("schedules", SCHEDULE)},
                          "422": _ref("responses", "Problem422")}}


def get_schedule_operation(_layer) -> dict:
    return {"summary": "One schedule", "tags": ["risk"],
            "responses": {"200": {"description": "The schedule.", "content": _json(SCHEDULE)},
                          "404": _ref("responses", "Problem404")}}


def create_schedule_operation(_layer) -> dict:
    return {"summary": "Add a region's weekly or monthly bulletin schedule", "tags": ["risk"],
            "requestBody": {"required": True, "content": _json(
                {**SCHEDULE_BODY, "required": ["region", "product"]})},
            "responses": {"201": {"description": "Created.", "content": _json(SCHEDULE)},
                          "409": _ref("responses", "Problem409"),
                          "422": _ref("responses", "Problem422")}}


def update_schedule_operation(_layer) -> dict:
    return {"summary": "Change a schedule's time zone or active flag", "tags": ["risk"],
            "requestBody": {"required": True, "content": _json(SCHEDULE_BODY)},
            "responses": {"200": {"description": "The schedule as changed.",
                                  "content": _json(SCHEDULE)},
                          "404": _ref("responses", "Problem404"),
                          "422": _ref("responses", "Problem422")}}


def delete_schedule_operation(_layer) -> dict:
    return {"summary": "Delete a schedule", "tags": ["risk"],
            "responses": {"204": {"description": "Deleted."},
                          "404": _ref("responses", "Problem404")}}


def list_bulletins_operation(_layer) -> dict:
    return {"summary": "The archive of produced bulletins, newest period first",
            "tags": ["risk"],
            "parameters": [*_PAGE, _query("product", _PRODUCT, "Only weekly or monthly.")],
            "responses": {"200": {"description": "A page of bulletins' metadata.",
                                  "content": _list("bulletins", BULLETIN)},
                          "422": _ref("responses", "Problem422")}}


def get_bulletin_operation(_layer) -> dict:
    return {"summary": "An archived bulletin: who produced it, when, with which "
                       "configuration", "tags": ["risk"],
            "responses": {"200": {"description": "The bulletin's metadata.",
                                  "content": _json(BULLETIN)},
                          "404": _ref("responses", "Problem404")}}


def bulletin_file_operation(_layer) -> dict:
    return {"summary": "An archived bulletin as produced (HTML or PDF)", "tags": ["risk"],
            "responses": {"200": {"description": "The bulletin.", "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                "404": _ref("responses", "Problem404")}}


def product_builders() -> dict:
    return {products.list_schedules: list_schedules_operation,
            products.get_schedule: get_schedule_operation,
            products.create_schedule: create_schedule_operation,
            products.update_schedule: update_schedule_operation,
            products.delete_schedule: delete_schedule_operation,
            products.list_bulletins: list_bulletins_operation,
            products.get_bulletin: get_bulletin_operation,
            products.bulletin_file: bulletin_file_operation}
