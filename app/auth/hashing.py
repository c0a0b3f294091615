"""How secrets are kept: Argon2id password hashes and SHA-256 digests.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile).
API tokens and session ids are 256-bit random strings; the database keeps only their
SHA-256 digest, so a leaked table does not leak usable tokens or sessions.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher

password_hasher = PasswordHasher()


def sha256_hex(secret: str) -> str:
    """The SHA-256 digest of ``secret`` (UTF-8), as 64 lower-case hex digits: what the
    database keeps of an API token or a session id."""
    return hashlib.sha256(secret.encode()).hexdigest()
