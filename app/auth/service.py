"""Password hashing, users, sign-in limits, browser sessions and API tokens.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile).
API tokens and session ids are 256-bit random strings; the database keeps only their
SHA-256 digest, so a leaked table does not leak usable tokens or sessions.

Every change to a user, token or session made here appends an audit record
(``app.audit.record``) in the caller's transaction; no record holds a password hash, a
token or a session id.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import joinedload

from app import audit
from app.auth.models import ApiToken, LoginAttempt, RegionRef, TokenCaller, User, UserSession
from geo.models import Region
from geo.vocabulary import ROLES

TOKEN_PREFIX = "br_"  # noqa: S105  (a public marker, not a secret)
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """Bad input to an auth operation; the message names the field."""


USERNAME_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-")


def user_snapshot(user: User) -> dict:
    """What the audit trail keeps of a user (never the password hash)."""
    return {"username": user.username, "role": user.role, "active": user.active,
            "regions": [region.code for region in user.regions],
            "locked_until": user.locked_until.isoformat() if user.locked_until else None}


def create_user(session, username: str, role: str, password: str,
                region_codes: list[str] | tuple[str, ...] = ()) -> User:
    """Add a user (not committed), restricted to ``region_codes`` (none: every region),
    and audit it. Raises AuthError for a bad role, name, password or region."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not 1 <= len(username) <= 64 or not set(username) <= USERNAME_CHARACTERS:
        raise AuthError("username must be 1-64 letters, digits or _ . @ -, "
                        f"got {username!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AuthError(f"username {username!r} is taken")
    regions = regions_by_code(session, region_codes)
    user = User(username=username, role=role, password_hash=_hasher.hash(password),
                active=True, failed_logins=0, regions=regions)
    session.add(user)
    session.flush()
    audit.record(session, "create", "user", user.id, after=user_snapshot(user))
    return user


def set_password(user: User, password: str) -> None:
    """Hash ``password`` into ``user`` (not audited: see ``reset_password``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _hasher.hash(password)


def reset_password(session, user: User, password: str) -> None:
    """Set a new password, end the user's sessions and audit it (without the hash)."""
    set_password(user, password)
    ended = revoke_sessions(session, user_id=user.id, audited=False)
    audit.record(session, "password", "user", user.id,
                 detail={"username": user.username, "sessions_ended": ended})


def regions_by_code(session, codes) -> list[Region]:
    """The regions with these codes, in code order; AuthError names unknown codes."""
    wanted = sorted({code.strip() for code in codes if code and code.strip()})
    if not wanted:
        return []
    regions = list(session.scalars(select(Region).where(Region.code.in_(wanted))
                                   .order_by(Region.code)))
    unknown = sorted(set(wanted) - {region.code for region in regions})
    if unknown:
        raise AuthError(f"region: unknown code(s) {', '.join(unknown)}")
    return regions


def all_regions(session) -> list[Region]:
    """Every regional unit, by code (for choosing a user's regions)."""
    return list(session.scalars(select(Region).order_by(Region.code)))


def user_by_name(session, username: str) -> User:
    """The user called ``username``; AuthError when there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"no user named {username!r}")
    return user


def list_users(session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def update_user(session, user: User, *, role: str | None = None, active: bool | None = None,
                region_codes: list[str] | None = None, by: User | None = None) -> bool:
    """Change a user's role, active flag and/or regions, and audit the change.

    Deactivating a user ends their sessions at once (their tokens stop working too: a
    token works only for an active user). An admin (``by``) cannot demote or deactivate
    themselves (nobody might be left to undo it). Returns whether anything changed.
    """
    if role is not None and role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if by is not None and by.id == user.id and (
            (role is not None and role != user.role) or active is False):
        raise AuthError("role/active: you cannot change your own role or deactivate "
                        "yourself; ask another admin")
    before = user_snapshot(user)
    if role is not None:
        user.role = role
    if region_codes is not None:
        user.regions = regions_by_code(session, region_codes)
    if active is not None:
        user.active = active
    after = user_snapshot(user)
    if after == before:
        return False
    session.flush()
    audit.record(session, "update", "user", user.id, before=before, after=after)
    if before["active"] and not after["active"]:
        revoke_sessions(session, user_id=user.id)
    return True


def unlock_user(session, user: User) -> bool:
    """Lift a sign-in lock-out and reset the failure count (audited); False if neither
    was set.

    ``locked_until`` becomes now rather than null: failures before it no longer count
    towards the next lock-out (``LoginPolicy``).
    """
    now = datetime.now(UTC)
    locked = user.locked_until is not None and user.locked_until > now
    if not locked and not user.failed_logins:
        return False
    before = user_snapshot(user)
    user.failed_logins = 0
    user.locked_until = now
    audit.record(session, "unlock", "user", user.id, before=before,
                 after=user_snapshot(user))
    return True


def authenticate(session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (no sign-in limits: the
    login page and HTTP Basic go through ``sign_in``)."""
    user = session.scalar(select(User).where(User.username == username))
    return _check_password(user, password)


def _check_password(user: User | None, password: str) -> User | None:
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = datetime.now(UTC)
    return user


# Sign-in limits. Every attempt that reaches the password check is recorded in
# login_attempts. An account locks for ``lock`` after ``max_failures`` failures within
# ``lock`` (counted since its last success or the end of its last lock); attempts while
# locked are refused unchecked and not recorded. An unknown user name gets the same
# answers from the same rule replayed over its recorded failures, so the lock-out does
# not reveal which names exist. An address with ``ip_max_failures`` failures within
# ``ip_window`` is refused (429) until the oldest of them leaves the window.
@dataclass(frozen=True)
class LoginPolicy:
    """Sign-in limits (``LOGIN_*`` settings)."""

    max_failures: int = 5
    lock: timedelta = timedelta(minutes=15)
    ip_max_failures: int = 20
    ip_window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config) -> LoginPolicy:
        """The policy of a Flask config (or any mapping with the ``LOGIN_*`` keys)."""
        return cls(max_failures=config.get("LOGIN_MAX_FAILURES", 5),
                   lock=timedelta(minutes=config.get("LOGIN_LOCK_MINUTES", 15)),
                   ip_max_failures=config.get("LOGIN_IP_MAX_FAILURES", 20),
                   ip_window=timedelta(minutes=config.get("LOGIN_IP_WINDOW_MINUTES", 15)))


