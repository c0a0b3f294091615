"""The change feed: the events a caller may see after a cursor, in commit order, each
as the caller sees it.

A data layer's event keeps the record's state before and after the change (existed,
region, agency, releasability: migration ``e7b2c4d9f1a0``). A caller sees the change
when it sees the record before or after it, by the API's own rules (``geo.scope``):

- seen after (and before, or it was a create): the event as it is;
- seen after, not before (an update that released the record to the caller, or moved it
  into the caller's regions): ``<prefix>.created``;
- seen before, not after (a delete, or the record stopped being released to the caller,
  or left its regions): a tombstone, ``<prefix>.deleted`` with ``{"id": ...}`` as data.

A record's values reach a caller only while the caller may still see it: an old event
of a record whose newest event the caller does not see after its change (deleted since,
released to it no more, moved out of its regions) is a tombstone too. A feed read from
the oldest event kept, or a replayed webhook, shows nothing an originator has withdrawn.

An application event (an alert, a decision...) is seen by callers whose regions hold
its region (an event of no region: unrestricted callers only).

Cursors are opaque to clients: an event id, encoded (:func:`encode_cursor`). Ids are in
commit order (the migration's lock), so a page that ends at an id never skips a smaller
one committed later.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from sqlalchemy import text

from geo.errors import ParameterError
from geo.scope import VIEWER_PARAMETER, scope_parameter, visibility_condition

CURSOR_PREFIX = b"ev1:"


class CursorExpiredError(Exception):
    """A cursor older than the retention: the events after it are gone."""


def encode_cursor(event_id: int) -> str:
    """The opaque text of a position in the feed (after event ``event_id``)."""
    return base64.urlsafe_b64encode(CURSOR_PREFIX + str(int(event_id)).encode()).decode() \
        .rstrip("=")


def decode_cursor(cursor: str, field: str = "since") -> int:
    """The event id of a cursor :func:`encode_cursor` gave.

    Raises
    ------
    ParameterError
        Not such a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    number = raw.removeprefix(CURSOR_PREFIX)
    if not raw.startswith(CURSOR_PREFIX) or not number.isdigit() or len(number) > 18:
        raise ParameterError(field, "is not a cursor this feed gave (use the 'cursor' of "
                                    "an earlier answer, or leave it out to start from the "
                                    "oldest event kept)")
    return int(number)


@dataclass
class FeedQuery:
    """Which events, for whom.

    ``since_id``: events after this id (None: from the oldest kept). ``types``: event
    types (empty: all), matched on the type the caller sees. ``region_id``: events of
    records in that region before or after the change. ``equals``: property -> accepted
    values (text); an event whose data (a Feature's ``properties``, else the object)
    has the property must have one of the values, others pass (a tombstone has none).
    ``scope_region_ids`` / ``viewer_agency``: the caller's rights as in
    ``geo.queries.features.FeatureQuery`` (None: unrestricted, every agency's).
    """

    since_id: int | None = None
    types: tuple[str, ...] = ()
    region_id: int | None = None
    equals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scope_region_ids: frozenset[int] | None = None
    viewer_agency: str | None = None
    limit: int = 100


@dataclass
class FeedPage:
    """Events (dicts: ``id``, ``type`` as seen, ``time``, ``subject``, ``data``,
    ``feature``: whether ``data`` is a GeoJSON Feature) and the cursor after them."""

    events: list[dict]
    last_id: int

    @property
    def cursor(self) -> str:
        return encode_cursor(self.last_id)


def _seen(state: str, query: FeedQuery, alias: str = "e") -> str:
    """SQL truth of "the caller sees the record in state ``state``" (``before_`` or
    ``""``: the columns' prefix) of event ``alias``; never NULL (a record of no region
    is outside every scope)."""
    exists = f"{alias}.before_exists IS TRUE" if state else f"{alias}.after_exists"
    conditions = [exists]
    if query.scope_region_ids is not None:
        conditions.append(f"{alias}.{state}region_id = ANY(:scope)")
    if query.viewer_agency is not None:
        conditions.append(f"({alias}.{state}agency IS NULL OR "
                          f"{visibility_condition(alias=f'{alias}.{state}')})")
    return f"coalesce({' AND '.join(conditions)}, false)"


