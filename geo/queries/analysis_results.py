"""The statements of the shared analysis results (table ``analysis_results``, migration
``d2f4a6c8e0b1``; used by ``geo.hotspots.analysis_results``), on a connection to the
primary.

The computation of a key is serialised across processes by a transaction-level
advisory lock in a key space of its own (:data:`LOCK_CLASS`; the two-integer locks
never meet the one-number locks of the audit chain and the outbox).
"""

from __future__ import annotations

from sqlalchemy import text

# The first of the two integers of the results' advisory locks (any constant).
LOCK_CLASS = 190_419
# The second of them for the one that lets one transaction at a time prune.
PRUNE_LOCK = 0

_FETCH = text("SELECT body FROM analysis_results WHERE key_hash = :key_hash")
_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :ms, true)")
_LOCK = text("SELECT pg_advisory_xact_lock(:lock_class, :lock)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_class, :lock)")
_STORE = text(
    "INSERT INTO analysis_results (key_hash, kind, body, size) "
    "VALUES (:key_hash, :kind, :body, :size) ON CONFLICT (key_hash) DO NOTHING")
# The newest rows whose sizes add up to at most :max_bytes are kept.
_PRUNE = text("""
    DELETE FROM analysis_results WHERE key_hash IN (
        SELECT key_hash FROM (
            SELECT key_hash, sum(size) OVER (ORDER BY created_at DESC, key_hash) AS kept
            FROM analysis_results) AS newest_first
        WHERE kept > :max_bytes)""")
_CLEAR = text("DELETE FROM analysis_results")
_TOTALS = text("SELECT count(*), coalesce(sum(size), 0) FROM analysis_results")


def fetch(connection, key_hash: bytes) -> bytes | None:
    """The stored body of ``key_hash``, or None."""
    body = connection.execute(_FETCH, {"key_hash": key_hash}).scalar_one_or_none()
    return None if body is None else bytes(body)


def lock(connection, lock: int, wait_ms: int | None) -> bool:
    """Take the advisory lock ``lock`` (a signed 32-bit number) until the transaction
    ends: wait up to ``wait_ms`` milliseconds (PostgreSQL's ``lock_timeout``: an error
    after it), or not at all (None: True when it was free)."""
    if wait_ms is None:
        return bool(connection.execute(_TRY_LOCK, {"lock_class": LOCK_CLASS,
                                                   "lock": lock}).scalar_one())
    connection.execute(_LOCK_TIMEOUT, {"ms": str(max(1, wait_ms))})
    connection.execute(_LOCK, {"lock_class": LOCK_CLASS, "lock": lock})
    return True


def store(connection, key_hash: bytes, kind: str, body: bytes) -> None:
    """Keep ``body`` (a row already there stays: it is the same result)."""
    connection.execute(_STORE, {"key_hash": key_hash, "kind": kind, "body": body,
                                "size": len(body)})


def prune(connection, max_bytes: int) -> int:
    """Delete the oldest rows until the sizes add up to at most ``max_bytes``, unless
    another transaction is pruning (it does it); return how many rows went."""
    if not lock(connection, PRUNE_LOCK, None):
        return 0
    return connection.execute(_PRUNE, {"max_bytes": max_bytes}).rowcount


def clear(connection) -> None:
    """Delete every stored result."""
    connection.execute(_CLEAR)


def totals(connection) -> tuple[int, int]:
    """``(rows, bytes of their bodies)``."""
    return tuple(connection.execute(_TOTALS).one())
