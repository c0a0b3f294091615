"""Password hashing, user creation, sign-in and API tokens.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile).
API tokens are 256-bit random strings; the database keeps only their SHA-256 digest, so a
leaked table does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.auth.models import ApiToken, User
from geo.vocabulary import ROLES

TOKEN_PREFIX = "br_"  # noqa: S105  (a public marker, not a secret)
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """Bad input to an auth operation; the message names the field."""


def create_user(session, username: str, role: str, password: str) -> User:
    """Add a user (not committed). Raises AuthError for a bad role, name or password."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AuthError(f"username {username!r} is taken")
    user = User(username=username, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _hasher.hash(password)


def authenticate(session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None."""
    user = session.scalar(select(User).where(User.username == username))
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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session, user: User, name: str, expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token text (shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + expires_in if expires_in else None
    row = ApiToken(user=user, name=name, token_sha256=_digest(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def user_for_token(session, token: str) -> User | None:
    """The active owner of a valid (known, unrevoked, unexpired) token, else None.

    Records the time of use on the token, to the minute: a write (and its commit's
    flush to disk) on every request cost a map tile or a page of features more than
    its query.
    """
    # The owner comes in the same statement: a second round trip costs a map tile more
    # than a tenth of its time.
    row = session.scalar(select(ApiToken).options(joinedload(ApiToken.user))
                         .where(ApiToken.token_sha256 == _digest(token)))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
        row.last_used_at = now
    return row.user


# HTTP Basic (GIS clients such as QGIS send the password with every map request): a
# successful Argon2 check is remembered for BASIC_AUTH_CACHE_SECONDS by a SHA-256 of
# (user name, password, password hash), so a tile costs no ~50 ms hash. A changed
# password or a deactivated user is noticed at once: the key includes the stored hash
# and the user is read anew every time.
BASIC_AUTH_CACHE_SECONDS = 300
_basic_verified: dict[str, tuple[int, float]] = {}


def user_for_basic(session, username: str, password: str) -> User | None:
    """The active user with this name and password (HTTP Basic), else None."""
    user = session.scalar(select(User).where(User.username == username))
    key = None
    if user is not None:
        key = hashlib.sha256(
            f"{username}\0{password}\0{user.password_hash}".encode()).hexdigest()
        verified = _basic_verified.get(key)
        if verified is not None and verified[0] == user.id and verified[1] > time.monotonic():
            return user if user.active else None
    if authenticate(session, username, password) is None:
        return None
    if len(_basic_verified) > 1000:
        _basic_verified.clear()
    _basic_verified[key] = (user.id, time.monotonic() + BASIC_AUTH_CACHE_SECONDS)
    return user