class SignInRefusedError(AuthError):
    """Refused before the password is checked: the account (or unknown name) is locked
    (``retry_after`` None), or the address made too many failed attempts
    (``retry_after``: seconds until it may try again)."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


LOCKED_MESSAGE = ("too many failed sign-ins: this account is locked for a while; "
                  "try again later")
LOGIN_ATTEMPT_RETENTION = timedelta(days=7)
_PRUNE_INTERVAL_S = 600.0
_next_prune = 0.0


def sign_in(session, username: str, password: str, ip: str | None,
            policy: LoginPolicy = LoginPolicy()) -> User | None:
    """Check a password under the sign-in limits and record the attempt (not committed).

    Returns the active user, or None for a wrong name or password. Raises
    ``SignInRefusedError`` (the password unchecked) when the account is locked or the
    address ``ip`` made too many failed attempts. A success resets the failure count;
    the ``max_failures``-th failure locks the account (audited).
    """
    user = session.scalar(select(User).where(User.username == username))
    return _sign_in(session, user, username, password, ip, policy)


def _sign_in(session, user: User | None, username: str, password: str, ip: str | None,
             policy: LoginPolicy) -> User | None:
    now = datetime.now(UTC)
    ip = ip[:45] if ip else None
    wait = _address_wait(session, ip, policy, now)
    if wait is not None:
        raise SignInRefusedError(f"too many failed sign-ins from this address; try again in "
                            f"{wait} s", retry_after=wait)
    if _locked(session, user, username[:64], policy, now):
        raise SignInRefusedError(LOCKED_MESSAGE)
    verified = _check_password(user, password)
    session.add(LoginAttempt(at=now, username=username[:64], ip=ip,
                             success=verified is not None))
    session.flush()
    if verified is not None:
        verified.failed_logins = 0
        verified.locked_until = None
    elif user is not None:
        _count_failure(session, user, policy, now)
    _prune(session, now, policy)
    return verified


def _address_wait(session, ip: str | None, policy: LoginPolicy, now: datetime) -> int | None:
    """Seconds until ``ip`` may try again, None when it may now."""
    if ip is None:
        return None
    nth_latest = session.scalar(
        select(LoginAttempt.at)
        .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
               LoginAttempt.at > now - policy.ip_window)
        .order_by(LoginAttempt.at.desc()).offset(policy.ip_max_failures - 1).limit(1))
    if nth_latest is None:
        return None
    return max(1, math.ceil((nth_latest + policy.ip_window - now).total_seconds()))


def _failure_times(session, username: str, since: datetime) -> list[datetime]:
    return list(session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.username == username, LoginAttempt.success.is_(False),
               LoginAttempt.at > since)
        .order_by(LoginAttempt.at)))


def _locked(session, user: User | None, username: str, policy: LoginPolicy,
            now: datetime) -> bool:
    if user is not None:
        return user.locked_until is not None and user.locked_until > now
    # An unknown name: replay the accounts' rule over its failures (a lock that began
    # within ``lock`` started from failures within the ``lock`` before that).
    locked_until, counted = None, []
    for at in _failure_times(session, username, now - 2 * policy.lock):
        counted = [t for t in counted if t > at - policy.lock]
        counted.append(at)
        if len(counted) >= policy.max_failures:
            locked_until, counted = at + policy.lock, []
    return locked_until is not None and locked_until > now


def _count_failure(session, user: User, policy: LoginPolicy, now: datetime) -> None:
    since = max(t for t in (now - policy.lock, user.last_login_at, user.locked_until)
                if t is not None)
    user.failed_logins = len(_failure_times(session, user.username, since))
    if user.failed_logins >= policy.max_failures:
        before = user_snapshot(user)
        user.locked_until = now + policy.lock
        audit.record(session, "lock", "user", user.id, before=before,
                     after=user_snapshot(user),
                     detail={"failed_logins": user.failed_logins})


def _prune(session, now: datetime, policy: LoginPolicy) -> None:
    """Delete attempts and ended sessions older than the retention, at most every ten
    minutes per process (an indexed range delete)."""
    global _next_prune
    if time.monotonic() < _next_prune:
        return
    _next_prune = time.monotonic() + _PRUNE_INTERVAL_S
    cutoff = now - max(LOGIN_ATTEMPT_RETENTION, 2 * policy.lock, policy.ip_window)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff),
                    execution_options={"synchronize_session": False})
    session.execute(delete(UserSession).where(
        or_(UserSession.expires_at < cutoff, UserSession.revoked_at < cutoff)),
        execution_options={"synchronize_session": False})


# Browser sessions: the signed session cookie carries a random id; the table keeps its
# SHA-256 with the user, times and client. Every session request checks the row.
SESSION_SEEN_RESOLUTION = timedelta(minutes=1)


def start_session(session, user: User, lifetime: timedelta, ip: str | None = None,
                  user_agent: str | None = None) -> str:
    """Open a session row for ``user`` (not committed); returns the id for the cookie."""
    sid = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(UserSession(user_id=user.id, sid_sha256=_digest(sid), created_at=now,
                            last_seen_at=now, expires_at=now + lifetime,
                            ip=ip[:45] if ip else None,
                            user_agent=user_agent[:255] if user_agent else None))
    session.flush()
    return sid


def session_user(session, sid: str, user_id: int, idle: timedelta) -> User | None:
    """The active user of a live session (known, unrevoked, within its lifetime, seen
    within ``idle``, and belonging to ``user_id``), else None.

    Records the time it was seen, to the minute (a write per request would cost a tile
    more than its query).
    """
    found = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .options(_WITH_REGIONS)
        .where(UserSession.sid_sha256 == _digest(sid))).unique().first()
    if found is None:
        return None
    row, user = found
    now = datetime.now(UTC)
    if (row.revoked_at is not None or row.expires_at <= now
            or row.last_seen_at <= now - idle or user.id != user_id or not user.active):
        return None
    if now - row.last_seen_at >= SESSION_SEEN_RESOLUTION:
        row.last_seen_at = now
    return user


def end_session(session, sid: str) -> None:
    """Revoke the session with this id (sign-out); a replayed cookie is then refused."""
    session.execute(update(UserSession)
                    .where(UserSession.sid_sha256 == _digest(sid),
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


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session, user: User, name: str, expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token text (shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AuthError("token name must be 1-100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + expires_in if expires_in else None
    row = ApiToken(user=user, name=name, token_sha256=_digest(token), expires_at=expires_at)
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
        raise AuthError(f"no token with id {token_id}")
    if row.revoked_at is None:
        before = token_snapshot(row)
        row.revoked_at = datetime.now(UTC)
        audit.record(session, "revoke", "token", row.id, before=before,
                     after=token_snapshot(row))
    return row


TOKEN_USE_RESOLUTION = timedelta(minutes=1)
# A user's regions as ``app.auth.scope`` reads them (ids and codes), joined into the
# query that finds the user: the relationship's own loading would be a second query,
# with every region's geometry, on every request.
_WITH_REGIONS = joinedload(User.regions).load_only(Region.id, Region.code)


# The owner of a valid token (known, unrevoked, unexpired, owner active) and their
# regions, in one statement of plain rows: loading the ORM objects (token, user,
# regions) cost a small map tile a tenth of its time (docs/benchmarks.md, issue 6).
_TOKEN_CALLER_SQL = text("""
    SELECT t.id AS token_id, t.last_used_at, u.id, u.username, u.role,
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


