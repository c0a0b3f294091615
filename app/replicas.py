"""Read-only requests from a streaming replica (``DATABASE_REPLICA_URL``), with
read-your-writes and a fall-back to the primary that the user never sees.

- **What goes to the replica**: GET and HEAD of :data:`READ_ENDPOINTS` (maps, tiles,
  feature lists and exports, analyses), after authentication, which always reads the
  primary (a revoked token or session is refused at once) and may write its bookkeeping
  there. Everything else, and every write, goes to the primary.
- **Read-your-writes**: after a request that committed on the primary, the caller's
  Flask session (its cookie) keeps the primary's WAL position (``pg_current_wal_lsn()``
  after the commit). A later read goes to the replica once ``pg_last_wal_replay_lsn()``
  has passed it, waiting up to ``REPLICA_WAIT_MS``; else it reads the primary. Clients
  that keep no cookie (scripts with a bearer token) read the replica at once: within
  ``REPLICA_MAX_LAG_S`` of their write.
- **Lag and outages**: each process looks at the replica at most every
  :data:`CHECK_INTERVAL_S` seconds (the primary's WAL position, the replica's replay
  position). The lag is how long WAL the primary had written has been waiting to be
  replayed, measured from those looks (an idle primary is no lag, however old the last
  replayed transaction); when the first look (or the first after a failure) finds the
  replica behind, the time since its last replayed transaction stands in. A replica
  that lags more than ``REPLICA_MAX_LAG_S``, is not in recovery (promoted) or cannot be
  reached is not used until a later look finds it well (:data:`DOWN_RETRY_S` after it
  could not be reached); a read that fails on it for a database reason is run again on
  the primary.

``X-Read-From: replica|primary`` on the answers of :data:`READ_ENDPOINTS` says which was
read (when a replica is configured).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field

from flask import Flask, current_app, g, request, session
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.connections import AUTOCOMMIT_ENDPOINTS, prepare_engine, run_without_transaction
from app.errors import database_failure
from app.extensions import READ_ENGINE, db

logger = logging.getLogger(__name__)

EXTENSION = "borderrisk_replica"
READ_METHODS = frozenset({"GET", "HEAD"})
# GET/HEAD endpoints that only read: maps, tiles, features and their exports, analyses.
READ_ENDPOINTS = frozenset({
    "ogc.wms", "ogc.vector_tile", "ogc.tilejson", "ogc.features_collections",
    "ogc.features_collection", "ogc.features_items", "ogc.features_item",
    "api.list_features", "api.get_feature", "api.hotspot_map", "api.emerging_hotspots",
    "api.evaluate_hotspots", "api.forecast", "api.forecast_backtest",
    "api.ranked_segments", "api.section_history",
})
# Seconds between a process's looks at the replica's state; after it could not be
# reached or failed a read (a look at an unreachable host waits out connect_timeout).
CHECK_INTERVAL_S = 1.0
DOWN_RETRY_S = 5.0
# Seconds between looks at the replay position while a read waits for it.
WAIT_STEP_S = 0.01
# The caller's last write: the primary's WAL position after it, in the Flask session.
SESSION_KEY = "db_lsn"
# Which database a request reads, in ``g`` and the X-Read-From header.
READ_FROM = "_borderrisk_read_from"
HEADER = "X-Read-From"
_WROTE = "_borderrisk_wrote"

_STATE_SQL = ("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
              "extract(epoch FROM now() - pg_last_xact_replay_timestamp())")


def lsn(text: str | None) -> int:
    """A PostgreSQL ``pg_lsn`` (``'16/B374D848'``) as a number (bytes of WAL); 0 for
    None or text that is not one."""
    try:
        high, low = (text or "").split("/")
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        return 0


def _ask(engine: Engine, statement: str, params: dict | None = None) -> tuple:
    """The one row of ``statement`` on a pooled connection of ``engine``, without a
    transaction (no BEGIN or ROLLBACK round trip)."""
    with engine.connect() as connection:
        connection.connection.dbapi_connection.autocommit = True
        return tuple(connection.exec_driver_sql(statement, params).one())


@dataclass
class ReplicaState:
    """What this process knows of the replica (thread-safe): whether it may be read, its
    replay position (WAL bytes) and the primary's positions it had not yet replayed
    when they were seen (monotonic seconds, WAL bytes), oldest first."""

    max_lag_s: float
    usable: bool = False
    replay_lsn: int = 0
    checked_at: float = float("-inf")
    next_look_at: float = float("-inf")
    reached: bool = False  # the last look reached it
    pending: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def lag_s(self, now: float) -> float:
        """Seconds the oldest unreplayed position seen has waited (0: none)."""
        return now - self.pending[0][0] if self.pending else 0.0

    def record(self, now: float, primary_lsn: int, in_recovery: bool, replay_lsn: int,
               replay_age_s: float | None) -> None:
        """A look's findings: the primary's position, and the replica's state."""
        first_look = not self.reached  # this process's first, or the first after a failure
        self.checked_at, self.next_look_at, self.reached = now, now + CHECK_INTERVAL_S, True
        self.replay_lsn = replay_lsn
        while self.pending and self.pending[0][1] <= replay_lsn:
            self.pending.popleft()
        if primary_lsn > replay_lsn and (not self.pending or self.pending[-1][1] < primary_lsn):
            since = now - replay_age_s if first_look and replay_age_s is not None else now
            self.pending.append((since, primary_lsn))
        self.usable = in_recovery and self.lag_s(now) <= self.max_lag_s

    def unreachable(self, now: float) -> None:
        self.checked_at, self.next_look_at = now, now + DOWN_RETRY_S
        self.usable = self.reached = False


