"""The application's own events, each written in the transaction of what it tells
(``geo.events.outbox.emit``), with the data ``app.api.event_schemas.APPLICATION_SCHEMAS``
promises: a rolled-back write leaves none.

- ``level.decided``: a supervisor's decision on a section's level (``app.api.risk``);
- ``assessment.stored``: a stored risk assessment (the API's, or the worker's for a
  schedule);
- ``alert.raised``: a section's alert test fired for the current period, once per
  section and period (``geo.products.alerts``);
- ``bulletin.published``: a scheduled bulletin archived (``app.worker.schedules``).

Each event's ``region_id`` is the region of its section or assessment: users of that
region see it (``geo.events.feed``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from geo.events.outbox import emit

_SECTION = text("""
    SELECT s.id, s.code, s.region_id, r.code AS region_code
      FROM border_segments AS s LEFT JOIN regions AS r ON r.id = s.region_id
     WHERE s.id = :id
""")
_REGION_CODE = text("SELECT code FROM regions WHERE id = :id")
_USERNAME = text("SELECT username FROM users WHERE id = :id")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _username(session, user_id: int | None) -> str | None:
    return None if user_id is None else session.execute(_USERNAME, {"id": user_id}).scalar()


def level_decided(session, decision, previous: dict | None) -> int:
    """``level.decided`` of a ``RiskLevelDecision`` (flushed) and the decision it
    replaced (``geo.risk.assessments.decide_level``'s ``previous``)."""
    section = session.execute(_SECTION, {"id": decision.segment_id}).one()
    return emit(session, "level.decided", entity="section", entity_id=section.id,
                region_id=section.region_id, data={
                    "section_id": section.id, "section_code": section.code,
                    "region_code": section.region_code, "level": decision.level,
                    "previous_level": (previous or {}).get("level"),
                    "justification": decision.justification,
                    "decided_by": _username(session, decision.decided_by),
                    "decided_at": _iso(decision.decided_at)})


def assessment_stored(session, record, evaluated: dict, created_by: str | None = None) -> int:
    """``assessment.stored`` of a ``RiskAssessment`` (flushed) and its evaluation;
    ``created_by``: who stored it (default: its user's name)."""
    region_code = (None if record.region_id is None else
                   session.execute(_REGION_CODE, {"id": record.region_id}).scalar())
    author = created_by if created_by is not None else _username(session, record.created_by)
    return emit(session, "assessment.stored", entity="assessment", entity_id=record.id,
                region_id=record.region_id, data={
                    "assessment_id": record.id, "region_code": region_code,
                    "period": [_iso(record.period_start), _iso(record.period_end)],
                    "created_at": _iso(record.created_at), "created_by": author,
                    "sections": len(evaluated["sections"]),
                    "alerts": int(evaluated["summary"].get("alerts") or 0)})