_FEED_SQL = """
SELECT h.head, p.*
  FROM (SELECT coalesce(max(id), 0) AS head FROM events) AS h
  LEFT JOIN LATERAL (
    SELECT e.id, v.shown_type AS type, e.time, e.subject, e.entity, e.entity_id,
           e.before_exists IS NOT NULL AS feature,
           CASE WHEN v.tombstone THEN jsonb_build_object('id', e.entity_id)
                ELSE e.data END AS data
      FROM events AS e
     CROSS JOIN LATERAL (SELECT {seen_before} AS before, {seen_after} AS after) AS s
     LEFT JOIN LATERAL (
        SELECT {seen_now} AS seen FROM events AS l
         WHERE e.before_exists IS NOT NULL
           AND l.entity = e.entity AND l.entity_id = e.entity_id
         ORDER BY l.id DESC LIMIT 1) AS n ON true
     CROSS JOIN LATERAL (
        SELECT e.before_exists IS NOT NULL AND NOT (s.after AND n.seen) AS tombstone) AS t
     CROSS JOIN LATERAL (
        SELECT t.tombstone,
               CASE WHEN t.tombstone
                        THEN split_part(e.type, '.', 1) || '.deleted'
                    WHEN e.before_exists IS NOT NULL AND NOT s.before
                         AND e.type LIKE '%.updated'
                        THEN split_part(e.type, '.', 1) || '.created'
                    ELSE e.type END AS shown_type) AS v
     WHERE e.id > :since AND (s.before OR s.after) {filters}
     ORDER BY e.id
     LIMIT :limit) AS p ON true
 ORDER BY p.id
"""


def _filters(query: FeedQuery) -> tuple[str, dict]:
    conditions, params = [], {}
    if query.types:
        conditions.append("v.shown_type = ANY(:types)")
        params["types"] = list(query.types)
    if query.region_id is not None:
        conditions.append("(e.region_id = :region_id OR e.before_region_id = :region_id)")
        params["region_id"] = query.region_id
    for number, (name, values) in enumerate(sorted(query.equals.items())):
        target = "coalesce(e.data->'properties', e.data)"
        conditions.append(f"(v.tombstone OR NOT {target} ? :prop_{number} "
                          f"OR {target}->>:prop_{number} = ANY(:values_{number}))")
        params[f"prop_{number}"] = name
        params[f"values_{number}"] = [str(v) for v in values]
    return "".join(f" AND {c}" for c in conditions), params


def horizon(session) -> int:
    """The highest event id retention has purged (0: none)."""
    return session.execute(text("SELECT purged_through FROM events_horizon")).scalar_one()


def read_feed(session, query: FeedQuery) -> FeedPage:
    """A page of the feed: up to ``query.limit`` events after ``query.since_id``.

    The page's cursor is its last event's id, or, when fewer events matched than the
    limit, the newest event's id when the page was read (what follows it is all the
    caller has not seen yet): one statement, one snapshot.

    Raises
    ------
    CursorExpiredError
        ``since_id`` is older than what retention kept.
    """
    purged = horizon(session)
    since = purged if query.since_id is None else query.since_id
    if since < purged:
        raise CursorExpiredError(since)
    filters, params = _filters(query)
    statement = _FEED_SQL.format(seen_before=_seen("before_", query),
                                 seen_after=_seen("", query),
                                 seen_now=_seen("", query, alias="l"), filters=filters)
    params |= {"since": since, "limit": query.limit}
    if query.scope_region_ids is not None:
        params["scope"] = scope_parameter(query.scope_region_ids)
    if query.viewer_agency is not None:
        params[VIEWER_PARAMETER] = query.viewer_agency
    rows = session.execute(text(statement), params).mappings().all()
    if query.since_id is not None and since < horizon(session):
        raise CursorExpiredError(since)  # purged while the page was read
    events = [dict(row) for row in rows if row["id"] is not None]
    for event in events:
        event.pop("head")
    if len(events) == query.limit:
        last = events[-1]["id"]
    else:
        last = max(since, rows[0]["head"]) if rows else since
    return FeedPage(events, last)


def head(session) -> int:
    """The newest event's id (0: none yet)."""
    return session.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