class Replica:
    """The replica's engine and state, and the choice of a read's database."""

    def __init__(self, url: str, engine_options: dict, max_lag_s: float, wait_ms: int):
        self.url = url
        self.engine = create_engine(url, **engine_options)
        prepare_engine(self.engine)
        self.state = ReplicaState(max_lag_s)
        self.wait_s = wait_ms / 1000

    def _look(self, primary: Engine) -> None:
        """Refresh the state when the next look is due (one thread looks; the others go
        on with what is known)."""
        if time.monotonic() < self.state.next_look_at \
                or not self.state.lock.acquire(blocking=False):
            return
        try:
            try:
                in_recovery, replay, age = _ask(self.engine, _STATE_SQL)
                (primary_lsn,) = _ask(primary, "SELECT pg_current_wal_lsn()::text")
            except SQLAlchemyError as exc:
                if self.state.usable or self.state.checked_at == float("-inf"):
                    logger.warning("read replica not used: %s", str(exc).splitlines()[0])
                self.state.unreachable(time.monotonic())
                return
            was_usable = self.state.usable
            self.state.record(time.monotonic(), lsn(primary_lsn), bool(in_recovery),
                              lsn(replay), None if age is None else float(age))
            if was_usable and not self.state.usable:
                logger.warning("read replica not used: %s", "not in recovery"
                               if not in_recovery else
                               f"lags {self.state.lag_s(time.monotonic()):.1f} s")
        finally:
            self.state.lock.release()

    def _replayed(self, needed: int) -> bool:
        """Whether the replica has replayed the WAL position ``needed``, waiting up to
        ``wait_s`` for it."""
        deadline = time.monotonic() + self.wait_s
        while True:
            if self.state.replay_lsn >= needed:
                return True
            try:
                (replay,) = _ask(self.engine, "SELECT pg_last_wal_replay_lsn()::text")
            except SQLAlchemyError:
                return False
            self.state.replay_lsn = max(self.state.replay_lsn, lsn(replay))
            if self.state.replay_lsn >= needed:
                return True
            if time.monotonic() + WAIT_STEP_S > deadline:
                return False
            time.sleep(WAIT_STEP_S)

    def serves(self, primary: Engine, last_write: int) -> bool:
        """Whether a read of a caller whose last write is at WAL position ``last_write``
        (0: none known) may go to the replica now."""
        self._look(primary)
        return self.state.usable and (not last_write or self._replayed(last_write))

    def failed(self) -> None:
        """A read on the replica failed: not used until the next look finds it well."""
        self.state.unreachable(time.monotonic())


