"""``GET /api/v1/audit``: the audit trail for admins, filtered and paged, or as CSV."""

from __future__ import annotations

import dataclasses

from flask import request, url_for

from app import audit
from app.api import bp
from app.api.downloads import streamed_file
from app.api.params import ParameterError, parse_datetime_interval, parse_int
from app.auth.scope import viewer_agency
from app.extensions import db

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9
FORMATS = ("json", "csv")
# Filter parameter -> longest value its column holds (longer can match nothing).
TEXT_FILTERS = {"user": 64, "action": 32, "entity": 32, "entity_id": 64}


def parse_audit_query(args) -> audit.AuditQuery:
    """The filters and page of a request's ``args`` (also for the admin page).

    Raises ``ParameterError`` naming the parameter for a bad value.
    """
    values = {}
    for name, longest in TEXT_FILTERS.items():
        value = args.get(name)
        if value is not None and len(value) > longest:
            raise ParameterError(name, f"is longer than {longest} characters")
        values[name] = value or None
    start, end = parse_datetime_interval(args.get("datetime"))
    return audit.AuditQuery(
        **values, start=start, end=end, viewer_agency=viewer_agency(),
        limit=parse_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=parse_int("offset", args.get("offset"), 0, 0, MAX_OFFSET))


def _record_json(row: dict) -> dict:
    return {**row, "at": row["at"].isoformat()}


def _next_link(query: audit.AuditQuery, matched: int) -> list[dict]:
    if query.offset + query.limit >= matched:
        return []
    args = request.args.to_dict() | {"offset": str(query.offset + query.limit),
                                     "limit": str(query.limit)}
    return [{"rel": "next", "type": "application/json",
             "href": url_for("api.audit_log", _external=True, **args)}]


@bp.get("/audit")
def audit_log():
    fmt = request.args.get("f", FORMATS[0])
    if fmt not in FORMATS:
        raise ParameterError("f", f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    query = parse_audit_query(request.args)
    if fmt == "csv":
        if "limit" not in request.args:
            # A file carries no paging links: without an explicit page, all of it.
            query = dataclasses.replace(query, limit=None)
        rows = audit.iter_audit_rows(db.session, query)
        return streamed_file(audit.csv_chunks(rows), what="the audit trail (csv)",
                             mimetype="text/csv", filename="audit.csv")
    rows, matched = audit.query(db.session, query)
    return {"records": [_record_json(r) for r in rows], "numberMatched": matched,
            "numberReturned": len(rows), "links": _next_link(query, matched)}
