"""The worker's inbox job: alerts, decisions and bulletins reach exactly the users who
see them in the change feed (region scope), once each, however often it runs."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.auth.users import create_user
from app.inbox.fanout import fan_out, fan_out_batch
from geo.events.outbox import emit
from tests.app.inbox.helpers import (
    alert,
    bulletin,
    decision,
    notifications_of,
    start_at_head,
)
from tests.conftest import TEST_PASSWORD


def _users(session):
    def user(name, regions=(), role="viewer", **options):
        return create_user(session, f"{name}-{uuid.uuid4().hex[:6]}", role, TEST_PASSWORD,
                           regions, **options)

    users = {"all": user("all"), "kk": user("kk", ("T-KK",)), "ka": user("ka", ("T-KA",)),
             "both": user("both", ("T-KK", "T-KA")),
             "supervisor": user("sup", role="supervisor"), "gone": user("gone")}
    users["gone"].active = False
    session.flush()
    return users


def _kinds(session, user) -> list[tuple[str, int]]:
    return [(n["kind"], n["event_id"]) for n in notifications_of(session, user.id)]


def test_each_user_is_told_of_the_events_of_their_regions_only(db_session, sample_layers):
    start_at_head(db_session)
    users = _users(db_session)
    kk, ka = sample_layers["regions"]["T-KK"], sample_layers["regions"]["T-KA"]
    section = sample_layers["border_segments"]["T-AZ-001"]
    in_kk = alert(db_session, section, kk, "T-KK")
    in_ka = bulletin(db_session, 7, ka, "T-KA")
    nowhere = bulletin(db_session, 8, None, None, product="weekly")
    decided = decision(db_session, section, kk, "T-KK", by=users["supervisor"].username)
    # Events the inbox does not tell of: a stored assessment, a feature's change.
    emit(db_session, "assessment.stored", entity="assessment", entity_id=1, region_id=kk,
         data={"assessment_id": 1})
    looked, written, more = fan_out_batch(db_session)
    assert (looked, more) == (4, False)
    assert _kinds(db_session, users["all"]) == [
        ("alert", in_kk), ("bulletin", in_ka), ("bulletin", nowhere), ("decision", decided)]
    assert _kinds(db_session, users["kk"]) == [("alert", in_kk), ("decision", decided)]
    assert _kinds(db_session, users["ka"]) == [("bulletin", in_ka)]
    assert _kinds(db_session, users["both"]) == [
        ("alert", in_kk), ("bulletin", in_ka), ("decision", decided)]
    # The supervisor who decided is not told of their own decision.
    assert _kinds(db_session, users["supervisor"]) == [
        ("alert", in_kk), ("bulletin", in_ka), ("bulletin", nowhere)]
    assert _kinds(db_session, users["gone"]) == []
    assert written == 4 + 2 + 1 + 3 + 3
    kk_alert, kk_decision = notifications_of(db_session, users["kk"].id)
    assert kk_alert["title"] == ("Alert: section T-AZ-001, 14 incidents against 5.2 expected "
                                 "(October 2026)")
    assert kk_alert["body"] == ("More incidents than the section's history leads to expect "
                                "(p = < 0.001).")
    assert kk_alert["link"] == f"/?region=T-KK&section={section}"
    assert kk_decision["title"] == (f"Section T-AZ-001: level set to critical by "
                                    f"{users['supervisor'].username}")
    assert kk_decision["body"] == "Convoy <b>seen</b> at night."  # user text, as written
    ka_bulletin, = notifications_of(db_session, users["ka"].id)
    assert ka_bulletin["title"] == "Monthly bulletin of T-KA (October 2026)"
    assert ka_bulletin["link"].startswith("/api/v1/reports/bulletin?")
    assert "region=T-KA" in ka_bulletin["link"]


def test_a_user_of_no_region_hears_of_nothing(db_session, sample_layers):
    start_at_head(db_session)
    lost = create_user(db_session, f"lost-{uuid.uuid4().hex[:6]}", "viewer", TEST_PASSWORD,
                       ("T-KK",))
    lost.regions = []
    db_session.flush()
    alert(db_session, sample_layers["border_segments"]["T-AZ-001"],
          sample_layers["regions"]["T-KK"], "T-KK")
    bulletin(db_session, 9, None, None)
    fan_out_batch(db_session)
    assert notifications_of(db_session, lost.id) == []


def test_running_again_tells_no_one_twice(db_session, sample_layers):
    start_at_head(db_session)
    users = _users(db_session)
    kk = sample_layers["regions"]["T-KK"]
    before = db_session.execute(text("SELECT last_event_id FROM inbox_cursor")).scalar_one()
    first = alert(db_session, sample_layers["border_segments"]["T-AZ-001"], kk, "T-KK")
    fan_out_batch(db_session)
    assert db_session.execute(text("SELECT last_event_id FROM inbox_cursor")
                              ).scalar_one() == first
    assert fan_out_batch(db_session) == (0, 0, False)
    # As if the cursor's move had been lost (a crash between the two): nothing doubles.
    db_session.execute(text("UPDATE inbox_cursor SET last_event_id = :id"), {"id": before})
    looked, written, _ = fan_out_batch(db_session)
    assert (looked, written) == (1, 0)
    assert _kinds(db_session, users["kk"]) == [("alert", first)]


def test_batches_move_the_cursor_past_what_they_looked_at(db_session, sample_layers):
    start_at_head(db_session)
    users = _users(db_session)
    kk = sample_layers["regions"]["T-KK"]
    section = sample_layers["border_segments"]["T-AZ-001"]
    ids = [alert(db_session, section, kk, "T-KK", observed=n) for n in (10, 11, 12)]
    assert fan_out_batch(db_session, limit=2)[::2] == (2, True)
    assert db_session.execute(text("SELECT last_event_id FROM inbox_cursor")
                              ).scalar_one() == ids[1]
    assert fan_out_batch(db_session, limit=2)[::2] == (1, False)
    assert [event for _, event in _kinds(db_session, users["kk"])] == ids
    # Events of other kinds after the last alert: the cursor moves to the newest event.
    db_session.execute(text("UPDATE incidents SET persons_count = persons_count + 1 "
                            "WHERE external_id = 'T-1'"))
    head = db_session.execute(text("SELECT max(id) FROM events")).scalar_one()
    assert fan_out_batch(db_session) == (0, 0, False)
    assert db_session.execute(text("SELECT last_event_id FROM inbox_cursor")
                              ).scalar_one() == head


def test_the_worker_job_commits_every_batch(app, db_session, sample_layers, monkeypatch):
    import app.inbox.fanout as fanout

    start_at_head(db_session)
    users = _users(db_session)
    kk = sample_layers["regions"]["T-KK"]
    for n in range(5):
        alert(db_session, sample_layers["border_segments"]["T-AZ-001"], kk, "T-KK",
              observed=20 + n)
    kk_user = users["kk"].id
    monkeypatch.setattr(fanout, "BATCH", 2)
    assert fan_out(app) is None
    assert len(notifications_of(db_session, kk_user)) == 5
