"""Webhook subscriptions: ``/api/v1/subscriptions`` (analysts and above; each user
sees their own, an admin everybody's; anyone else's is 404).

``POST`` ``{"url", "types", "filters": {"region", "category", "agency", "level"},
"batch_size"}`` answers 201 with the subscription and its ``secret``, shown this once.
The URL's host must be one of ``WEBHOOK_ALLOWED_HOSTS`` (``app.webhooks.targets``).
The worker delivers the events after the moment of creation that the owner may see
(``app.webhooks.delivery``). ``PATCH`` changes any of those and ``active`` (``true``
resumes a paused subscription); ``DELETE`` removes it and its log.
``GET .../deliveries`` is the delivery log; ``POST .../deliveries/{id}/replay`` sends a
logged delivery's events again.
"""

from __future__ import annotations

import uuid

from flask import current_app, request, url_for
from flask_login import current_user

from app import audit
from app.api import ApiError, bp
from app.api.changes import PROPERTY_FILTERS, feed_region_id, property_filters
from app.api.features import read_json_body
from app.api.params import ParameterError, parse_int
from app.extensions import db
from app.webhooks import delivery, signing, store
from app.webhooks.targets import TargetError, parse_target
from geo.errors import OutOfScopeError
from geo.events.types import parse_types
from geo.transactions import unit_of_work

WRITABLE = ("url", "types", "filters", "batch_size", "active")
FILTERS = ("region", *PROPERTY_FILTERS)
MAX_LOG_LIMIT = 1000


def _owner_filter() -> int | None:
    """Whose subscriptions the caller sees: their own (an admin: everybody's)."""
    return None if current_user.has_role("admin") else current_user.id


def _unprocessable(field: str, message: str) -> ApiError:
    return ApiError(422, "Unprocessable Content", f"{field}: {message}", field=field)


def _body(required: tuple[str, ...]) -> dict:
    body = read_json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "Unprocessable Content", "the body must be a JSON object")
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        raise _unprocessable(unknown[0], f"unknown property; properties are "
                                         f"{', '.join(WRITABLE)}")
    for name in required:
        if body.get(name) is None:
            raise _unprocessable(name, "is required")
    return body


