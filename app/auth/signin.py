"""Sign-in: password checks under the sign-in limits (lock-out, per-address limit),
the recorded login attempts and their pruning, and HTTP Basic with its cache (where an
API token may stand in for the password).

A lock-out appends an audit record (``app.audit.record``) in the caller's transaction.
A refusal's message is translated when raised, as in ``app.auth.users``.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select

from app import audit
from app.auth.hashing import password_hasher
from app.auth.models import LoginAttempt, TokenCaller, User, UserSession
from app.auth.sessions import WITH_REGIONS
from app.auth.tokens import TOKEN_PREFIX, caller_for_token
from app.auth.users import AuthError, user_snapshot

# Verified against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


def authenticate(session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (no sign-in limits: the
    login page and HTTP Basic go through ``sign_in``)."""
    user = session.scalar(select(User).where(User.username == username))
    return _check_password(user, password)


def _check_password(user: User | None, password: str) -> User | None:
    try:
        password_hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
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


def account_locked() -> SignInRefusedError:
    """The refusal of a locked account (or of a locked unknown name)."""
    return SignInRefusedError(_("too many failed sign-ins: this account is locked for a "
                                "while; try again later"))


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
    return _sign_in(session, user, username, ip, policy, lambda: _check_password(user, password))


def _sign_in(session, user: User | None, username: str, ip: str | None, policy: LoginPolicy,
             verify: Callable[[], User | TokenCaller | None]) -> User | TokenCaller | None:
    """One checked attempt of the name ``username`` (``user`` when it exists): refused
    unchecked under the limits, else ``verify()`` (the password's check, or a token's),
    recorded, audited and counted. Only a password resets the name's failure count: a
    valid token (of whichever owner) proves nothing about the account named."""
    now = datetime.now(UTC)
    ip = ip[:45] if ip else None
    wait = _address_wait(session, ip, policy, now)
    if wait is not None:
        _audit_attempt(session, "sign_in_refused", user, username, "address limit")
        raise SignInRefusedError(_("too many failed sign-ins from this address; try again "
                                   "in %(seconds)d s", seconds=wait), retry_after=wait)
    if _locked(session, user, username[:64], policy, now):
        _audit_attempt(session, "sign_in_refused", user, username, "account locked")
        raise account_locked()
    verified = verify()
    session.add(LoginAttempt(at=now, username=username[:64], ip=ip,
                             success=verified is not None))
    session.flush()
    _audit_attempt(session, "sign_in" if verified is not None else "sign_in_failed",
                   verified if verified is not None else user, username, None)
    if isinstance(verified, User):
        verified.failed_logins = 0
        verified.locked_until = None
    elif verified is None and user is not None:
        _count_failure(session, user, policy, now)
    _prune(session, now, policy)
    return verified


def _audit_attempt(session, action: str, user: User | TokenCaller | None, username: str,
                   reason: str | None) -> None:
    """An audit record of a sign-in attempt (``sign_in``, ``sign_in_failed``,
    ``sign_in_refused``), kept as long as the trail, unlike ``login_attempts``. The name
    given is recorded (cut to 64 characters), never the password; a sign-in with an API
    token (``user`` a ``TokenCaller``: its owner) records the token's id."""
    detail = {"username_given": username[:64]}
    if reason:
        detail["reason"] = reason
    if isinstance(user, TokenCaller):
        detail["token_id"] = user.token_id
    actor = ({"user_id": user.id, "username": user.username}
             if action == "sign_in" and user is not None else {})
    audit.record(session, action, "user", user.id if user is not None else None,
                 detail=detail, actor=actor)


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


# HTTP Basic (GIS clients such as QGIS send the password with every map request): a
# successful Argon2 check is remembered for BASIC_AUTH_CACHE_SECONDS by a SHA-256 of
# (user name, password, password hash), so a tile costs no ~50 ms hash. A changed
# password or a deactivated user is noticed at once: the key includes the stored hash
# and the user is read anew every time.
#
# An API token may stand in for the password (QGIS 3.22 sends tokens no other way than
# as Basic): any user name, or the token's owner's. The caller is then the token's
# owner, as with ``Authorization: Bearer``. The sign-in limits apply as to a password:
# while the address is over its limit or the name given is locked, a token is refused
# unchecked; a wrong (unknown, expired, revoked) token is a failed attempt of the name
# given, counted toward its lock-out and the address's limit. A valid token is
# remembered like a password, but checked anew on every request (``caller_for_token``),
# so a revoked or expired token is refused at once.
BASIC_AUTH_CACHE_SECONDS = 300
# key -> (what was verified: "password" or "token", the user's id, monotonic deadline)
_basic_verified: dict[str, tuple[str, int, float]] = {}


def user_for_basic(session, username: str, password: str, ip: str | None = None,
                   policy: LoginPolicy = LoginPolicy()) -> User | TokenCaller | None:
    """The caller of HTTP Basic credentials, else None: the active user with this name
    and password, or the owner of a valid API token given as the password
    (``TokenCaller``, whatever the name).

    Credentials not remembered go through ``sign_in``'s limits (recorded attempt);
    ``SignInRefusedError`` as there. A locked name is refused even when remembered. A
    password that merely looks like a token is still checked as a password.
    """
    user = session.scalars(select(User).options(WITH_REGIONS)
                           .where(User.username == username)).unique().one_or_none()
    key = hashlib.sha256(f"{username}\0{password}\0"
                         f"{user.password_hash if user else ''}".encode()).hexdigest()
    remembered = _basic_verified.get(key)
    if remembered is not None and remembered[2] > time.monotonic():
        if _locked(session, user, username[:64], policy, datetime.now(UTC)):
            raise account_locked()
        credential, user_id = remembered[:2]
        if credential == "password" and user is not None and user.id == user_id:
            return user if user.active else None
        caller = caller_for_token(session, password) if credential == "token" else None
        if caller is not None and caller.id == user_id:
            return caller
        # A token revoked or expired since: a checked (failed) attempt below.

    def verify() -> User | TokenCaller | None:
        if password.startswith(TOKEN_PREFIX):
            caller = caller_for_token(session, password)
            if caller is not None:
                return caller
        return _check_password(user, password)

    verified = _sign_in(session, user, username, ip, policy, verify)
    if verified is None:
        return None
    if len(_basic_verified) > 1000:
        _basic_verified.clear()
    credential = "token" if isinstance(verified, TokenCaller) else "password"
    _basic_verified[key] = (credential, verified.id, time.monotonic() + BASIC_AUTH_CACHE_SECONDS)
    return verified
