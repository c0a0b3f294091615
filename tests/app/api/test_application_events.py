"""The application's events: a level decision and a stored assessment each write their
event in their own transaction, with data that validates against the event type's JSON
Schema; a rolled-back write writes none (issue 17)."""

from __future__ import annotations

import jsonschema
from sqlalchemy import text

from app.api.event_schemas import data_schema

PERIOD = "2026-01-01T00:00:00Z/2026-12-31T23:59:59Z"


def _events(session, event_type: str, after: int) -> list:
    return session.execute(text(
        "SELECT id, type, entity, entity_id, subject, data, region_id FROM events "
        "WHERE type = :type AND id > :after ORDER BY id"),
        {"type": event_type, "after": after}).mappings().all()


def _head(session) -> int:
    return session.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()


def _valid(event) -> None:
    jsonschema.validate(event["data"], data_schema(event["type"]),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_a_level_decision_emits_level_decided(client, db_session, sample_layers, supervisor):
    section = sample_layers["border_segments"]["T-AZ-001"]
    head = _head(db_session)
    for level in ("high", None):
        response = client.patch(f"/api/v1/risk/segments/{section}/level", headers=supervisor,
                                json={"level": level, "justification": "patrol reports rising"})
        assert response.status_code == 200, response.get_data(as_text=True)
    decided = _events(db_session, "level.decided", head)
    assert [e["data"]["level"] for e in decided] == ["high", None]
    assert [e["data"]["previous_level"] for e in decided] == [None, "high"]
    region = db_session.execute(text("SELECT region_id FROM border_segments WHERE id = :id"),
                                {"id": section}).scalar_one()
    for event in decided:
        _valid(event)
        assert event["subject"] == f"section/{section}" and event["region_id"] == region
        assert event["data"]["section_code"] == "T-AZ-001"
        assert event["data"]["region_code"] == "T-KK"
        assert event["data"]["decided_by"].startswith("supervisor-")


def test_a_stored_assessment_emits_assessment_stored(client, db_session, sample_layers,
                                                     analyst):
    head = _head(db_session)
    response = client.post("/api/v1/risk/assessments", headers=analyst,
                           json={"region": "T-KK", "datetime": PERIOD})
    assert response.status_code == 201, response.get_data(as_text=True)
    stored = response.get_json()
    [event] = _events(db_session, "assessment.stored", head)
    _valid(event)
    assert event["entity_id"] == stored["id"]
    assert event["data"]["assessment_id"] == stored["id"]
    assert event["data"]["region_code"] == "T-KK"
    assert event["data"]["sections"] == len(stored["sections"])
    assert event["data"]["created_by"].startswith("analyst-")
    assert event["region_id"] == stored["region_id"]


def test_a_rolled_back_decision_or_assessment_emits_nothing(client, db_session, sample_layers,
                                                            supervisor, monkeypatch):
    from app.api import risk

    def failing_audit(*args, **kwargs):
        raise RuntimeError("the audit trail failed")

    monkeypatch.setattr(risk.audit, "record", failing_audit)
    head = _head(db_session)
    section = sample_layers["border_segments"]["T-AZ-001"]
    decided = client.patch(f"/api/v1/risk/segments/{section}/level", headers=supervisor,
                           json={"level": "critical", "justification": "patrol reports rising"})
    stored = client.post("/api/v1/risk/assessments", headers=supervisor,
                         json={"region": "T-KK", "datetime": PERIOD})
    assert decided.status_code == stored.status_code == 500
    assert _head(db_session) == head
    assert db_session.execute(text("SELECT count(*) FROM risk_level_decisions "
                                   "WHERE segment_id = :id"), {"id": section}).scalar() == 0
