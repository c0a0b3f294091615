"""Alerts raised once per section and period.

After incidents (or sections) change, :func:`raise_alerts` re-evaluates the alert test
(``geo.risk.ciram.count_alerts``, as ``GET /api/v1/alerts`` does) for the **default
analysis period** (``geo.products.periods.default_analysis_period``: the last complete
UTC month before the data clock's now, as the map page and the API without
``datetime`` use; never the month under way, whose partial count would be compared with
the baselines of full months) of every region those changes touched, counted in the
view every agency shares
(``geo.risk.assessments.SHARED_VIEW``, as stored assessments are). A section whose
test fires is recorded in ``section_alerts`` (primary key: section and period start);
``alert.raised`` is emitted only for the rows that insert adds, in the same
transaction, so a section alerts once per period however many writes follow (and a
section whose test stops firing and fires again in the same period is not raised
again). A month's alerts are raised by the first change looked at after it has ended
(late records of that month included).

``alert_cursor`` keeps the last event looked at: event ids are in commit order
(migration ``e7b2c4d9f1a0``), so the events after it are exactly the changes not yet
looked at. The cursor row is claimed ``FOR UPDATE SKIP LOCKED``: one worker at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from geo.errors import ParameterError
from geo.events.outbox import emit
from geo.products import periods
from geo.risk import assessments

# The data changes that may make a section's count cross its alert test.
WATCHED_ENTITIES = ("incidents", "border_segments")

_CLAIM = text("SELECT last_event_id FROM alert_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED")
_HEAD = text("SELECT coalesce(max(id), 0) FROM events")
_TOUCHED = text("""
    SELECT DISTINCT r.code
      FROM events AS e
     CROSS JOIN LATERAL unnest(ARRAY[e.region_id, e.before_region_id]) AS t (region_id)
      JOIN regions AS r ON r.id = t.region_id
     WHERE e.id > :after AND e.id <= :head AND e.entity = ANY(:entities)
     ORDER BY r.code
""")
_RECORD = text("""
    INSERT INTO section_alerts (segment_id, period_start, period_end)
    VALUES (:segment_id, :start, :end)
    ON CONFLICT (segment_id, period_start) DO NOTHING
    RETURNING segment_id
""")
_SET_EVENT = text("UPDATE section_alerts SET event_id = :event_id "
                  "WHERE segment_id = :segment_id AND period_start = :start")
_SECTION_REGION = text("SELECT region_id FROM border_segments WHERE id = :id")
_MOVE = text("UPDATE alert_cursor SET last_event_id = :head WHERE id = 1")


def raise_alerts(session, config, srid: int, now: datetime) -> list[int] | None:
    """Look at the changes since the cursor and raise the new alerts of the default
    analysis period at ``now`` (the data clock); returns the ids of the ``alert.raised``
    events written (None when another worker holds the cursor). Does not commit: run it
    in a unit of work."""
    after = session.execute(_CLAIM).scalar_one_or_none()
    if after is None:
        return None
    head = session.execute(_HEAD).scalar_one()
    if head <= after:
        return []
    codes = session.execute(_TOUCHED, {"after": after, "head": head,
                                       "entities": list(WATCHED_ENTITIES)}).scalars().all()
    period = periods.default_analysis_period(session, now, assessments.SHARED_VIEW)
    raised = []
    for code in codes:
        raised += _raise_region(session, config, srid, code, period)
    session.execute(_MOVE, {"head": head})
    return raised


def _raise_region(session, config, srid: int, region_code: str,
                  period: periods.AnalysisPeriod) -> list[int]:
    # recorded and told half-open, [start, end), as the bulletins' periods
    start, end = period.start, period.end_exclusive
    try:
        evaluated = assessments.assess_region(session, config, region_code, period.start,
                                              period.end, srid,
                                              viewer_agency=assessments.SHARED_VIEW)
    except ParameterError:
        return []  # a region without sections has nothing to alert on
    firing = [s for s in evaluated["sections"] if s["alert"]["alert"]]
    if not firing:
        return []
    assessments.apply_decisions(session, firing)
    events = []
    for section in firing:
        inserted = session.execute(_RECORD, {"segment_id": section["section_id"],
                                             "start": start, "end": end}).scalar()
        if inserted is None:
            continue  # already raised in this period
        alert = section["alert"]
        region_id = session.execute(_SECTION_REGION, {"id": section["section_id"]}).scalar()
        event_id = emit(session, "alert.raised", entity="section",
                        entity_id=section["section_id"], region_id=region_id, data={
                            "section_id": section["section_id"],
                            "section_code": section["code"], "region_code": region_code,
                            "period": [start.isoformat(), end.isoformat()],
                            "observed": int(alert["observed"]),
                            "expected": float(alert["expected"]),
                            "p_value": float(alert["p_value"]), "level": section["level"]})
        session.execute(_SET_EVENT, {"event_id": event_id, "segment_id": section["section_id"],
                                     "start": start})
        events.append(event_id)
    return events
