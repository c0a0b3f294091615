"""Scheduled products: the schedules of the regional units' bulletins
(``/api/v1/schedules``) and the archive of the bulletins produced
(``/api/v1/bulletins``).

Schedules are read by everyone in their regions and written by supervisors and admins
of those regions (``app.auth.permissions``): a schedule or a bulletin of a region
outside the caller's scope is not found (404), a ``region`` outside it is 403. Every
schedule write is audited. The worker (``app.worker.schedules``) produces the
bulletins.
"""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask_login import current_user

from app import audit
from app.api import ApiError, bp
from app.api.params import ParameterError, parse_int
from app.api.problem_pages import browser_page
from app.api.scoping import scoped_region_code
from app.auth.scope import region_scope
from app.extensions import db
from app.ui.i18n import current_locale
from geo import clock
from geo.products import archive, periods
from geo.queries.database import region_id_for_code
from geo.transactions import unit_of_work

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
SCHEDULE_WRITABLE = ("time_zone", "active")
BULLETIN_FORMATS = {"html": "text/html", "pdf": "application/pdf"}


def _page_arguments() -> tuple[int, int]:
    return (parse_int("limit", request.args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT),
            parse_int("offset", request.args.get("offset"), 0, 0, MAX_OFFSET))


def _region_filter() -> int | None:
    code = scoped_region_code(request.args.get("region"), default=False)
    if code is None:
        return None
    region_id = region_id_for_code(db.session, code)
    if region_id is None:
        raise ParameterError("region", f"unknown region code {code!r}")
    return region_id


def _page(endpoint: str, items_name: str, items: list, matched: int, limit: int,
          offset: int) -> dict:
    links = []
    if offset + limit < matched:
        args = request.args.to_dict() | {"offset": str(offset + limit), "limit": str(limit)}
        links.append({"rel": "next", "type": "application/json",
                      "href": url_for(endpoint, _external=True, **args)})
    return {items_name: items, "numberMatched": matched, "numberReturned": len(items),
            "links": links}


def _in_scope(record: dict | None, kind: str, record_id: int) -> dict:
    scope = region_scope()
    if record is None or (scope is not None and record["region_id"] not in scope):
        raise ApiError(404, "Not Found", f"no {kind} with id {record_id}")
    return record


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "the body must be a JSON object")
    return body


def _time_zone(value) -> str:
    if not isinstance(value, str) or len(value) > 64 or not periods.valid_time_zone(value):
        raise ParameterError("time_zone", f"{str(value)[:40]!r} is not an IANA time zone "
                                          "such as Asia/Tbilisi")
    return value


def _active(value) -> bool:
    if not isinstance(value, bool):
        raise ParameterError("active", "must be true or false")
    return value


def _audited(schedule: dict) -> dict:
    return {k: schedule[k] for k in ("region", "product", "time_zone", "active",
                                     "next_run_at")}


# --- schedules ------------------------------------------------------------------------

@bp.get("/schedules")
def list_schedules():
    limit, offset = _page_arguments()
    items, matched = archive.list_schedules(db.session, scope=region_scope(),
                                            region_id=_region_filter(), limit=limit,
                                            offset=offset)
    return _page("api.list_schedules", "schedules", items, matched, limit, offset)


@bp.get("/schedules/<int:schedule_id>")
def get_schedule(schedule_id: int):
    return _in_scope(archive.get_schedule(db.session, schedule_id), "schedule", schedule_id)


