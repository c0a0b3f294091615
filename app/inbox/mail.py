"""The worker's ``mail`` job: alerts and bulletins e-mailed to the users who asked.

Only with ``SMTP_URL`` set (``smtp://[user:password@]host[:port]``, or ``smtps://`` for
TLS from the start; a server offering STARTTLS is asked for it). A user gets an e-mail
of a notification of theirs when they are active, have an address and subscribed to
its kind (``users.email_alerts``, ``users.email_bulletins``).

Each e-mail is one transaction: the notification is claimed (``FOR UPDATE SKIP
LOCKED``: workers share the work), sent, and marked ``emailed_at`` once the SMTP server
accepted it. A server that cannot be reached, or refuses for now (4xx), fails the job:
the worker tries again after its pause, and nothing is marked. A refusal for good (5xx:
an unknown address) is kept in ``email_error`` and not tried again. If the commit fails
after the server accepted, the e-mail is sent again (at least once, never silently
lost).

Only notifications of the last :data:`WINDOW_HOURS` are e-mailed: a subscription
started today does not send last month's alerts, and an SMTP server down for longer
leaves them in the inbox only.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from sqlalchemy import text

logger = logging.getLogger(__name__)

WINDOW_HOURS = 24
TIMEOUT_S = 30
MAIL_KINDS = ("alert", "bulletin")


class SmtpUrlError(ValueError):
    """Not an ``smtp://`` or ``smtps://`` URL."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: bool  # TLS from the start (smtps)
    user: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpSettings:
    """The parts of ``smtp://[user:password@]host[:port]`` (``smtps://`` for TLS; port
    25, or 465 for smtps, by default).

    Raises
    ------
    SmtpUrlError
        Another scheme, no host, or a port that is not a number.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SmtpUrlError("must be smtp://[user:password@]host[:port] (or smtps://...)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpUrlError("takes no path or query: smtp://[user:password@]host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise SmtpUrlError("has a port that is not a number from 1 to 65535") from None
    tls = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname, port=port or (465 if tls else 25), tls=tls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None)


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An SMTP session, signed in when the URL names a user."""
    context = ssl.create_default_context()
    if settings.tls:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_S,
                                context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S)
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
    if settings.user:
        smtp.login(settings.user, settings.password or "")
    return smtp


_CLAIM = text("""
    SELECT n.id, n.kind, n.title, n.body, n.link, u.email
      FROM notifications AS n
      JOIN users AS u ON u.id = n.user_id
     WHERE n.emailed_at IS NULL AND n.email_error IS NULL
       AND n.kind IN ('alert', 'bulletin')
       AND n.created_at > clock_timestamp() - make_interval(hours => :window)
       AND u.active AND u.email IS NOT NULL
       AND CASE n.kind WHEN 'alert' THEN u.email_alerts ELSE u.email_bulletins END
     ORDER BY n.created_at, n.id
     LIMIT 1
       FOR UPDATE OF n SKIP LOCKED
""")
_SENT = text("UPDATE notifications SET emailed_at = clock_timestamp() WHERE id = :id")
_REFUSED = text("UPDATE notifications SET email_error = :error WHERE id = :id")

SUBJECT_PREFIX = {"alert": "[BorderRisk] ", "bulletin": "[BorderRisk] "}


def build_message(row, sender: str) -> EmailMessage:
    """The e-mail of a notification row (English: the notification's stored text)."""
    message = EmailMessage()
    message["Subject"] = SUBJECT_PREFIX.get(row["kind"], "") + " ".join(row["title"].split())
    message["From"] = sender
    message["To"] = row["email"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    lines = [row["title"]]
    if row["body"]:
        lines += ["", row["body"]]
    if row["link"]:
        lines += ["", f"BorderRisk: {row['link']}"]
    lines += ["", "-- ", "You receive this because you asked BorderRisk to e-mail you its "
              f"{row['kind']}s; the inbox of the workspace lets you stop it."]
    message.set_content("\n".join(lines))
    return message


def _permanent(exc: smtplib.SMTPException) -> str | None:
    """Why the server refused the message for good (5xx), else None (try again)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            return "; ".join(f"{code} {reason.decode(errors='replace')}"
                             for code, reason in exc.recipients.values())
        return None
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPResponseException) and code and code >= 500 \
            and not isinstance(exc, smtplib.SMTPAuthenticationError):
        error = exc.smtp_error
        return f"{code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
    return None


def send_due(session, smtp_factory, sender: str, limit: int | None = None) -> int:
    """Send the due e-mails, one transaction each; returns how many were accepted.
    ``smtp_factory()`` opens the SMTP session (only when there is something to send).

    Raises
    ------
    smtplib.SMTPException, OSError
        The server cannot be reached or refused for now: the claimed notification is
        left as it was (the caller's rollback).
    """
    from geo.transactions import unit_of_work

    smtp = None
    sent = 0
    try:
        while limit is None or sent < limit:
            with unit_of_work(session):
                row = session.execute(_CLAIM, {"window": WINDOW_HOURS}).mappings().first()
                if row is None:
                    break
                if smtp is None:
                    smtp = smtp_factory()
                try:
                    smtp.send_message(build_message(row, sender))
                except smtplib.SMTPException as exc:
                    reason = _permanent(exc)
                    if reason is None:
                        raise
                    logger.warning("mail: notification %s refused for good: %s",
                                   row["id"], reason)
                    session.execute(_REFUSED, {"id": row["id"], "error": reason[:1000]})
                    continue
                session.execute(_SENT, {"id": row["id"]})
            sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return sent


def send_mail(app) -> float | None:
    """The worker's job: with ``SMTP_URL`` set, e-mail what is due; without it, nothing
    (ever)."""
    url = app.config.get("SMTP_URL") or ""
    if not url:
        return None
    from app.extensions import db

    settings = parse_smtp_url(url)
    try:
        sent = send_due(db.session, lambda: connect(settings), app.config["MAIL_FROM"])
    finally:
        db.session.remove()
    if sent:
        logger.info("mail: %d e-mails sent", sent)
    return None
