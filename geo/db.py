"""Connections of ``geo``: the renderer's pools, and pooled connections the server has
ended, noticed without a round trip.

The web app's own engine is Flask-SQLAlchemy's (``app.extensions.db``, its options in
``app._engine_options``). Maps are drawn on connections of their own, so that a slow
map never takes the web app's: :func:`map_engine` (SQLAlchemy, the points and hot-spots
the renderer reads itself) and :func:`mapnik_parameters` (mapnik's postgis plugin keeps
its own pool). Both run with :data:`MAP_SESSION_OPTIONS`.

A pooled connection the server ended (a restart, ``pg_terminate_backend``, an idle
timeout) has its socket readable: the server's last message, then end-of-file. An idle
connection is otherwise never readable (nothing here uses ``LISTEN``), so a readable or
closed one is discarded when it is taken from the pool, and the pool opens another,
dropping every older connection too (a restart ends them all). This replaces
SQLAlchemy's ``pool_pre_ping``, a ``SELECT 1`` round trip every time a connection is
taken. A connection that dies between the check and its first statement fails that
statement.
"""

from __future__ import annotations

import select
from functools import lru_cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError

# The renderer's connections: no parallel workers or JIT (each costs more than a map's
# small query), and a time limit (seconds) so that no map holds a connection and a core
# for long (a cancelled query is a 503, app.errors).
MAP_STATEMENT_TIMEOUT_S = 30
MAP_SESSION_OPTIONS = ("-c max_parallel_workers_per_gather=0 -c jit=off "
                       f"-c statement_timeout={MAP_STATEMENT_TIMEOUT_S}s")
CONNECT_TIMEOUT_S = 2
# Connections of mapnik's pool per database and process (its postgis ``max_size``).
MAPNIK_POOL_SIZE = 4


def connection_was_ended(dbapi_connection) -> bool:
    """Whether the server has ended (or is ending) this idle psycopg2 connection: closed
    on our side, or its socket readable or in error (a message or end-of-file waiting)."""
    if dbapi_connection.closed:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(),
                    select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _discard_ended(dbapi_connection, connection_record, connection_proxy) -> None:
    if connection_was_ended(dbapi_connection):
        # The pool reconnects this record and drops every connection older than now.
        raise InvalidatePoolError("the database server ended this pooled connection")


def replace_ended_connections(engine) -> None:
    """Check every connection ``engine``'s pool hands out (:func:`connection_was_ended`)
    and replace an ended one; if the database cannot be reached, taking a connection
    fails as when it is down."""
    event.listen(engine, "checkout", _discard_ended)


@lru_cache(maxsize=8)
def map_engine(database_url: str):
    """The renderer's SQLAlchemy engine for ``database_url`` (one per process and URL):
    2 connections plus 2 overflow, ended ones replaced on checkout."""
    engine = create_engine(
        database_url, pool_size=2, max_overflow=2,
        connect_args={"options": MAP_SESSION_OPTIONS, "connect_timeout": CONNECT_TIMEOUT_S})
    replace_ended_connections(engine)  # no pre-ping round trip per map
    return engine


@lru_cache(maxsize=8)
def mapnik_parameters(database_url: str) -> tuple[tuple[str, str], ...]:
    """The parameters of a mapnik ``postgis`` datasource on ``database_url``, its pool
    persistent and at most :data:`MAPNIK_POOL_SIZE` connections per process."""
    url = make_url(database_url)
    return (
        ("type", "postgis"),
        ("host", url.host or "localhost"),
        ("port", str(url.port or 5432)),
        ("user", url.username or ""),
        ("password", url.password or ""),
        ("dbname", f"{url.database} options='{MAP_SESSION_OPTIONS}'"),
        ("connect_timeout", str(CONNECT_TIMEOUT_S)),
        ("persist_connection", "true"),
        ("max_size", str(MAPNIK_POOL_SIZE)),
    )
