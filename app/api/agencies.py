"""``/api/v1/agencies``: the agencies of the ministry. Every signed-in user lists them
(the codes an incident's ``agency`` and ``releasability`` use); admins create them and
change their names, active flag and release defaults (``app.auth.agencies``)."""

from __future__ import annotations

from flask import url_for

from app.api import ApiError, bp
from app.api.features import read_json_body
from app.auth.agencies import (
    agency_by_code,
    agency_view,
    create_agency,
    list_agencies,
    update_agency,
)
from app.auth.users import AuthError
from app.extensions import db
from geo.transactions import unit_of_work

WRITABLE = ("name_en", "name_ka", "active", "default_releasability", "default_aggregate")


def _object_body() -> dict:
    body = read_json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "Unprocessable Content", "the body must be a JSON object")
    unknown = sorted(set(body) - {"code", *WRITABLE})
    if unknown:
        raise ApiError(422, "Unprocessable Content",
                       f"{unknown[0]}: unknown property; properties are code, "
                       f"{', '.join(WRITABLE)}", field=unknown[0])
    return body


def _refused(exc: AuthError) -> ApiError:
    message = str(exc)
    field = message.split(":", 1)[0] if ":" in message else None
    status = 404 if message.startswith("agency: unknown code") else 422
    return ApiError(status, "Not Found" if status == 404 else "Unprocessable Content",
                    message, **({"field": field} if field else {}))


@bp.get("/agencies")
def agencies():
    return {"agencies": [agency_view(a) for a in list_agencies(db.session)]}


@bp.post("/agencies")
def create_agency_route():
    body = _object_body()
    try:
        with unit_of_work(db.session):
            agency = create_agency(
                db.session, body.get("code"), body.get("name_en"), body.get("name_ka"),
                default_releasability=body.get("default_releasability", "all"),
                default_aggregate=body.get("default_aggregate", True),
                active=body.get("active", True))
            view = agency_view(agency)
    except AuthError as exc:
        status = 409 if "exists already" in str(exc) else 422
        raise ApiError(status, "Conflict" if status == 409 else "Unprocessable Content",
                       str(exc), field="code" if status == 409 else
                       str(exc).split(":", 1)[0]) from None
    return view, 201, {"Location": url_for("api.get_agency", code=view["code"])}


@bp.get("/agencies/<code>")
def get_agency(code: str):
    try:
        return agency_view(agency_by_code(db.session, code))
    except AuthError as exc:
        raise _refused(exc) from None


@bp.patch("/agencies/<code>")
def update_agency_route(code: str):
    body = _object_body()
    if "code" in body and body["code"] != code:
        raise ApiError(422, "Unprocessable Content", "code: an agency's code never changes "
                                                     "(its records name it)", field="code")
    try:
        with unit_of_work(db.session):
            agency = agency_by_code(db.session, code)
            update_agency(db.session, agency, **{k: body[k] for k in WRITABLE if k in body
                                                 and body[k] is not None})
            view = agency_view(agency)
    except AuthError as exc:
        raise _refused(exc) from None
    return view
