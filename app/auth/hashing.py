"""How secrets are kept: Argon2id password hashes and SHA-256 digests.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile).
API tokens and session ids are 256-bit random strings; the database keeps only their
SHA-256 digest, so a leaked table does not leak usable tokens or sessions.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher

_hasher = PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