def caller_for_token(session, token: str) -> TokenCaller | None:
    """The owner of a valid token (known, unrevoked, unexpired, owner active), else None.

    Reads only; :func:`token_use_due` and :func:`record_token_use` keep the token's
    last use.
    """
    row = session.execute(_TOKEN_CALLER_SQL, {"digest": _digest(token)}).one_or_none()
    if row is None:
        return None
    return TokenCaller(id=row.id, username=row.username, role=row.role,
                       regions=tuple(RegionRef(i, c) for i, c in zip(row.region_ids,
                                                                     row.region_codes,
                                                                     strict=True)),
                       token_id=row.token_id, token_last_used_at=row.last_used_at)


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


# HTTP Basic (GIS clients such as QGIS send the password with every map request): a
# successful Argon2 check is remembered for BASIC_AUTH_CACHE_SECONDS by a SHA-256 of
# (user name, password, password hash), so a tile costs no ~50 ms hash. A changed
# password or a deactivated user is noticed at once: the key includes the stored hash
# and the user is read anew every time.
BASIC_AUTH_CACHE_SECONDS = 300
_basic_verified: dict[str, tuple[int, float]] = {}


def user_for_basic(session, username: str, password: str, ip: str | None = None,
                   policy: LoginPolicy = LoginPolicy()) -> User | None:
    """The active user with this name and password (HTTP Basic), else None.

    A password not remembered goes through ``sign_in`` (limits, recorded attempt);
    ``SignInRefusedError`` as there. A locked account is refused even when remembered.
    """
    user = session.scalars(select(User).options(_WITH_REGIONS)
                           .where(User.username == username)).unique().one_or_none()
    key = None
    if user is not None:
        key = hashlib.sha256(
            f"{username}\0{password}\0{user.password_hash}".encode()).hexdigest()
        verified = _basic_verified.get(key)
        if verified is not None and verified[0] == user.id and verified[1] > time.monotonic():
            if user.locked_until is not None and user.locked_until > datetime.now(UTC):
                raise SignInRefusedError(LOCKED_MESSAGE)
            return user if user.active else None
    if _sign_in(session, user, username, password, ip, policy) is None:
        return None
    if len(_basic_verified) > 1000:
        _basic_verified.clear()
    _basic_verified[key] = (user.id, time.monotonic() + BASIC_AUTH_CACHE_SECONDS)
    return user
