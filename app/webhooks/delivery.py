"""The worker's webhook job: deliver each due subscription's next batch of events.

One delivery, in three steps (``deliver_one``):

1. **claim** (a short transaction): the due subscription waiting longest, locked
   ``FOR UPDATE SKIP LOCKED`` so concurrent workers pass over it; its batch in flight,
   or else the next ``batch_size`` events after its cursor **as its owner sees them
   now** (``geo.events.feed.read_feed`` with the owner's agency and region scope, read
   from ``users`` at this moment), is recorded with a delivery id and a lease of
   ``2 x WEBHOOK_TIMEOUT_S + 5`` seconds, and committed. A batch with no event the owner
   may see moves the cursor and sends nothing.
2. **send**: one POST, signed (``app.webhooks.signing``), to the checked address
   (``app.webhooks.targets``), outside any transaction.
3. **record** (a short transaction): the attempt enters the log; a 2xx moves the cursor
   past the batch and the subscription is due again at once; a failure schedules the
   retry after ``min(WEBHOOK_RETRY_MAX_S, WEBHOOK_RETRY_BASE_S x 2^(failures-1))``
   seconds x a random factor in [0.5, 1) (jitter), and pauses the subscription, telling
   its owner, once it has failed for ``WEBHOOK_PAUSE_AFTER_HOURS``.

A worker killed between 1 and 3 leaves the batch recorded: when the lease ends any
worker sends the same events under the same delivery id (at least once). Only one
batch of a subscription is ever in flight, and the cursor moves only past a delivered
batch, so a subscription's events arrive in order.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import text

from app.extensions import db
from app.inbox import notify
from app.webhooks import signing, targets
from geo.events.cloudevents import BATCH_CONTENT_TYPE, EVENT_CONTENT_TYPE, envelope
from geo.events.feed import FeedQuery, read_feed
from geo.transactions import unit_of_work
from geo.vocabulary import ROLES

logger = logging.getLogger(__name__)

# A round of the job delivers for at most this long (s) before other jobs get a turn.
ROUND_S = 20.0
# The role a subscription's owner needs (a lower one pauses it).
OWNER_ROLE = "analyst"

_CLAIM_SQL = text("""
    SELECT s.id, s.user_id, s.url, s.types, s.filters, s.batch_size, s.secret, s.cursor,
           s.pending_delivery_id::text AS pending_delivery_id, s.pending_first_id,
           s.pending_last_id, s.pending_attempt, s.failing_since,
           u.agency, u.all_regions, u.active AS owner_active, u.role AS owner_role
      FROM subscriptions AS s JOIN users AS u ON u.id = s.user_id
     WHERE s.active AND s.paused_at IS NULL AND s.next_attempt_at <= clock_timestamp()
       AND (s.lease_until IS NULL OR s.lease_until < clock_timestamp())
       AND (s.pending_delivery_id IS NOT NULL
            OR s.cursor < (SELECT coalesce(max(id), 0) FROM events))
       AND (CAST(:only AS bigint) IS NULL OR s.id = :only)
     ORDER BY s.next_attempt_at, s.id
     LIMIT 1
     FOR UPDATE OF s SKIP LOCKED
""")

_OWNER_REGIONS_SQL = text("SELECT region_id FROM user_regions WHERE user_id = :user_id")

_REGION_SQL = text("SELECT id FROM regions WHERE code = :code")

_LEASE_SQL = text("""
    UPDATE subscriptions SET
        lease_until = clock_timestamp() + CAST(:lease_s AS double precision) * interval '1 second',
        pending_delivery_id = CAST(:delivery AS uuid), pending_first_id = :first,
        pending_last_id = :last, pending_attempt = pending_attempt + 1
     WHERE id = :id
""")

_SKIP_SQL = text("UPDATE subscriptions SET cursor = greatest(cursor, :through) WHERE id = :id")

_PAUSE_SQL = text("""
    UPDATE subscriptions SET paused_at = clock_timestamp(), pause_reason = :reason,
           lease_until = NULL, updated_at = clock_timestamp()
     WHERE id = :id
