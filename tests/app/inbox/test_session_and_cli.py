"""The inbox's poll does not keep an idle session alive; `flask users set-email`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app import cli as app_cli
from app.auth.models import User, UserSession
from tests.app.auth.test_login_security import login


def test_the_inbox_poll_is_no_activity(client, db_session, make_user):
    user = make_user("viewer")
    login(client, user.username)
    idle_since = datetime.now(UTC) - timedelta(minutes=29)
    db_session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=idle_since))
    polled = client.get("/api/v1/notifications?limit=1", headers={"X-BorderRisk-Poll": "1"})
    assert polled.status_code == 200
    seen = db_session.scalars(select(UserSession.last_seen_at).where(
        UserSession.user_id == user.id)).one()
    assert seen == idle_since  # the poll answered, but the session stays idle
    db_session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
    assert client.get("/api/v1/notifications?limit=1",
                      headers={"X-BorderRisk-Poll": "1"}).status_code == 401


@pytest.fixture
def runner(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "demo-password")
    return app.test_cli_runner()


def test_users_set_email(runner, db_session, make_user):
    user = make_user("viewer")
    db_session.commit()  # (a savepoint's): a refused command's rollback keeps the user
    refused = runner.invoke(args=["users", "set-email", user.username, "--alerts"])
    assert refused.exit_code != 0 and "no e-mail address" in refused.output
    bad = runner.invoke(args=["users", "set-email", user.username, "not-an-address"])
    assert bad.exit_code != 0 and "email: is not an e-mail address" in bad.output
    done = runner.invoke(args=["users", "set-email", user.username, "v@example.org",
                               "--alerts", "--bulletins"])
    assert done.exit_code == 0, done.output
    assert f"{user.username}: v@example.org; e-mailed: alerts, bulletins" in done.output
    assert "SMTP_URL is not set" in done.output
    stored = db_session.scalars(select(User).where(User.id == user.id)).one()
    assert (stored.email, stored.email_alerts, stored.email_bulletins) == (
        "v@example.org", True, True)
    actor = db_session.execute(text(
        "SELECT username FROM audit_log WHERE entity = 'user' AND entity_id = :id "
        "ORDER BY id DESC LIMIT 1"), {"id": str(user.id)}).scalar_one()
    assert actor.startswith("cli:")
    cleared = runner.invoke(args=["users", "set-email", user.username, ""])
    assert cleared.exit_code == 0, cleared.output
    assert "no e-mail address; e-mailed: nothing" in cleared.output
