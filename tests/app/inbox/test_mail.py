"""The worker's mail job against a local SMTP server (aiosmtpd, in this process): each
subscribed user's alerts and bulletins once, nobody else's, nothing without SMTP_URL."""

from __future__ import annotations

import socket
import uuid
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from app.auth.users import create_user
from app.inbox import notify
from app.inbox.mail import SmtpUrlError, parse_smtp_url, send_mail
from config import Config, ConfigError
from tests.app.inbox.helpers import notifications_of
from tests.conftest import TEST_PASSWORD


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping what it accepted; refuses ``bounce@`` addresses for
    good (550) and ``busy@`` ones for now (451)."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bounce@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.rcpt_tos,
                              message_from_bytes(envelope.content, policy=default_policy)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app, monkeypatch):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "borderrisk@example.org")
    try:
        yield mailbox
    finally:
        controller.stop()


def _user(session, email=None, alerts=False, bulletins=False, active=True):
    user = create_user(session, f"mail-{uuid.uuid4().hex[:6]}", "viewer", TEST_PASSWORD)
    user.email, user.email_alerts, user.email_bulletins = email, alerts, bulletins
    user.active = active
    session.flush()
    return user.id


def _everyone(session):
    return {
        "alerts": _user(session, "alerts@example.org", alerts=True),
        "bulletins": _user(session, "bulletins@example.org", bulletins=True),
        "both": _user(session, "both@example.org", alerts=True, bulletins=True),
        "unsubscribed": _user(session, "quiet@example.org"),
        "no-address": _user(session),
        "inactive": _user(session, "gone@example.org", alerts=True, bulletins=True,
                          active=False),
    }


def _tell_everyone(session):
    session.execute(text("UPDATE notifications SET emailed_at = clock_timestamp() "
                         "WHERE emailed_at IS NULL"))  # earlier tests' are not ours
    users = session.execute(text("SELECT array_agg(id) FROM users")).scalar_one()
    notify(session, users, "alert", "Alert: section T-AZ-001, 14 incidents against 5.2 "
           "expected (October 2026)", "More incidents than expected.", "/?section=1")
    notify(session, users, "bulletin", "Monthly bulletin of T-KK (October 2026)", "",
           "/api/v1/reports/bulletin?region=T-KK")
    notify(session, users, "decision", "Section T-AZ-001: level set to critical", "Why.")


def test_subscribed_users_get_each_alert_and_bulletin_once(app, db_session, smtp_server):
    users = _everyone(db_session)
    _tell_everyone(db_session)
    assert send_mail(app) is None
    received = sorted((tuple(to), m["Subject"]) for to, m in smtp_server.messages)
    assert received == sorted([
        (("alerts@example.org",), "[BorderRisk] Alert: section T-AZ-001, 14 incidents "
                                  "against 5.2 expected (October 2026)"),
        (("bulletins@example.org",), "[BorderRisk] Monthly bulletin of T-KK (October 2026)"),
        (("both@example.org",), "[BorderRisk] Alert: section T-AZ-001, 14 incidents "
                                "against 5.2 expected (October 2026)"),
        (("both@example.org",), "[BorderRisk] Monthly bulletin of T-KK (October 2026)"),
    ])
    message = smtp_server.messages[0][1]
    assert message["From"] == "borderrisk@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "BorderRisk: /" in message.get_content()
    emailed = {name: [n["kind"] for n in notifications_of(db_session, uid)
                      if n["emailed_at"] is not None] for name, uid in users.items()}
    assert emailed == {"alerts": ["alert"], "bulletins": ["bulletin"],
                       "both": ["alert", "bulletin"], "unsubscribed": [], "no-address": [],
                       "inactive": []}
    # Once: the next rounds send nothing.
    assert send_mail(app) is None
    assert len(smtp_server.messages) == 4