""")

# The attempt's outcome, only while the batch is still this one (a lease that ran out
# and was taken over, or a subscription deleted meanwhile, records nothing).
_RECORD_SQL = text("""
    WITH s AS (
        UPDATE subscriptions SET
            lease_until = NULL,
            cursor = CASE WHEN :ok THEN greatest(cursor, :through) ELSE cursor END,
            pending_delivery_id = CASE WHEN :ok THEN NULL ELSE pending_delivery_id END,
            pending_first_id = CASE WHEN :ok THEN NULL ELSE pending_first_id END,
            pending_last_id = CASE WHEN :ok THEN NULL ELSE pending_last_id END,
            pending_attempt = CASE WHEN :ok THEN 0 ELSE pending_attempt END,
            failures = CASE WHEN :ok THEN 0 ELSE failures + 1 END,
            failing_since = CASE WHEN :ok THEN NULL
                                 ELSE coalesce(failing_since, clock_timestamp()) END,
            next_attempt_at = CASE WHEN :ok THEN clock_timestamp()
                ELSE clock_timestamp() + least(
                    CAST(:max_s AS double precision),
                    CAST(:base_s AS double precision) * power(2, least(failures, 40)))
                    * CAST(:jitter AS double precision) * interval '1 second' END
         WHERE id = :id AND pending_delivery_id = CAST(:delivery AS uuid)
        RETURNING id, user_id, failing_since, failures
    ), logged AS (
        INSERT INTO webhook_deliveries (subscription_id, delivery_id, first_event_id,
                                        last_event_id, event_count, attempt, status_code,
                                        error, latency_ms, succeeded, replay)
        SELECT s.id, CAST(:delivery AS uuid), :first, :last, :count, :attempt, :status,
               :error, :latency_ms, :ok, false
          FROM s
    )
    SELECT id, user_id, failing_since,
           failing_since <= clock_timestamp()
               - CAST(:pause_h AS double precision) * interval '1 hour' AS overdue
      FROM s
""")

_REPLAY_LOG_SQL = text("""
    INSERT INTO webhook_deliveries (subscription_id, delivery_id, first_event_id,
                                    last_event_id, event_count, attempt, status_code,
                                    error, latency_ms, succeeded, replay)
    SELECT :id, CAST(:delivery AS uuid), :first, :last, :count,
           1 + (SELECT count(*) FROM webhook_deliveries
                 WHERE subscription_id = :id AND delivery_id = CAST(:delivery AS uuid)),
           :status, :error, :latency_ms, :ok, true
    RETURNING id
""")

_NEXT_DUE_SQL = text("""
    SELECT extract(epoch FROM min(greatest(s.next_attempt_at,
                                           coalesce(s.lease_until, s.next_attempt_at)))
                              - clock_timestamp())
      FROM subscriptions AS s
     WHERE s.active AND s.paused_at IS NULL
       AND (s.pending_delivery_id IS NOT NULL
            OR s.cursor < (SELECT coalesce(max(id), 0) FROM events))
""")


@dataclass
class Batch:
    """A claimed subscription's batch: what to send and where."""

    subscription_id: int
    owner_id: int
    url: str
    secret: str
    delivery_id: str
    events: list[dict]
    through: int  # the cursor after the batch (covers events the owner does not see)
    attempt: int
    batched: bool

    @property
    def first_id(self) -> int:
        return self.events[0]["id"]

    @property
    def last_id(self) -> int:
        return self.events[-1]["id"]


def owner_query(session, row, since_id: int, limit: int) -> FeedQuery:
    """The feed query of a subscription row: its filters, with its owner's rights as
    ``users`` holds them now."""
    filters = row["filters"] or {}
    region_id = None
    if filters.get("region"):
        # A region renamed or gone matches nothing (never everything).
        region_id = session.execute(_REGION_SQL, {"code": filters["region"]}).scalar() or -1
    scope = None
    if not row["all_regions"]:
        scope = frozenset(session.execute(_OWNER_REGIONS_SQL,
                                          {"user_id": row["user_id"]}).scalars())
    equals = {name: tuple(values) for name, values in filters.items()
              if name != "region" and values}
    return FeedQuery(since_id=since_id, types=tuple(row["types"] or ()), region_id=region_id,
                     equals=equals, scope_region_ids=scope, viewer_agency=row["agency"],
                     limit=limit)