def _choose_database() -> None:
    """Send this request's reads to the replica when it may serve them."""
    g.pop(READ_ENGINE, None)
    g.pop(READ_FROM, None)
    replica: Replica | None = current_app.extensions.get(EXTENSION)
    if replica is None or request.method not in READ_METHODS \
            or request.endpoint not in READ_ENDPOINTS \
            or not isinstance(db.session.get_bind(), Engine):  # a test's bound session
        return
    setattr(g, READ_FROM, "primary")
    if not replica.serves(db.engine, lsn(session.get(SESSION_KEY))):
        return
    setattr(g, READ_ENGINE, replica.engine)
    setattr(g, READ_FROM, "replica")
    if request.endpoint in AUTOCOMMIT_ENDPOINTS:
        try:
            run_without_transaction(db.session)  # connects to the replica
        except SQLAlchemyError:
            replica.failed()
            g.pop(READ_ENGINE)
            setattr(g, READ_FROM, "primary")


def read_database_url() -> str:
    """The URL this request reads from (for connections of their own: the renderer's)."""
    replica: Replica | None = current_app.extensions.get(EXTENSION)
    if replica is not None and g.get(READ_FROM) == "replica":
        return replica.url
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def _on_primary_when_the_replica_fails(view):
    """``view`` run again on the primary when it fails on the replica for a database
    reason (the replica went down or cancelled the query), so the user sees no error."""

    @functools.wraps(view)
    def read(*args, **kwargs):
        if g.get(READ_FROM) != "replica":
            return view(*args, **kwargs)
        try:
            return current_app.make_response(current_app.ensure_sync(view)(*args, **kwargs))
        except Exception as exc:
            if database_failure(exc) is None:
                raise
            current_app.extensions[EXTENSION].failed()
            logger.warning("read replica failed on %s, read again from the primary: %s",
                           request.path, str(exc).splitlines()[0])
            with suppress(Exception):
                db.session.rollback()
            g.pop(READ_ENGINE, None)
            setattr(g, READ_FROM, "primary")
            return view(*args, **kwargs)

    return read


def _note_commit(connection) -> None:
    from flask import has_request_context

    if has_request_context():
        setattr(g, _WROTE, True)


def _remember_write(response):
    """After a commit on the primary: its WAL position in the caller's session; the
    X-Read-From header."""
    if g.pop(_WROTE, False):
        with suppress(SQLAlchemyError):
            (position,) = _ask(db.engine, "SELECT pg_current_wal_lsn()::text")
            if lsn(position) > lsn(session.get(SESSION_KEY)):
                session[SESSION_KEY] = position
    read_from = g.get(READ_FROM)
    if read_from is not None:
        response.headers[HEADER] = read_from
    return response


def init_app(app: Flask) -> None:
    """With ``DATABASE_REPLICA_URI``: the replica's engine (the primary's options),
    reads of :data:`READ_ENDPOINTS` routed after authentication (call after the
    blueprints are registered)."""
    url = app.config.get("DATABASE_REPLICA_URI")
    if not url:
        return
    app.extensions[EXTENSION] = Replica(url, app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                        app.config["REPLICA_MAX_LAG_S"],
                                        app.config["REPLICA_WAIT_MS"])
    with app.app_context():
        event.listen(db.engine, "commit", _note_commit)
    app.before_request(_choose_database)  # after authentication's (registered earlier)
    app.after_request(_remember_write)
    for endpoint in READ_ENDPOINTS & set(app.view_functions):
        app.view_functions[endpoint] = _on_primary_when_the_replica_fails(
            app.view_functions[endpoint])
