"""Browser sessions: start, look up, end and revoke the server-side session rows.

The signed session cookie carries a random id; the table keeps its SHA-256 with the
user, times and client. Every session request checks the row. Revoking sessions appends
an audit record (``app.audit.record``) in the caller's transaction; no record holds a
session id.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app import audit
from app.auth.hashing import sha256_hex
from app.auth.models import User, UserSession
from geo.models import Region

SESSION_SEEN_RESOLUTION = timedelta(minutes=1)
# A user's regions as ``app.auth.scope`` reads them (ids and codes), joined into the
# query that finds the user: the relationship's own loading would be a second query,
# with every region's geometry, on every request.
WITH_REGIONS = joinedload(User.regions).load_only(Region.id, Region.code)


def start_session(session, user: User, lifetime: timedelta, ip: str | None = None,
                  user_agent: str | None = None) -> str:
    """Open a session row for ``user`` (not committed); returns the id for the cookie."""
    sid = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(UserSession(user_id=user.id, sid_sha256=sha256_hex(sid), created_at=now,
                            last_seen_at=now, expires_at=now + lifetime,
                            ip=ip[:45] if ip else None,
                            user_agent=user_agent[:255] if user_agent else None))
    session.flush()
    return sid


def session_user(session, sid: str, user_id: int, idle: timedelta,
                 touch: bool = True) -> User | None:
    """The active user of a live session (known, unrevoked, within its lifetime, seen
    within ``idle``, and belonging to ``user_id``), else None.

    Records the time it was seen, to the minute (a write per request would cost a tile
    more than its query), unless ``touch`` is False (a page's background poll, which is
    not the user's activity and must not keep an idle session alive).
    """
    found = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .options(WITH_REGIONS)
        .where(UserSession.sid_sha256 == sha256_hex(sid))).unique().first()
    if found is None:
        return None
    row, user = found
    now = datetime.now(UTC)
    if (row.revoked_at is not None or row.expires_at <= now
            or row.last_seen_at <= now - idle or user.id != user_id or not user.active):
        return None
    if touch and now - row.last_seen_at >= SESSION_SEEN_RESOLUTION:
        row.last_seen_at = now
    return user


def end_session(session, sid: str) -> None:
    """Revoke the session with this id (sign-out); a replayed cookie is then refused."""
    session.execute(update(UserSession)
                    .where(UserSession.sid_sha256 == sha256_hex(sid),
                           UserSession.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC)),
                    execution_options={"synchronize_session": False})


def active_sessions(session, idle: timedelta, user_id: int | None = None
                    ) -> list[tuple[UserSession, User]]:
    """Live sessions (of one user, or all) with their users, most recently seen first."""
    now = datetime.now(UTC)
    query = (select(UserSession, User).join(User, User.id == UserSession.user_id)
             .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now,
                    UserSession.last_seen_at > now - idle)
             .order_by(UserSession.last_seen_at.desc()))
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    return [(row, user) for row, user in session.execute(query)]


def revoke_sessions(session, user_id: int | None = None, session_id: int | None = None,
                    audited: bool = True) -> int:
    """End one session (``session_id``) or all of a user's; returns how many ended.

    Audited (one record) unless the caller audits the change that caused it.
    """
    if (user_id is None) == (session_id is None):
        raise ValueError("give exactly one of user_id and session_id")
    now = datetime.now(UTC)
    condition = (UserSession.id == session_id if session_id is not None
                 else UserSession.user_id == user_id)
    ended = session.execute(
        update(UserSession).where(condition, UserSession.revoked_at.is_(None))
        .values(revoked_at=now).returning(UserSession.id, UserSession.user_id),
        execution_options={"synchronize_session": False}).all()
    if ended and audited:
        audit.record(session, "revoke", "session", session_id,
                     detail={"user_id": ended[0].user_id,
                             "sessions": sorted(row.id for row in ended)})
    return len(ended)
