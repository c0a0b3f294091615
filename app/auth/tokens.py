"""API tokens: create, list, revoke, and find the caller of a bearer token (kept by
each process once verified: ``app.auth.token_cache``).

A token is ``TOKEN_PREFIX`` and a 256-bit random string, shown once; the database keeps
only its SHA-256 digest. Creating or revoking a token appends an audit record
(``app.audit.record``) in the caller's transaction; no record holds a token or its digest.
An ``AuthError``'s message is translated when raised, as in ``app.auth.users``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.auth.hashing import sha256_hex
from app.auth.models import ApiToken, RegionRef, TokenCaller, User
from app.auth.token_cache import TokenCache
from app.auth.users import AuthError

TOKEN_PREFIX = "br_"  # noqa: S105  (a public marker, not a secret)


def create_token(
    session, user: User, name: str, expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token text (shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AuthError(_("token name must be 1-100 characters"))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + expires_in if expires_in else None
    row = ApiToken(user=user, name=name, token_sha256=sha256_hex(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    audit.record(session, "create", "token", row.id, after=token_snapshot(row))
    return row, token


def token_snapshot(row: ApiToken) -> dict:
    """What the audit trail keeps of a token (never the token or its digest)."""
    return {"user": row.user.username, "name": row.name,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}


def list_tokens(session, username: str | None = None) -> list[ApiToken]:
    """Tokens (of one user, or all), newest first, with their owners."""
    query = (select(ApiToken).join(User).options(joinedload(ApiToken.user))
             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    if username is not None:
        query = query.where(User.username == username)
    return list(session.scalars(query))


def revoke_token(session, token_id: int) -> ApiToken:
    """Revoke a token (audited); AuthError when it does not exist. Revoking a revoked
    token changes nothing."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AuthError(_("no token with id %(id)s", id=token_id))
    if row.revoked_at is None:
        before = token_snapshot(row)
        row.revoked_at = datetime.now(UTC)
        audit.record(session, "revoke", "token", row.id, before=before,
                     after=token_snapshot(row))
    return row


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


# The owner of a valid token (known, unrevoked, unexpired, owner active) and their
# regions, in one statement of plain rows: loading the ORM objects (token, user,
# regions) cost a small map tile a tenth of its time (docs/benchmarks.md, issue 6).
_TOKEN_CALLER_SQL = text("""
    SELECT t.id AS token_id, t.last_used_at, t.expires_at, u.id, u.username, u.role, u.all_regions,
           u.agency,
           coalesce(array_agg(r.id ORDER BY r.code) FILTER (WHERE r.id IS NOT NULL),
                    '{}') AS region_ids,
           coalesce(array_agg(r.code ORDER BY r.code) FILTER (WHERE r.id IS NOT NULL),
                    '{}') AS region_codes
    FROM api_tokens AS t
    JOIN users AS u ON u.id = t.user_id
    LEFT JOIN user_regions AS ur ON ur.user_id = u.id
    LEFT JOIN regions AS r ON r.id = ur.region_id
    WHERE t.token_sha256 = :digest AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.active
    GROUP BY t.id, u.id
""")


def token_cache() -> TokenCache | None:
    """The app's cache of verified tokens (``app.auth.token_cache``), None when it is
    off or outside an app."""
    return current_app.extensions.get("token_cache") if has_app_context() else None


def caller_for_token(session, token: str) -> TokenCaller | None:
    """The owner of a valid token (known, unrevoked, unexpired, owner active), else None.

    Every way of presenting a token (Bearer, the Basic password) comes here: a token
    this process verified before is answered from the app's :func:`token_cache` with no
    database round trip. Reads only; :func:`token_use_due` and :func:`record_token_use`
    keep the token's last use.
    """
    digest = sha256_hex(token)
    cache = token_cache()
    generation = None
    if cache is not None:
        cached = cache.get(digest, datetime.now(UTC))
        if cached is not None:
            return cached
        generation = cache.generation()
    row = session.execute(_TOKEN_CALLER_SQL, {"digest": digest}).one_or_none()
    if row is None:
        return None
    caller = TokenCaller(id=row.id, username=row.username, role=row.role,
                         all_regions=row.all_regions, agency=row.agency,
                         regions=tuple(RegionRef(i, c) for i, c in zip(row.region_ids,
                                                                       row.region_codes,
                                                                       strict=True)),
                         token_id=row.token_id, token_last_used_at=row.last_used_at)
    if cache is not None:
        cache.put(digest, caller, row.expires_at, generation)
    return caller


@event.listens_for(Session, "after_flush")
def _note_auth_changes(session, flush_context) -> None:
    if any(isinstance(row, User | ApiToken)
           for row in (*session.new, *session.dirty, *session.deleted)):
        session.info["auth_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session) -> None:
    """A commit of this process that changed a user or token (its rows, a user's
    regions) empties the process' cache at once; other processes learn it from the
    database's notification (as this one does of changes made with plain SQL)."""
    cache = token_cache()
    if session.info.pop("auth_changed", False) and cache is not None:
        cache.clear()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop("auth_changed", None)


def token_use_due(caller: TokenCaller) -> bool:
    """Whether the token's last use should be recorded now: once a minute at most (a
    write, and its commit's flush to disk, on every request cost a map tile or a page
    of features more than its query)."""
    last = caller.token_last_used_at
    return last is None or datetime.now(UTC) - last >= TOKEN_USE_RESOLUTION


def record_token_use(session, token_id: int) -> None:
    """Set the token's last use to now (not committed)."""
    session.execute(text("UPDATE api_tokens SET last_used_at = now() WHERE id = :id"),
                    {"id": token_id})
    cache = token_cache()
    if cache is not None:
        cache.touched(token_id, datetime.now(UTC))
