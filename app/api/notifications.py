"""The signed-in user's inbox (``/api/v1/notifications``) and e-mail subscriptions
(``/api/v1/me/notifications``).

Every caller reads and marks only their own notifications: another user's is 404, as
if it did not exist. Titles and bodies come in the request's language
(``app.inbox.messages``). Marking read is the reader's own bookkeeping, not a change of
data: it is not audited; a change of the e-mail address or subscriptions is.
"""

from __future__ import annotations

import re

from flask import current_app, request, url_for
from flask_babel import get_translations
from flask_login import current_user
from sqlalchemy import select, text

from app import audit
from app.api import ApiError, bp
from app.api.params import ParameterError, parse_bool, parse_int
from app.auth.models import User
from app.extensions import db
from app.inbox.messages import render
from app.ui.i18n import current_locale
from geo.transactions import unit_of_work

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_ID = 2**63 - 1
EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
MAX_EMAIL = 254

_LIST = text("""
    SELECT id, kind, title, body, link, message, created_at, read_at, emailed_at
      FROM notifications
     WHERE user_id = :user AND id < :before AND (NOT :unread OR read_at IS NULL)
     ORDER BY id DESC
     LIMIT :limit
""")
_COUNTS = text("""
    SELECT count(*) FILTER (WHERE read_at IS NULL) AS unread, count(*) AS total
      FROM notifications WHERE user_id = :user
""")
_MARK_ONE = text("""
    UPDATE notifications SET read_at = coalesce(read_at, clock_timestamp())
     WHERE id = :id AND user_id = :user
    RETURNING id, kind, title, body, link, message, created_at, read_at, emailed_at
""")
_MARK_ALL = text("""
    UPDATE notifications SET read_at = clock_timestamp()
     WHERE user_id = :user AND read_at IS NULL AND id <= :through
""")
_UNREAD = text("SELECT count(*) FROM notifications WHERE user_id = :user AND read_at IS NULL")


def _iso(value):
    return value.isoformat() if value is not None else None


def _shown(row) -> dict:
    """A notification as the API gives it, in the request's language."""
    title, body = render(dict(row), current_locale(), get_translations().gettext)
    return {"id": row["id"], "kind": row["kind"], "title": title, "body": body,
            "link": row["link"], "created_at": _iso(row["created_at"]),
            "read": row["read_at"] is not None, "read_at": _iso(row["read_at"]),
            "emailed_at": _iso(row["emailed_at"])}


def _unread_count() -> int:
    return db.session.execute(_UNREAD, {"user": current_user.id}).scalar_one()


@bp.get("/notifications")
def list_notifications():
    args = request.args
    limit = parse_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
    before = parse_int("before", args.get("before"), MAX_ID, 1, MAX_ID)
    unread = parse_bool("unread", args.get("unread"))
    rows = db.session.execute(_LIST, {"user": current_user.id, "before": before,
                                      "unread": unread, "limit": limit}).mappings().all()
    counts = db.session.execute(_COUNTS, {"user": current_user.id}).mappings().one()
    links = []
    if len(rows) == limit:
        following = args.to_dict() | {"before": rows[-1]["id"]}
        links.append({"rel": "next", "type": "application/json",
                      "href": url_for("api.list_notifications", _external=True, **following)})
    return {"notifications": [_shown(row) for row in rows],
            "unread_count": counts["unread"], "total_count": counts["total"], "links": links}


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int):
    with unit_of_work(db.session):
        row = db.session.execute(_MARK_ONE, {"id": notification_id, "user": current_user.id}
                                 ).mappings().first() if notification_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, "Not Found", f"no notification {notification_id} in your inbox")
    return {"notification": _shown(row), "unread_count": _unread_count()}


@bp.post("/notifications/read-all")
def read_all_notifications():
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise ApiError(400, "Bad Request", "the body must be a JSON object (or empty)")
    body = body if body is not None else {}
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "the body must be a JSON object (or empty)")
    through = body.get("through", MAX_ID)
    if isinstance(through, bool) or not isinstance(through, int) or not 0 <= through <= MAX_ID:
        raise ParameterError("through", "must be a notification id (the newest one shown): "
                                        "those up to it are marked read")
    with unit_of_work(db.session):
        marked = db.session.execute(_MARK_ALL, {"user": current_user.id,
                                                "through": through}).rowcount
    return {"marked": marked, "unread_count": _unread_count()}


# --- e-mail ---------------------------------------------------------------------------


def mail_settings_of(user) -> dict:
    return {"email": user.email, "email_alerts": user.email_alerts,
            "email_bulletins": user.email_bulletins}


def check_email(value) -> str | None:
    """An e-mail address (trimmed), or None for '' / null (no address).

    Raises
    ------
    ParameterError
        Not an address.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParameterError("email", "must be an e-mail address, or null for none")
    value = value.strip()
    if value == "":
        return None
    if len(value) > MAX_EMAIL or not EMAIL_RE.match(value):
        raise ParameterError("email", "is not an e-mail address (name@example.org)")
    return value


def set_mail_settings(session, user, changes: dict, actor: dict | None = None) -> bool:
    """Apply ``email`` / ``email_alerts`` / ``email_bulletins`` (already checked) and
    audit the change (``update`` of the user, before and after); False if unchanged."""
    before = mail_settings_of(user)
    for name, value in changes.items():
        setattr(user, name, value)
    after = mail_settings_of(user)
    if after == before:
        return False
    session.flush()
    audit.record(session, "update", "user", user.id, before=before, after=after, actor=actor)
    return True


def _me(lock: bool = False) -> User:
    """The caller's row (a bearer token's caller is no ORM user)."""
    query = select(User).where(User.id == current_user.id)
    return db.session.execute(query.with_for_update() if lock else query).scalar_one()


def _settings_answer(user: User) -> dict:
    return {**mail_settings_of(user),
            "email_available": bool(current_app.config.get("SMTP_URL"))}


@bp.get("/me/notifications")
def notification_settings():
    return _settings_answer(_me())


@bp.patch("/me/notifications")
def update_notification_settings():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "the body must be a JSON object with email, "
                       "email_alerts and/or email_bulletins")
    unknown = sorted(set(body) - {"email", "email_alerts", "email_bulletins"})
    if unknown:
        raise ParameterError(unknown[0], "is not a setting of the inbox (email, "
                                         "email_alerts, email_bulletins)")
    changes = {}
    if "email" in body:
        changes["email"] = check_email(body["email"])
    for name in ("email_alerts", "email_bulletins"):
        if name in body:
            if not isinstance(body[name], bool):
                raise ParameterError(name, "must be true or false")
            changes[name] = body[name]
    with unit_of_work(db.session):
        user = _me(lock=True)
        if changes.get("email", user.email) is None and (
                changes.get("email_alerts", user.email_alerts)
                or changes.get("email_bulletins", user.email_bulletins)):
            if "email" in changes and not any(changes.get(n) for n in ("email_alerts",
                                                                       "email_bulletins")):
                # Removing the address ends the subscriptions with it.
                changes |= {"email_alerts": False, "email_bulletins": False}
            else:
                raise ParameterError("email", "is needed to receive e-mail: give an address")
        set_mail_settings(db.session, user, changes)
    return _settings_answer(user)
