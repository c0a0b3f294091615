"""Pooled PostgreSQL connections that the server has ended, noticed without a round trip.

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

from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError


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
