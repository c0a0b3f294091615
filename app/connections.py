"""How requests use the database connections of the pool.

A small tile's statement takes a few milliseconds, so each round trip around it counts
(docs/benchmarks.md, issue 6):

- **Liveness at checkout without a round trip** (``geo.db``): a pooled connection
  the server has ended is replaced when a request takes it, instead of SQLAlchemy's
  ``pool_pre_ping`` (a ``SELECT 1`` before every request). A connection that dies
  between that check and its first statement fails that one request (503) and the pool
  drops every connection older than the failure.
- **Read-only endpoints without a transaction.** ``AUTOCOMMIT_ENDPOINTS`` run each
  statement on its own (PostgreSQL's implicit transaction, READ COMMITTED as before):
  no ``BEGIN`` before the first statement and no ``ROLLBACK`` when the connection goes
  back to the pool. Only endpoints whose reads are single statements, with no
  ``SET LOCAL``, temporary table or server-side cursor (all of which need a
  transaction) are listed. A session bound to a connection (the tests' rolled-back
  transaction) keeps its transaction.
"""

from __future__ import annotations

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db
from geo.db import replace_ended_connections

# GET/HEAD endpoints whose database work is the caller's authentication and single
# read statements (app.ogc.tiles).
AUTOCOMMIT_ENDPOINTS = frozenset({"ogc.vector_tile", "ogc.tilejson"})
READ_METHODS = frozenset({"GET", "HEAD"})


def _read_without_transaction() -> None:
    if request.method in READ_METHODS and request.endpoint in AUTOCOMMIT_ENDPOINTS \
            and isinstance(db.session.get_bind(), Engine):
        # psycopg2's own switch, not SQLAlchemy's isolation_level option: that one sends
        # a SET on the way in and on the way out (a round trip each, as much as the
        # BEGIN and ROLLBACK it saves). Nothing is sent yet: psycopg2 sends BEGIN with
        # the first statement, so the switch is allowed here.
        run_without_transaction(db.session)


def _end_autocommit(dbapi_connection, connection_record) -> None:
    """Give the pool back a connection in transaction mode (no round trip)."""
    if dbapi_connection is not None and not dbapi_connection.closed \
            and dbapi_connection.autocommit:
        dbapi_connection.autocommit = False


def run_without_transaction(session) -> None:
    """Run the statements of ``session``'s connection (of its current bind) each on its
    own (psycopg2's autocommit); the pool gets it back in transaction mode
    (:func:`prepare_engine`)."""
    session.connection().connection.dbapi_connection.autocommit = True


def prepare_engine(engine: Engine) -> None:
    """Check ``engine``'s pooled connections at checkout and give them back in
    transaction mode (the primary's, and the read replica's: ``app.replicas``)."""
    replace_ended_connections(engine)
    event.listen(engine, "checkin", _end_autocommit)


def init_app(app: Flask) -> None:
    """Check pooled connections at checkout; run ``AUTOCOMMIT_ENDPOINTS`` without a
    transaction. Registered before authentication, which makes the first statement."""
    with app.app_context():
        prepare_engine(db.engine)
    app.before_request(_read_without_transaction)
