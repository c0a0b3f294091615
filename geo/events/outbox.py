"""Writing events: the application's own (the data layers' are written by the
database's triggers), and retention."""

from __future__ import annotations

import orjson
from sqlalchemy import text

from geo.events.types import APPLICATION_TYPES

_EMIT_SQL = text("""
    INSERT INTO events (type, entity, entity_id, subject, data, region_id)
    VALUES (:type, :entity, :entity_id, :subject, CAST(:data AS jsonb), :region_id)
    RETURNING id
""")


def emit(session, event_type: str, *, entity: str, entity_id: int | None, data: dict,
         region_id: int | None) -> int:
    """Write an application event in the session's transaction (it is seen when, and
    only if, that transaction commits); returns its id.

    Parameters
    ----------
    event_type : str
        One of ``geo.events.types.APPLICATION_TYPES``.
    entity, entity_id
        What it is about (``section`` and a section id, ``bulletin`` and its id...);
        the CloudEvents ``subject`` is ``entity/entity_id``.
    data : dict
        The event's data (JSON-serialisable: dates as ISO text).
    region_id : int or None
        The region whose users see it (None: unrestricted users only).
    """
    if event_type not in APPLICATION_TYPES:
        raise ValueError(f"{event_type!r} is not an application event type")
    subject = entity if entity_id is None else f"{entity}/{entity_id}"
    return session.execute(_EMIT_SQL, {
        "type": event_type, "entity": entity, "entity_id": entity_id, "subject": subject,
        "data": orjson.dumps(data).decode(), "region_id": region_id}).scalar_one()


# The events are in time order by id (ids are taken in commit order, each time when its
# row is written): the first young event, found by walking the primary key from the
# oldest, bounds what goes; no index on time is kept for it.
_PURGE_SQL = text("""
    WITH young AS (
        SELECT id FROM events
         WHERE time >= clock_timestamp() - CAST(:days AS double precision) * interval '1 day'
         ORDER BY id LIMIT 1
    ), last AS (
        SELECT CASE WHEN EXISTS (SELECT FROM young) THEN (SELECT id - 1 FROM young)
                    ELSE (SELECT max(id) FROM events) END AS id
    ), gone AS (
        DELETE FROM events WHERE id <= (SELECT id FROM last) RETURNING id
    )
    UPDATE events_horizon SET purged_through = greatest(purged_through, (SELECT id FROM last))
     WHERE EXISTS (SELECT FROM gone)
    RETURNING (SELECT count(*) FROM gone)
""")



def purge(session, retention_days: float) -> int:
    """Delete the events older than ``retention_days`` (days) and move the feed's
    horizon past them (a cursor at or before it is then expired); returns how many.
    Does not commit."""
    return session.execute(_PURGE_SQL, {"days": retention_days}).scalar_one_or_none() or 0