def _filters(value) -> dict:
    """The subscription's filters, checked and normalised (lists of texts; ``region`` a
    code of the caller's scope)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _unprocessable("filters", f"must be an object of {', '.join(FILTERS)}")
    unknown = sorted(set(value) - set(FILTERS))
    if unknown:
        raise _unprocessable(f"filters.{unknown[0]}",
                             f"unknown filter; filters are {', '.join(FILTERS)}")
    normalised: dict = {}
    region = value.get("region")
    if region not in (None, ""):
        if not isinstance(region, str) or len(region) > 64:
            raise _unprocessable("filters.region", "must be a region code")
        try:
            feed_region_id(region)
        except OutOfScopeError as exc:
            raise ApiError(403, "Forbidden", f"filters.region: {str(exc).split(': ', 1)[-1]}",
                           field="filters.region") from None
        except ParameterError as exc:
            raise _unprocessable("filters.region", str(exc).split(": ", 1)[-1]) from None
        normalised["region"] = region
    try:
        equals = property_filters({k: v for k, v in value.items() if k != "region"})
    except ParameterError as exc:
        raise _unprocessable(f"filters.{exc.field}", str(exc).split(": ", 1)[-1]) from None
    normalised.update({name: list(values) for name, values in equals.items()})
    return normalised


def _changes(body: dict) -> dict:
    """The checked values of the body's writable properties."""
    changes: dict = {}
    if "url" in body:
        try:
            parse_target(body["url"], current_app.config["WEBHOOK_ALLOWED_HOSTS"])
        except TargetError as exc:
            raise _unprocessable("url", str(exc)) from None
        changes["url"] = body["url"].strip()
    if "types" in body:
        if body["types"] is not None and not isinstance(body["types"], list | str):
            raise _unprocessable("types", "must be a list of event types")
        changes["types"] = list(parse_types(body["types"] or []))
    if "filters" in body:
        changes["filters"] = _filters(body["filters"])
    if "batch_size" in body:
        size, most = body["batch_size"], current_app.config["WEBHOOK_BATCH_MAX"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= most:
            raise _unprocessable("batch_size", f"must be a whole number from 1 to {most} "
                                               "(WEBHOOK_BATCH_MAX)")
        changes["batch_size"] = size
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise _unprocessable("active", "must be true or false")
        changes["active"] = body["active"]
    return changes


def _subscription(subscription_id: int, *, lock: bool = False):
    row = store.get(db.session, subscription_id, _owner_filter(), lock=lock)
    if row is None:
        raise ApiError(404, "Not Found", f"subscription_id: no subscription "
                                         f"{subscription_id}", field="subscription_id")
    return row


def _with_links(view: dict) -> dict:
    return {**view, "links": [
        {"rel": "self", "href": url_for("api.get_subscription",
                                        subscription_id=view["id"], _external=True)},
        {"rel": "deliveries", "href": url_for("api.subscription_deliveries",
                                              subscription_id=view["id"], _external=True)}]}


@bp.post("/subscriptions")
def create_subscription():
    changes = _changes(_body(("url",)))
    secret = signing.new_secret()
    with unit_of_work(db.session):
        row = store.create(db.session, user_id=current_user.id, url=changes["url"],
                           types=changes.get("types", []),
                           filters=changes.get("filters", {}),
                           batch_size=changes.get("batch_size", 1), secret=secret)
        view = store.view(row)
        audit.record(db.session, "create", "subscription", view["id"], after=view)
    answer = _with_links(view) | {"secret": secret}
    return answer, 201, {"Location": url_for("api.get_subscription",
                                             subscription_id=view["id"])}


@bp.get("/subscriptions")
def list_subscriptions():
    rows = store.list_for(db.session, _owner_filter())
    return {"subscriptions": [_with_links(store.view(r)) for r in rows]}


@bp.get("/subscriptions/<int:subscription_id>")
def get_subscription(subscription_id: int):
    return _with_links(store.view(_subscription(subscription_id)))


@bp.patch("/subscriptions/<int:subscription_id>")
def update_subscription(subscription_id: int):
    body = _body(())
    with unit_of_work(db.session):
        before = store.view(_subscription(subscription_id, lock=True))
        changes = _changes(body)
        store.update(db.session, subscription_id, changes)
        after = store.view(_subscription(subscription_id))
        audit.record(db.session, "update", "subscription", subscription_id,
                     before=before, after=after)
    return _with_links(after)


@bp.delete("/subscriptions/<int:subscription_id>")
def delete_subscription(subscription_id: int):
    with unit_of_work(db.session):
        before = store.view(_subscription(subscription_id, lock=True))
        store.delete(db.session, subscription_id)
        audit.record(db.session, "delete", "subscription", subscription_id, before=before)
    return "", 204


@bp.get("/subscriptions/<int:subscription_id>/deliveries")
def subscription_deliveries(subscription_id: int):
    _subscription(subscription_id)
    limit = parse_int("limit", request.args.get("limit"), 100, 1, MAX_LOG_LIMIT)
    before = request.args.get("before")
    before_id = parse_int("before", before, 0, 1, 2**63 - 1) if before else None
    entries = store.deliveries(db.session, subscription_id, limit, before_id)
    return {"deliveries": entries}


@bp.post("/subscriptions/<int:subscription_id>/deliveries/<delivery_id>/replay")
def replay_delivery(subscription_id: int, delivery_id: str):
    _subscription(subscription_id)
    try:
        delivery_id = str(uuid.UUID(delivery_id))
    except ValueError:
        delivery_id = ""
    logged = store.delivery(db.session, subscription_id, delivery_id) if delivery_id else None
    db.session.rollback()  # the read's transaction ends before the POST
    if logged is None:
        raise ApiError(404, "Not Found", "delivery_id: no such delivery of this "
                                         "subscription", field="delivery_id")
    entry = delivery.replay(current_app._get_current_object(), subscription_id, dict(logged))
    return entry, 200
