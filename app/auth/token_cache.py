"""Verified API tokens kept in each process, so that a request with a known token makes
no database round trip to learn its caller; invalidated by ``LISTEN``/``NOTIFY``.

The database announces on the channel :data:`CHANNEL` every change that can make a
cached caller wrong, in the changing transaction (triggers of migration
``b8d2f4a6c1e3``: a token revoked, re-dated, deleted; a user deactivated, deleted, given
another role, agency, name or region scope; a region's code changed). Each process holds
one :class:`TokenCache` per app with a listener thread on a dedicated connection; a
notification drops the entries it names (``token:<id>``, ``user:<id>``) or all
(``all``), and a commit of the process' own sessions that changed a user or token drops
them all too (the process sees its own writes at once, before the notification
arrives; ``app.auth.tokens``).

Correctness does not depend on the listener being up: entries are served and stored
only while its ``LISTEN`` stands. When the connection fails (noticed at once when the
server closes it, or within :data:`PING_S` seconds by a ``SELECT 1``), the cache empties
and stands aside, every request reads the database, and the listener reconnects (with a
growing pause, at most :data:`RECONNECT_MAX_S` seconds) and empties the cache again
once listening. A read that started before an invalidation never stores its answer
(the cache's generation changed in between). An entry's token ``expires_at`` is kept
with it, so an expired token is refused without a notification.

Per process: under gunicorn each worker makes its own after the fork (the listener is
started by the first lookup in the process that uses it).

The listener and the token's statement must see the same server: the primary
(``SQLALCHEMY_DATABASE_URI``). A read replica behind a revoke could answer the statement
with the token still valid after the notification came, and the cache would keep it
(notifications are not replicated either): with read replicas, tokens are verified on
the primary.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg2
from sqlalchemy.engine import make_url

from app.auth.models import TokenCaller

logger = logging.getLogger(__name__)

CHANNEL = "auth_changes"
# Most tokens a process keeps (least recently used dropped first).
MAX_ENTRIES = 10_000
# Seconds between the listener's checks that its connection still answers.
PING_S = 1.0
# Seconds the listener waits before reconnecting: doubling from the first to the last.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0


@dataclass(frozen=True)
class _Entry:
    caller: TokenCaller
    expires_at: datetime | None


class TokenCache:
    """Callers of verified tokens by the token's SHA-256 digest (see the module)."""

    def __init__(self, database_url: str, max_entries: int = MAX_ENTRIES):
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0
        self._listening = False
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lookups

    def get(self, digest: str, now: datetime) -> TokenCaller | None:
        """The cached caller of ``digest`` if its token is unexpired at ``now`` (UTC),
        else None (also while the listener is not listening)."""
        self._ensure_listener()
        with self._lock:
            entry = self._entries.get(digest) if self._listening else None
            if entry is None:
                return None
            if entry.expires_at is not None and entry.expires_at <= now:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry.caller

    def generation(self) -> int | None:
        """Take before reading the database; hand to :meth:`put` with what was read.
        None while not listening (then nothing is stored)."""
        with self._lock:
            return self._generation if self._listening else None

    def put(self, digest: str, caller: TokenCaller, expires_at: datetime | None,
            generation: int | None) -> None:
        """Keep ``caller`` for ``digest`` unless an invalidation came since
        ``generation`` was taken (the read may predate the change)."""
        with self._lock:
            if generation is None or generation != self._generation or not self._listening:
                return
            self._entries[digest] = _Entry(caller, expires_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def touched(self, token_id: int, when: datetime) -> None:
        """The token's last use was recorded at ``when``: its entries say so (the
        bookkeeping then waits its minute, ``app.auth.tokens.token_use_due``)."""
        with self._lock:
            for digest, entry in self._entries.items():
                if entry.caller.token_id == token_id:
                    self._entries[digest] = replace(
                        entry, caller=replace(entry.caller, token_last_used_at=when))

    # ------------------------------------------------------------------ invalidation

    def invalidate(self, subject: str) -> None:
        """Drop the entries a notification names: ``token:<id>``, ``user:<id>``;
        anything else drops all."""
        kind, _, value = subject.partition(":")
        with self._lock:
            self._generation += 1
            if kind in ("token", "user") and value.isdigit():
                number = int(value)
                stale = [d for d, e in self._entries.items()
                         if (e.caller.token_id if kind == "token" else e.caller.id) == number]
                for digest in stale:
                    del self._entries[digest]
            else:
                self._entries.clear()

    def clear(self) -> None:
        """Drop every entry (and refuse stores of reads begun before)."""
        self.invalidate("all")

    @property
    def listening(self) -> bool:
        with self._lock:
            return self._listening

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    # ------------------------------------------------------------------ the listener

    def _ensure_listener(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            # A new process (first use, or a fork): nothing inherited is trusted.
            self._pid, self._listening = pid, False
            self._entries.clear()
            self._generation += 1
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="token-cache-listener",
                                            daemon=True)
            self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Start the listener if needed and wait up to ``timeout`` seconds for its
        ``LISTEN`` (tests, start-up)."""
        self._ensure_listener()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.listening:
                return True
            time.sleep(0.02)
        return self.listening

    def close(self) -> None:
        """Stop the listener (its connection closes); the cache stands aside."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._lock:
            self._listening = False
            self._entries.clear()
            self._pid = None

    def _set_listening(self, listening: bool) -> None:
        with self._lock:
            self._listening = listening
            self._generation += 1
            self._entries.clear()

    def _run(self) -> None:
        pause = RECONNECT_FIRST_S
        stop = self._stop
        while not stop.is_set():
            conn = None
            try:
                conn = psycopg2.connect(self._dsn, application_name="token-cache-listener",
                                        connect_timeout=5)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                self._set_listening(True)
                pause = RECONNECT_FIRST_S
                self._listen(conn, stop)
            except Exception as exc:  # noqa: BLE001  # any failure: stand aside, retry
                if not stop.is_set():
                    logger.warning("token cache listener: %s; reconnecting in %.1f s",
                                   exc, pause)
            finally:
                self._set_listening(False)
                if conn is not None:
                    conn.close()
            stop.wait(pause)
            pause = min(pause * 2, RECONNECT_MAX_S)

    def _listen(self, conn, stop: threading.Event) -> None:
        last_ping = time.monotonic()
        while not stop.is_set():
            ready, _, _ = select.select([conn], [], [], PING_S)
            if ready:
                conn.poll()
                while conn.notifies:
                    self.invalidate(conn.notifies.pop(0).payload)
            if time.monotonic() - last_ping >= PING_S:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                while conn.notifies:  # notifications read along with the answer
                    self.invalidate(conn.notifies.pop(0).payload)
                last_ping = time.monotonic()
