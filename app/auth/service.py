"""Password hashing, user creation, sign-in and API tokens.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile).
API tokens are 256-bit random strings; the database keeps only their SHA-256 digest, so a
leaked table does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select

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


def user_for_token(session, token: str) -> User | None:
    """The active owner of a valid (known, unrevoked, unexpired) token, else None.

    Records the time of use on the token.
    """
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    row.last_used_at = now
    return row.user
