"""The inbox API: each caller's own notifications, newest first, in their language;
marking read; another's notification is 404; e-mail settings."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.inbox import notify
from app.inbox.fanout import fan_out_batch
from tests.app.inbox.helpers import alert, decision, start_at_head
from tests.conftest import TEST_PASSWORD


def _caller(session, regions=("T-KK",), role="viewer"):
    user = create_user(session, f"inbox-{uuid.uuid4().hex[:6]}", role, TEST_PASSWORD, regions)
    _, token = create_token(session, user, "test")
    return user, {"Authorization": f"Bearer {token}"}


def test_a_caller_lists_and_marks_only_their_own(client, db_session, sample_layers):
    start_at_head(db_session)
    me, mine = _caller(db_session)
    other, theirs = _caller(db_session, ("T-KA",))
    section = sample_layers["border_segments"]["T-AZ-001"]
    kk = sample_layers["regions"]["T-KK"]
    alert(db_session, section, kk, "T-KK")
    decision(db_session, section, kk, "T-KK", by="someone-else")
    notify(db_session, [other.id], "webhook", "Your webhook fails", "HTTP 500")
    fan_out_batch(db_session)

    listed = client.get("/api/v1/notifications", headers=mine)
    assert listed.status_code == 200
    page = listed.get_json()
    assert page["unread_count"] == 2 and page["total_count"] == 2
    newest, oldest = page["notifications"]
    assert (newest["kind"], oldest["kind"]) == ("decision", "alert")  # newest first
    assert newest["read"] is False and newest["read_at"] is None
    assert oldest["title"].startswith("Alert: section T-AZ-001, 14 incidents")
    theirs_page = client.get("/api/v1/notifications", headers=theirs).get_json()
    assert [n["kind"] for n in theirs_page["notifications"]] == ["webhook"]
    their_id = theirs_page["notifications"][0]["id"]

    # Another's notification does not exist for me; mine does.
    assert client.post(f"/api/v1/notifications/{their_id}/read", headers=mine
                       ).status_code == 404
    assert client.post("/api/v1/notifications/999999999999/read", headers=mine
                       ).status_code == 404
    marked = client.post(f"/api/v1/notifications/{oldest['id']}/read", headers=mine)
    assert marked.status_code == 200
    assert marked.get_json()["notification"]["read"] is True
    assert marked.get_json()["unread_count"] == 1
    first_read = marked.get_json()["notification"]["read_at"]
    again = client.post(f"/api/v1/notifications/{oldest['id']}/read", headers=mine)
    assert again.get_json()["notification"]["read_at"] == first_read  # read once
    unread = client.get("/api/v1/notifications?unread=true", headers=mine).get_json()
    assert [n["id"] for n in unread["notifications"]] == [newest["id"]]
    # The other's stays unread.
    assert client.get("/api/v1/notifications", headers=theirs).get_json()["unread_count"] == 1


def test_read_all_marks_up_to_what_was_shown(client, db_session, sample_layers):
    me, mine = _caller(db_session)
    first = [notify(db_session, [me.id], "alert", f"alert {n}") for n in range(3)]
    assert first == [None] * 3
    shown = client.get("/api/v1/notifications", headers=mine).get_json()
    newest_shown = shown["notifications"][0]["id"]
    notify(db_session, [me.id], "alert", "arrived while reading")
    answer = client.post("/api/v1/notifications/read-all", headers=mine,
                         json={"through": newest_shown})
    assert answer.status_code == 200
    assert answer.get_json() == {"marked": 3, "unread_count": 1}
    assert client.post("/api/v1/notifications/read-all", headers=mine).get_json() == {
        "marked": 1, "unread_count": 0}
    assert client.post("/api/v1/notifications/read-all", headers=mine,
                       json={"through": "all"}).status_code == 422


def test_pages_follow_the_next_link(client, db_session, sample_layers):
    me, mine = _caller(db_session)
    for n in range(5):
        notify(db_session, [me.id], "bulletin", f"bulletin {n}")
    seen, url = [], "/api/v1/notifications?limit=2"
    while url:
        page = client.get(url, headers=mine).get_json()
        seen += [n["title"] for n in page["notifications"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == [f"bulletin {n}" for n in range(4, -1, -1)]
    assert client.get("/api/v1/notifications?limit=0", headers=mine).status_code == 422
    assert client.get("/api/v1/notifications?unread=maybe", headers=mine).status_code == 422


def test_titles_come_in_georgian(client, db_session, sample_layers):
    start_at_head(db_session)
    me, mine = _caller(db_session)
    alert(db_session, sample_layers["border_segments"]["T-AZ-001"],
          sample_layers["regions"]["T-KK"], "T-KK", expected=1234.5)
    fan_out_batch(db_session)
    english = client.get("/api/v1/notifications", headers=mine).get_json()
    assert english["notifications"][0]["title"] == (
        "Alert: section T-AZ-001, 14 incidents against 1,234.5 expected (October 2026)")
    georgian = client.get("/api/v1/notifications?lang=ka", headers=mine).get_json()
    title = georgian["notifications"][0]["title"]
    assert "T-AZ-001" in title and "ოქტომბერი" in title and "გაფრთხილება" in title
    assert "Alert" not in title


def test_an_unauthenticated_caller_is_refused(client):
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/read-all").status_code == 401


def test_mail_settings_are_the_callers_and_audited(client, db_session, app, monkeypatch,
                                                  sample_layers):
    me, mine = _caller(db_session)
    assert client.get("/api/v1/me/notifications", headers=mine).get_json() == {
        "email": None, "email_alerts": False, "email_bulletins": False,
        "email_available": False}
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:2525")
    refused = client.patch("/api/v1/me/notifications", headers=mine,
                           json={"email_alerts": True})
    assert refused.status_code == 422 and refused.get_json()["field"] == "email"
    for bad in ("no-at-sign", "a@b", "two@@example.org", "x" * 250 + "@example.org", 7):
        answer = client.patch("/api/v1/me/notifications", headers=mine, json={"email": bad})
        assert answer.status_code == 422, bad
    assert client.patch("/api/v1/me/notifications", headers=mine,
                        json={"colour": "red"}).status_code == 422
    assert client.patch("/api/v1/me/notifications", headers=mine,
                        json={"email_alerts": "yes"}).status_code == 422
    answer = client.patch("/api/v1/me/notifications", headers=mine, json={
        "email": " analyst@example.org ", "email_alerts": True})
    assert answer.status_code == 200
    assert answer.get_json() == {"email": "analyst@example.org", "email_alerts": True,
                                 "email_bulletins": False, "email_available": True}
    record = db_session.execute(text(
        "SELECT before, after, username FROM audit_log WHERE entity = 'user' "
        "AND entity_id = :id ORDER BY id DESC LIMIT 1"), {"id": str(me.id)}).mappings().one()
    assert record["before"]["email"] is None
    assert record["after"] == {"email": "analyst@example.org", "email_alerts": True,
                               "email_bulletins": False}
    # Removing the address ends the subscriptions.
    cleared = client.patch("/api/v1/me/notifications", headers=mine, json={"email": None})
    assert cleared.get_json()["email_alerts"] is False