def test_a_refusal_for_good_is_kept_and_others_still_go(app, db_session, smtp_server):
    bounce = _user(db_session, "bounce@example.org", alerts=True)
    fine = _user(db_session, "fine@example.org", alerts=True)
    db_session.execute(text("UPDATE notifications SET emailed_at = clock_timestamp() "
                            "WHERE emailed_at IS NULL"))
    notify(db_session, [bounce, fine], "alert", "Alert: T-AZ-001")
    send_mail(app)
    assert [tuple(to) for to, _ in smtp_server.messages] == [("fine@example.org",)]
    refused, = notifications_of(db_session, bounce)
    assert refused["emailed_at"] is None and refused["email_error"].startswith("550")
    send_mail(app)  # not tried again
    assert len(smtp_server.messages) == 1


def test_a_refusal_for_now_leaves_it_due(app, db_session, smtp_server):
    busy = _user(db_session, "busy@example.org", alerts=True)
    db_session.execute(text("UPDATE notifications SET emailed_at = clock_timestamp() "
                            "WHERE emailed_at IS NULL"))
    notify(db_session, [busy], "alert", "Alert: T-AZ-001")
    db_session.commit()  # (a savepoint's): the job's rollback keeps what the test wrote
    with pytest.raises(Exception, match="451"):
        send_mail(app)  # the worker logs it and tries again after its pause
    due, = notifications_of(db_session, busy)
    assert due["emailed_at"] is None and due["email_error"] is None


def test_an_unreachable_server_fails_the_round_and_marks_nothing(app, db_session,
                                                                 monkeypatch):
    user = _user(db_session, "alerts@example.org", alerts=True)
    db_session.execute(text("UPDATE notifications SET emailed_at = clock_timestamp() "
                            "WHERE emailed_at IS NULL"))
    notify(db_session, [user], "alert", "Alert: T-AZ-001")
    db_session.commit()  # (a savepoint's): the job's rollback keeps what the test wrote
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    with pytest.raises(OSError):
        send_mail(app)
    assert notifications_of(db_session, user)[0]["emailed_at"] is None


def test_without_smtp_url_nothing_is_sent(app, db_session, monkeypatch):
    import smtplib

    user = _user(db_session, "alerts@example.org", alerts=True)
    notify(db_session, [user], "alert", "Alert: T-AZ-001")
    monkeypatch.setitem(app.config, "SMTP_URL", "")

    def no_smtp(*args, **kwargs):
        raise AssertionError("connected without SMTP_URL")

    monkeypatch.setattr(smtplib, "SMTP", no_smtp)
    assert send_mail(app) is None
    assert notifications_of(db_session, user)[0]["emailed_at"] is None


def test_old_notifications_are_not_emailed(app, db_session, smtp_server):
    user = _user(db_session, "late@example.org", alerts=True)
    db_session.execute(text("UPDATE notifications SET emailed_at = clock_timestamp() "
                            "WHERE emailed_at IS NULL"))
    notify(db_session, [user], "alert", "Alert of two days ago")
    db_session.execute(text("UPDATE notifications SET created_at = created_at - "
                            "interval '2 days' WHERE user_id = :u"), {"u": user})
    send_mail(app)
    assert smtp_server.messages == []


def test_smtp_url_setting():
    assert parse_smtp_url("smtp://mail.example.org").port == 25
    secure = parse_smtp_url("smtps://user%40x:p%3Ass@mail.example.org")
    assert (secure.port, secure.tls, secure.user, secure.password) == (
        465, True, "user@x", "p:ss")
    assert parse_smtp_url("smtp://127.0.0.1:2525").port == 2525
    for bad in ("http://mail.example.org", "smtp://", "smtp://host:port", "mail.example.org",
                "smtp://host/path"):
        with pytest.raises(SmtpUrlError):
            parse_smtp_url(bad)
    base = {"DATABASE_URL": "postgresql://user:password@db.example.org:5432/borderrisk"}
    assert Config.from_env(environ=base).SMTP_URL == ""
    with pytest.raises(ConfigError, match="SMTP_URL") as refused:
        Config.from_env(environ={**base, "SMTP_URL": "http://user:secret@mail.example.org"})
    assert "secret" not in str(refused.value)
