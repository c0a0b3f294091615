"""Analysis results shared by every worker process and app node: the table
``analysis_results`` on the primary, the second tier of ``geo.hotspots.cache``.

A result missing from a process's memory is read from the table; missing there too, it
is computed once for all: the process that asks first takes a transaction-level
advisory lock on the key (``geo.queries.analysis_results``), computes, stores the row
and commits, which releases the lock; a process asking for the same key meanwhile waits
for the lock and then reads the row instead of computing it again.

- **No deadlock, no wait past the statement timeout**: a thread that holds a key's lock
  never waits for another one (a result computed inside another's computation only
  tries the lock), and a wait ends after ``wait_s`` (PostgreSQL's ``lock_timeout``,
  below the statement timeout): then the waiter computes itself.
- **A failed computation** rolls its transaction back, which releases the lock: the
  next waiter computes.
- **Never a failed request because of the cache**: when the table cannot be reached or
  a write fails, the result is computed (or served) without it, and the log says why.
- **Keys** are the memory tier's (kind, request, data stamps, CRS) and a fingerprint of
  the code (the ``geo`` package's sources, numpy's and scipy's versions): entries of
  older data or of an older release are never read again, only pruned (oldest first)
  when the bodies add up to more than ``max_bytes``; a result above ``entry_max_bytes``
  is served but not stored.
- **On the primary**, reads too: a standby cannot read an unlogged table, and the
  computation lock must be one lock for every node. A result computed from a replica's
  older data is keyed by that data's stamps, so it is as right on the primary.

A session shares results when its ``info`` holds an :class:`AnalysisResults` under
:data:`SESSION_INFO_KEY` (the web app's sessions do, ``app.extensions``), and its
transaction has written nothing (``geo.queries.data_stamps``): what it computes then
is what every session of that data would.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo.queries import analysis_results as stored

logger = logging.getLogger(__name__)

SESSION_INFO_KEY = "analysis_results"
# The libraries whose versions can change a result's numbers.
_NUMERIC_LIBRARIES = ("numpy", "scipy")

# How many shared computations this thread is inside (it then waits for no other lock).
_held = threading.local()

Produce = Callable[[], tuple[bytes, bool]]


@functools.cache
def code_fingerprint() -> str:
    """sha256 (hex) of the ``geo`` package's Python sources and the numeric libraries'
    versions: a release that changes how a result is computed reads none of the
    results of the one before."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    for name in _NUMERIC_LIBRARIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent\0".encode())
    return digest.hexdigest()


def key_hash(key: str) -> bytes:
    """The table's key of the memory tier's ``key`` (32 bytes)."""
    return hashlib.sha256(f"{code_fingerprint()}\0{key}".encode()).digest()


def lock_number(digest: bytes) -> int:
    """The advisory lock of a key: the first 4 bytes of its hash, as a signed 32-bit
    number (two keys that share it only wait for each other)."""
    return int.from_bytes(digest[:4], "big", signed=True)


@dataclass(frozen=True)
class AnalysisResults:
    """The shared results of one database.

    Parameters
    ----------
    engine : Engine
        The primary's (never a read replica's).
    max_bytes : int
        Bytes the stored bodies may add up to; older rows are deleted past it.
    entry_max_bytes : int
        A larger result is not stored.
    wait_s : float
        Seconds a process waits for another computing the same result (keep it below
        the statement timeout of ``engine``'s connections).
    """

    engine: Engine
    max_bytes: int
    entry_max_bytes: int
    wait_s: float

    def fetch_or_compute(self, key: str, kind: str, produce: Produce) -> tuple[bytes, bool]:
        """``(body, keep)`` of ``key``: the stored row, else ``produce()`` (the body and
        whether it may be kept), computed once across processes and stored when kept."""
        digest = key_hash(key)
        try:
            with self.engine.connect() as connection:
                body = stored.fetch(connection, digest)
                connection.rollback()
        except SQLAlchemyError as exc:
            return self._without(exc, produce)
        if body is not None:
            return body, True
        return self._compute_once(digest, kind, produce)

    def _compute_once(self, digest: bytes, kind: str, produce: Produce) -> tuple[bytes, bool]:
        depth = getattr(_held, "depth", 0)
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as exc:
            return self._without(exc, produce)
        with connection:
            try:
                # Inside another computation only try the lock: when it is taken, this
                # one computes beside its holder (the row stays the first stored). The
                # wait's lock_timeout holds for the rest of the transaction: the insert
                # and the prune wait no longer either.
                stored.lock(connection, lock_number(digest),
                            None if depth else int(self.wait_s * 1000))
                body = stored.fetch(connection, digest)  # stored while this one waited
            except SQLAlchemyError as exc:  # waited wait_s (lock_timeout), or a failure
                connection.rollback()
                return self._without(exc, produce)
            if body is not None:
                connection.rollback()
                return body, True
            _held.depth = depth + 1
            try:
                body, keep = produce()  # an exception rolls back: the lock is released
            finally:
                _held.depth = depth
            if keep and len(body) <= self.entry_max_bytes:
                try:
                    stored.store(connection, digest, kind, body)
                    stored.prune(connection, self.max_bytes)
                    connection.commit()
                except SQLAlchemyError as exc:
                    logger.warning("analysis result %s not stored: %s", kind,
                                   str(exc).splitlines()[0])
            return body, keep

    @staticmethod
    def _without(exc: Exception, produce: Produce) -> tuple[bytes, bool]:
        logger.warning("shared analysis results not used: %s", str(exc).splitlines()[0])
        return produce()

    def clear(self) -> None:
        """Delete every stored result (a benchmark's cold start)."""
        with self.engine.begin() as connection:
            stored.clear(connection)


def of(session) -> AnalysisResults | None:
    """The shared results ``session`` uses, if any."""
    info = getattr(session, "info", None)
    return None if info is None else info.get(SESSION_INFO_KEY)
