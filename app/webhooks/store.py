"""The subscriptions and their delivery log, in SQL (bound parameters only).

A subscription's view (:func:`view`) never holds its secret: the secret is answered
once, when the subscription is made.
"""

from __future__ import annotations

from datetime import UTC

import orjson
from sqlalchemy import text

# The columns a view shows, with the owner's user name.
_VIEW_COLUMNS = """
    s.id, s.user_id, u.username AS owner, s.url, s.types, s.filters, s.batch_size,
    s.active, s.paused_at, s.pause_reason, s.failing_since, s.failures,
    s.next_attempt_at, s.cursor, s.created_at, s.updated_at
"""
_SELECT = f"SELECT {_VIEW_COLUMNS} FROM subscriptions AS s JOIN users AS u ON u.id = s.user_id"  # noqa: S608


def _iso(value):
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def view(row) -> dict:
    """The JSON of a subscription row (no secret)."""
    return {
        "id": row["id"], "owner": row["owner"], "url": row["url"],
        "types": list(row["types"] or []), "filters": row["filters"] or {},
        "batch_size": row["batch_size"],
        "active": row["active"], "paused": row["paused_at"] is not None,
        "paused_at": _iso(row["paused_at"]), "pause_reason": row["pause_reason"],
        "failing_since": _iso(row["failing_since"]),
        "consecutive_failures": row["failures"],
        "next_attempt_at": _iso(row["next_attempt_at"]),
        "last_event_id": row["cursor"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }


def create(session, *, user_id: int, url: str, types, filters: dict, batch_size: int,
           secret: str) -> dict:
    """A new subscription starting after the newest event now; returns its row."""
    new_id = session.execute(text("""
        INSERT INTO subscriptions (user_id, url, types, filters, batch_size, secret, cursor)
        VALUES (:user_id, :url, CAST(:types AS text[]), CAST(:filters AS jsonb),
                :batch_size, :secret, (SELECT coalesce(max(id), 0) FROM events))
        RETURNING id"""), {
        "user_id": user_id, "url": url, "types": list(types),
        "filters": orjson.dumps(filters).decode(), "batch_size": batch_size,
        "secret": secret}).scalar_one()
    return get(session, new_id, None)


def get(session, subscription_id: int, owner_id: int | None, *, lock: bool = False):
    """The row of a subscription (of ``owner_id``; None: anybody's), or None."""
    if not 0 < subscription_id < 2**63:
        return None
    statement = _SELECT + (" WHERE s.id = :id"
                           " AND (CAST(:owner AS int) IS NULL OR s.user_id = :owner)")
    if lock:
        statement += " FOR UPDATE OF s"
    return session.execute(text(statement), {"id": subscription_id, "owner": owner_id}
                           ).mappings().one_or_none()


def list_for(session, owner_id: int | None) -> list:
    """Rows of ``owner_id``'s subscriptions (None: everybody's), oldest first."""
    return session.execute(text(
        _SELECT + " WHERE CAST(:owner AS int) IS NULL OR s.user_id = :owner ORDER BY s.id"),
        {"owner": owner_id}).mappings().all()


def update(session, subscription_id: int, changes: dict) -> None:
    """Set ``url``, ``types``, ``filters``, ``batch_size`` and/or ``active``. Turning a
    paused subscription active again resumes it now (failures forgotten); a changed
    target or filter drops the batch in flight (it is read again from the cursor)."""
    session.execute(text("""
        UPDATE subscriptions SET
            url = coalesce(:url, url),
            types = coalesce(CAST(:types AS text[]), types),
            filters = coalesce(CAST(:filters AS jsonb), filters),
            batch_size = coalesce(:batch_size, batch_size),
            active = coalesce(:active, active),
            paused_at = CASE WHEN :active THEN NULL ELSE paused_at END,
            pause_reason = CASE WHEN :active THEN NULL ELSE pause_reason END,
            failing_since = CASE WHEN :active THEN NULL ELSE failing_since END,
            failures = CASE WHEN :active THEN 0 ELSE failures END,
            next_attempt_at = CASE WHEN :active THEN clock_timestamp() ELSE next_attempt_at END,
            pending_delivery_id = CASE WHEN :reset THEN NULL ELSE pending_delivery_id END,
            pending_first_id = CASE WHEN :reset THEN NULL ELSE pending_first_id END,
            pending_last_id = CASE WHEN :reset THEN NULL ELSE pending_last_id END,
            pending_attempt = CASE WHEN :reset THEN 0 ELSE pending_attempt END,
            updated_at = clock_timestamp()
         WHERE id = :id"""), {
        "id": subscription_id, "url": changes.get("url"),
        "types": list(changes["types"]) if "types" in changes else None,
        "filters": orjson.dumps(changes["filters"]).decode() if "filters" in changes else None,
        "batch_size": changes.get("batch_size"), "active": changes.get("active"),
        "reset": bool({"filters", "types", "batch_size"} & set(changes))})


def delete(session, subscription_id: int) -> None:
    """Delete a subscription and its log."""
    session.execute(text("DELETE FROM subscriptions WHERE id = :id"), {"id": subscription_id})


def deliveries(session, subscription_id: int, limit: int,
               before_id: int | None = None) -> list[dict]:
    """The subscription's delivery attempts, newest first (``before_id``: older than
    that log entry)."""
    rows = session.execute(text("""
        SELECT id, delivery_id::text AS delivery_id, first_event_id, last_event_id,
               event_count, attempt, status_code, error, latency_ms, succeeded, replay, at
          FROM webhook_deliveries
         WHERE subscription_id = :id AND (CAST(:before AS bigint) IS NULL OR id < :before)
         ORDER BY id DESC LIMIT :limit"""),
        {"id": subscription_id, "before": before_id, "limit": limit}).mappings().all()
    return [{**dict(r), "at": _iso(r["at"]),
             "latency_ms": None if r["latency_ms"] is None else round(r["latency_ms"], 1)}
            for r in rows]


def delivery(session, subscription_id: int, delivery_id: str):
    """The events range of a logged delivery (its latest attempt), or None."""
    return session.execute(text("""
        SELECT delivery_id::text AS delivery_id, first_event_id, last_event_id, event_count
          FROM webhook_deliveries
         WHERE subscription_id = :id AND delivery_id::text = :delivery
         ORDER BY id DESC LIMIT 1"""), {"id": subscription_id, "delivery": delivery_id}
    ).mappings().one_or_none()