def _owner_problem(row) -> str | None:
    if not row["owner_active"]:
        return "its owner's account is inactive"
    if ROLES.index(row["owner_role"]) < ROLES.index(OWNER_ROLE):
        return f"its owner no longer has the {OWNER_ROLE} role"
    return None


def claim(app, only_id: int | None = None) -> Batch | None | bool:
    """Step 1: the next due subscription's batch, leased and committed; True when a
    subscription was due but had nothing to send (its cursor moved, or it was paused),
    None when none is due."""
    session = db.session
    with unit_of_work(session):
        row = session.execute(_CLAIM_SQL, {"only": only_id}).mappings().one_or_none()
        if row is None:
            return None
        problem = _owner_problem(row)
        if problem:
            _pause(session, row["id"], row["user_id"], problem)
            return True
        batch_size = min(row["batch_size"], app.config["WEBHOOK_BATCH_MAX"])
        page = read_feed(session, owner_query(session, row, row["cursor"], batch_size))
        events = page.events
        through = page.last_id
        if row["pending_delivery_id"] is not None:
            # The batch in flight again: the same range, the same delivery id.
            events = [e for e in events if e["id"] <= row["pending_last_id"]]
            through = (row["pending_last_id"] if len(events) == len(page.events)
                       else page.last_id)
            delivery_id = row["pending_delivery_id"]
        else:
            delivery_id = str(uuid.uuid4())
        if not events:
            session.execute(_SKIP_SQL, {"id": row["id"], "through": through})
            session.execute(text("UPDATE subscriptions SET pending_delivery_id = NULL, "
                                 "pending_first_id = NULL, pending_last_id = NULL, "
                                 "pending_attempt = 0 WHERE id = :id"), {"id": row["id"]})
            return True
        lease_s = 2 * app.config["WEBHOOK_TIMEOUT_S"] + 5
        session.execute(_LEASE_SQL, {"id": row["id"], "lease_s": lease_s,
                                     "delivery": delivery_id, "first": events[0]["id"],
                                     "last": through})
        return Batch(row["id"], row["user_id"], row["url"], row["secret"], delivery_id,
                     events, through, row["pending_attempt"] + 1, row["batch_size"] > 1)


def request_body(batch_events: list[dict], source: str, batched: bool) -> tuple[bytes, str]:
    """The body and content type: one structured CloudEvent, or a batch (a JSON array)
    for a subscription with ``batch_size`` above 1."""
    clouds = [envelope(e, source) for e in batch_events]
    if batched:
        return orjson.dumps(clouds), BATCH_CONTENT_TYPE
    return orjson.dumps(clouds[0]), EVENT_CONTENT_TYPE


def send(app, url: str, secret: str, delivery_id: str, body: bytes,
         content_type: str, event_count: int) -> targets.Answer:
    """Step 2: the signed POST."""
    headers = {"Content-Type": content_type,
               signing.DELIVERY_HEADER: delivery_id,
               signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
               "BorderRisk-Event-Count": str(event_count)}
    return targets.post(url, body, headers, allowed_hosts=app.config["WEBHOOK_ALLOWED_HOSTS"],
                        timeout_s=app.config["WEBHOOK_TIMEOUT_S"])


def _pause(session, subscription_id: int, owner_id: int, reason: str) -> None:
    session.execute(_PAUSE_SQL, {"id": subscription_id, "reason": reason})
    notify(session, [owner_id], "webhook", f"Webhook subscription {subscription_id} paused",
           body=f"Deliveries stopped: {reason}. Fix the receiver, then resume it with "
                f'PATCH /api/v1/subscriptions/{subscription_id} {{"active": true}}.',
           link=f"/api/v1/subscriptions/{subscription_id}")
    logger.warning("webhook subscription %s paused: %s", subscription_id, reason)