@bp.post("/schedules")
def create_schedule():
    body = _json_body()
    unknown = sorted(set(body) - {"region", "product", *SCHEDULE_WRITABLE})
    if unknown:
        raise ParameterError(unknown[0], "is not a property of a schedule (region, "
                                         "product, time_zone, active)")
    region = body.get("region")
    if not isinstance(region, str) or not region or "\x00" in region:
        raise ParameterError("region", "is required: a region code")
    region = scoped_region_code(region, default=True)
    region_id = region_id_for_code(db.session, region)
    if region_id is None:
        raise ParameterError("region", f"unknown region code {region[:40]!r}")
    product = body.get("product")
    if product not in periods.PRODUCTS:
        raise ParameterError("product", f"must be one of {', '.join(periods.PRODUCTS)}")
    time_zone = _time_zone(body.get("time_zone", current_app.config["SCHEDULE_TIMEZONE"]))
    active = _active(body.get("active", True))
    with unit_of_work(db.session):
        schedule_id = archive.create_schedule(db.session, region_id, product, time_zone,
                                              active, clock.utc_now(), current_user.id)
        if schedule_id is None:
            raise ApiError(409, "Conflict", f"region {region} has a {product} schedule "
                                            "already: change it (PATCH) instead",
                           field="product")
        schedule = archive.get_schedule(db.session, schedule_id)
        audit.record(db.session, "create", "schedule", schedule_id, after=_audited(schedule))
    return schedule, 201, {"Location": url_for("api.get_schedule", schedule_id=schedule_id)}


@bp.patch("/schedules/<int:schedule_id>")
def update_schedule(schedule_id: int):
    schedule = _in_scope(archive.get_schedule(db.session, schedule_id), "schedule",
                         schedule_id)
    body = _json_body()
    unknown = sorted(set(body) - set(SCHEDULE_WRITABLE))
    if unknown:
        raise ParameterError(unknown[0], "cannot be changed: a schedule's time_zone and "
                                         "active can (region and product: create another)")
    time_zone = _time_zone(body["time_zone"]) if "time_zone" in body \
        else schedule["time_zone"]
    active = _active(body["active"]) if "active" in body else schedule["active"]
    with unit_of_work(db.session):
        archive.update_schedule(db.session, schedule, time_zone=time_zone, active=active,
                                now=clock.utc_now())
        changed = archive.get_schedule(db.session, schedule_id)
        audit.record(db.session, "update", "schedule", schedule_id,
                     before=_audited(schedule), after=_audited(changed))
    return changed


@bp.delete("/schedules/<int:schedule_id>")
def delete_schedule(schedule_id: int):
    schedule = _in_scope(archive.get_schedule(db.session, schedule_id), "schedule",
                         schedule_id)
    with unit_of_work(db.session):
        archive.delete_schedule(db.session, schedule_id)
        audit.record(db.session, "delete", "schedule", schedule_id, before=_audited(schedule))
    return "", 204


# --- the bulletins' archive ------------------------------------------------------------

@bp.get("/bulletins")
def list_bulletins():
    limit, offset = _page_arguments()
    product = request.args.get("product") or None
    if product is not None and product not in periods.PRODUCTS:
        raise ParameterError("product", f"must be one of {', '.join(periods.PRODUCTS)}")
    items, matched = archive.list_bulletins(db.session, scope=region_scope(),
                                            region_id=_region_filter(), product=product,
                                            limit=limit, offset=offset)
    return _page("api.list_bulletins", "bulletins", [_with_links(b) for b in items],
                 matched, limit, offset)


def _with_links(record: dict) -> dict:
    base = url_for("api.get_bulletin", bulletin_id=record["id"])
    return {**record, "links": {"self": base, "html": f"{base}.html", "pdf": f"{base}.pdf"}}


@bp.get("/bulletins/<int:bulletin_id>")
def get_bulletin(bulletin_id: int):
    record = archive.get_bulletin(db.session, bulletin_id, with_config=True)
    return _with_links(_in_scope(record, "bulletin", bulletin_id))


@bp.get("/bulletins/<int:bulletin_id>.<fmt>")
@browser_page
def bulletin_file(bulletin_id: int, fmt: str):
    if fmt not in BULLETIN_FORMATS:
        raise ApiError(404, "Not Found", f"no bulletin format {fmt[:20]!r}; formats: "
                                         f"{', '.join(BULLETIN_FORMATS)}")
    record = _in_scope(archive.get_bulletin(db.session, bulletin_id), "bulletin",
                       bulletin_id)
    name = f"bulletin-{record['region']}-{record['product']}-{record['period'][0][:10]}"
    if fmt == "html":
        return Response(archive.bulletin_html(db.session, bulletin_id, current_locale()),
                        mimetype="text/html",
                        headers={"Content-Disposition": f'inline; filename="{name}.html"'})
    return Response(archive.bulletin_pdf(db.session, bulletin_id, current_locale()),
                    mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
