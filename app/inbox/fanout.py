"""The worker's ``inbox`` job: application events become users' notifications.

``alert.raised`` -> an ``alert``, ``level.decided`` -> a ``decision``,
``bulletin.published`` -> a ``bulletin``, for every active user who sees the event in
the change feed (``geo.events.feed``: an event of a region is seen by users of every
region and by users whose regions hold it; an event of no region by users of every
region only; these events have no agency). The user who made a decision is not told of
it.

The job keeps a cursor (``inbox_cursor``, migration ``c7d9e1f3a5b6``): the last event
id it looked at. Each batch is one transaction: the cursor row is locked (a second
worker skips the round), the events after it are read, one statement inserts every
notification of the batch (users joined in SQL), and the cursor moves on. Re-running a
batch (a crash before commit) inserts nothing twice: a user has one notification per
event (the unique index on ``(user_id, event_id)``).

Event ids are in commit order (the outbox's lock), so when fewer events than a batch
match, the cursor may move to the newest event id seen: nothing smaller can commit
later.
"""

from __future__ import annotations

import logging

import orjson
from sqlalchemy import text

from app.inbox.messages import describe

logger = logging.getLogger(__name__)

EVENT_TYPES = ("alert.raised", "level.decided", "bulletin.published")
BATCH = 500

_LOCK_CURSOR = text(
    "SELECT last_event_id FROM inbox_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED")

_EVENTS = text("""
    SELECT h.head, e.id, e.type, e.region_id, e.data
      FROM (SELECT coalesce(max(id), 0) AS head FROM events) AS h
      LEFT JOIN LATERAL (
        SELECT id, type, region_id, data FROM events
         WHERE id > :since AND type = ANY(:types)
         ORDER BY id LIMIT :limit) AS e ON true
     ORDER BY e.id
""")

_FAN_OUT = text("""
    INSERT INTO notifications (user_id, kind, title, body, link, event_id, message)
    SELECT u.id, x.kind, x.title, x.body, x.link, x.event_id, CAST(x.message AS jsonb)
      FROM unnest(CAST(:event_ids AS bigint[]), CAST(:region_ids AS int[]),
                  CAST(:kinds AS text[]), CAST(:titles AS text[]), CAST(:bodies AS text[]),
                  CAST(:links AS text[]), CAST(:messages AS text[]), CAST(:actors AS text[]))
           AS x(event_id, region_id, kind, title, body, link, message, actor)
      JOIN users AS u
        ON u.active
       AND u.username IS DISTINCT FROM x.actor
       AND (u.all_regions OR EXISTS (
             SELECT 1 FROM user_regions AS ur
              WHERE ur.user_id = u.id AND ur.region_id = x.region_id))
     ORDER BY x.event_id, u.id
    ON CONFLICT (user_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
""")

_MOVE_CURSOR = text("UPDATE inbox_cursor SET last_event_id = :last, "
                    "updated_at = clock_timestamp() WHERE id = 1")


def fan_out_batch(session, limit: int = BATCH) -> tuple[int, int, bool]:
    """One batch in the session's transaction (the caller commits): ``(events looked
    at, notifications written, more)``; ``more``: a full batch, others may follow.
    ``(0, 0, False)`` when another worker holds the cursor."""
    since = session.execute(_LOCK_CURSOR).scalar_one_or_none()
    if since is None:
        return 0, 0, False
    rows = session.execute(_EVENTS, {"since": since, "types": list(EVENT_TYPES),
                                     "limit": limit}).mappings().all()
    events = [row for row in rows if row["id"] is not None]
    columns: dict[str, list] = {name: [] for name in (
        "event_ids", "region_ids", "kinds", "titles", "bodies", "links", "messages",
        "actors")}
    for event in events:
        said = describe(event["type"], event["data"])
        if said is None:
            continue
        columns["event_ids"].append(event["id"])
        columns["region_ids"].append(event["region_id"])
        columns["kinds"].append(said["kind"])
        columns["titles"].append(said["title"])
        columns["bodies"].append(said["body"])
        columns["links"].append(said["link"])
        columns["messages"].append(orjson.dumps(said["message"]).decode())
        columns["actors"].append(said["actor"])
    written = session.execute(_FAN_OUT, columns).rowcount if columns["event_ids"] else 0
    more = len(events) == limit
    last = events[-1]["id"] if more else max(since, rows[0]["head"] if rows else since)
    if last != since:
        session.execute(_MOVE_CURSOR, {"last": last})
    return len(events), written, more


def fan_out(app) -> float | None:
    """The worker's job: every batch that is due, each committed; runs again when an
    event wakes the worker (or at its poll)."""
    from app.extensions import db
    from geo.transactions import unit_of_work

    total = 0
    try:
        while True:
            with unit_of_work(db.session):
                _, written, more = fan_out_batch(db.session, BATCH)
            total += written
            if not more:
                break
    finally:
        db.session.remove()
    if total:
        logger.info("inbox: %d notifications", total)
    return None