def record(app, batch: Batch, answer: targets.Answer) -> None:
    """Step 3: log the attempt; move the cursor, or schedule the retry (and pause)."""
    config = app.config
    session = db.session
    with unit_of_work(session):
        row = session.execute(_RECORD_SQL, {
            "id": batch.subscription_id, "delivery": batch.delivery_id, "ok": answer.ok,
            "through": batch.through,
            "base_s": config["WEBHOOK_RETRY_BASE_S"], "max_s": config["WEBHOOK_RETRY_MAX_S"],
            "jitter": random.uniform(0.5, 1.0),  # noqa: S311  (timing, not secrecy)
            "first": batch.first_id, "last": batch.last_id, "count": len(batch.events),
            "attempt": batch.attempt, "status": answer.status, "error": answer.error,
            "latency_ms": answer.latency_ms,
            "pause_h": config["WEBHOOK_PAUSE_AFTER_HOURS"]}).mappings().one_or_none()
        if row is not None and not answer.ok and row["overdue"]:
            _pause(session, row["id"], row["user_id"],
                   f"every delivery failed for {config['WEBHOOK_PAUSE_AFTER_HOURS']:g} hours "
                   f"(last: {answer.error})")


def deliver_one(app, only_id: int | None = None) -> bool:
    """Claim, send and record one batch; False when nothing was due."""
    claimed = claim(app, only_id)
    if claimed is None:
        return False
    if claimed is True:
        return True
    body, content_type = request_body(claimed.events, app.config["EVENT_SOURCE"],
                                      claimed.batched)
    answer = send(app, claimed.url, claimed.secret, claimed.delivery_id, body, content_type,
                  len(claimed.events))
    if not answer.ok:
        logger.info("webhook %s delivery %s failed: %s", claimed.subscription_id,
                    claimed.delivery_id, answer.error)
    record(app, claimed, answer)
    return True


def replay(app, subscription_id: int, delivery: dict) -> dict:
    """Send a logged delivery's events again (as the owner sees them now), under its
    delivery id, and log the attempt as a replay; returns the log entry's facts. The
    subscription's cursor and retries are left as they are."""
    session = db.session
    with unit_of_work(session) as work:
        row = session.execute(text("""
            SELECT s.id, s.user_id, s.url, s.types, s.filters, s.batch_size, s.secret,
                   u.agency, u.all_regions
              FROM subscriptions AS s JOIN users AS u ON u.id = s.user_id
             WHERE s.id = :id"""), {"id": subscription_id}).mappings().one()
        limit = max(1, min(delivery["event_count"], app.config["WEBHOOK_BATCH_MAX"]))
        page = read_feed(session, owner_query(session, row, delivery["first_event_id"] - 1,
                                              limit))
        work.discard()
    events = [e for e in page.events if e["id"] <= delivery["last_event_id"]]
    if not events:
        answer = targets.Answer(None, "none of the delivery's events is kept and visible "
                                      "to the owner any more: nothing sent", 0.0)
    else:
        body, content_type = request_body(events, app.config["EVENT_SOURCE"],
                                          row["batch_size"] > 1)
        answer = send(app, row["url"], row["secret"], delivery["delivery_id"], body,
                      content_type, len(events))
    with unit_of_work(session):
        log_id = session.execute(_REPLAY_LOG_SQL, {
            "id": subscription_id, "delivery": delivery["delivery_id"],
            "first": delivery["first_event_id"], "last": delivery["last_event_id"],
            "count": len(events), "status": answer.status, "error": answer.error,
            "latency_ms": answer.latency_ms, "ok": answer.ok and bool(events)}).scalar_one()
    return {"id": log_id, "delivery_id": delivery["delivery_id"], "event_count": len(events),
            "status_code": answer.status, "error": answer.error,
            "latency_ms": round(answer.latency_ms, 1), "succeeded": answer.ok and bool(events),
            "replay": True}


def seconds_until_due() -> float | None:
    """Seconds until a subscription with work is next due (None: none has work)."""
    with unit_of_work(db.session) as work:
        value = db.session.execute(_NEXT_DUE_SQL).scalar()
        work.discard()
    return None if value is None else max(0.0, float(value))


def deliver_webhooks(app) -> float | None:
    """The worker's job: deliver while subscriptions are due (at most ``ROUND_S``
    seconds); returns the seconds until the next is due (None: when woken by an
    event)."""
    deadline = time.monotonic() + ROUND_S
    try:
        while time.monotonic() < deadline:
            if not deliver_one(app):
                break
        else:
            return 0.0
        wait = seconds_until_due()
    finally:
        db.session.remove()
    return None if wait is None else max(0.01, wait)
