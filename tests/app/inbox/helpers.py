"""Application events as the emitting code writes them, for the inbox's tests."""

from __future__ import annotations

from sqlalchemy import text

from geo.events.outbox import emit

OCTOBER = ["2026-10-01T00:00:00+04:00", "2026-11-01T00:00:00+04:00"]


def start_at_head(session) -> None:
    """Move the fan-out's cursor to the newest event (earlier tests' are not ours)."""
    session.execute(text("UPDATE inbox_cursor SET last_event_id = "
                         "(SELECT coalesce(max(id), 0) FROM events)"))


def alert(session, section_id: int, region_id: int | None, region_code: str | None,
          section_code: str = "T-AZ-001", observed: int = 14, expected: float = 5.2) -> int:
    return emit(session, "alert.raised", entity="section", entity_id=section_id,
                region_id=region_id, data={
                    "section_id": section_id, "section_code": section_code,
                    "region_code": region_code, "period": OCTOBER, "observed": observed,
                    "expected": expected, "p_value": 0.0004, "level": "high"})


def decision(session, section_id: int, region_id: int, region_code: str, by: str,
             level: str | None = "critical") -> int:
    return emit(session, "level.decided", entity="section", entity_id=section_id,
                region_id=region_id, data={
                    "section_id": section_id, "section_code": "T-AZ-001",
                    "region_code": region_code, "level": level, "previous_level": "high",
                    "justification": "Convoy <b>seen</b> at night.", "decided_by": by,
                    "decided_at": "2026-10-20T10:00:00+00:00"})


def bulletin(session, bulletin_id: int, region_id: int | None, region_code: str | None,
             product: str = "monthly") -> int:
    return emit(session, "bulletin.published", entity="bulletin", entity_id=bulletin_id,
                region_id=region_id, data={
                    "bulletin_id": bulletin_id, "region_code": region_code,
                    "product": product, "period": OCTOBER,
                    "published_at": "2026-11-01T06:00:00+04:00"})


def notifications_of(session, user_id: int) -> list[dict]:
    return [dict(row) for row in session.execute(text(
        "SELECT n.id, n.kind, n.title, n.body, n.link, n.event_id, n.read_at, n.emailed_at, "
        "n.email_error FROM notifications AS n WHERE user_id = :user ORDER BY id"),
        {"user": user_id}).mappings()]
