"""The webhooks' secrets and signatures.

A delivery carries ``BorderRisk-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>``
is HMAC-SHA256 keyed with the subscription's secret over ``f"{t}.".encode() + body``
(the raw request body): the scheme of GitHub's and Stripe's webhooks. A receiver
recomputes it, compares in constant time, and refuses a ``t`` older than a few minutes
(a replayed request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "BorderRisk-Signature"
DELIVERY_HEADER = "BorderRisk-Delivery"
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
# A receiver's default tolerance of the signature's age (seconds).
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    """A new random secret (256 bits, URL-safe text with a ``whsec_`` prefix)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}." + body`` keyed with ``secret``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``BorderRisk-Signature`` value of ``body`` (``timestamp``: unix seconds,
    default now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={signature(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, tolerance_s: float = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made at most ``tolerance_s``
    seconds from ``now`` (unix seconds; default the clock). Any ``v1`` may match (a
    sender may sign with an old and a new secret while one is rotated)."""
    parts = [p.partition("=") for p in (header or "").split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    given = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not given:
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = signature(secret, t, body)
    return any(hmac.compare_digest(expected, v) for v in given)
