"""The two database roles: the schema's owner, and the web app's role that owns nothing.

Migrations (``flask db upgrade``) and the CLI's maintenance commands connect as the
owner (``DATABASE_OWNER_URL``; on the embedded cluster ``borderrisk_owner``, whose
password only the user who started the cluster can read). The web app connects as its
own role (``DATABASE_URL``; ``borderrisk``). After every upgrade the owner grants that
role exactly what the app does with each of its tables:

- ``SELECT, INSERT, UPDATE, DELETE`` on the tables, ``USAGE, SELECT`` on the sequences;
- ``SELECT, INSERT`` only on the append-only ``audit_log``;
- ``SELECT`` only on ``alembic_version``.

Owning nothing, the app's role cannot grant itself more, alter, drop or truncate a
table, or disable a trigger: the audit trail is append-only against it.

A server set up with one role (``DATABASE_URL`` only) still works, with the app as the
owner; ``grant_app_role`` then says so in the log, and the audit trail is append-only
against everyone but that role.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from psycopg2 import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# Privileges of the app's role by table; every other table of the owner gets DML.
TABLE_PRIVILEGES = {"audit_log": ("SELECT", "INSERT"), "alembic_version": ("SELECT",)}
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")

# The owner's tables, views and sequences in the public schema (relkind r, p, v, m: a
# table, a partitioned table, a view, a materialized view; S: a sequence).
_OWNED_RELATIONS = """
    SELECT c.relname, c.relkind = 'S'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    ORDER BY c.relname
"""


def owner_url(settings: Mapping) -> str:
    """The URL migrations and maintenance connect with: ``DATABASE_OWNER_URI``, else the
    app's own (a server set up with one role)."""
    return settings.get("DATABASE_OWNER_URI") or settings["SQLALCHEMY_DATABASE_URI"]


def app_role(settings: Mapping) -> str:
    """The database role the web app connects as (the user of its URL)."""
    return make_url(settings["SQLALCHEMY_DATABASE_URI"]).username


@contextmanager
def owner_connection(settings: Mapping) -> Iterator[Connection]:
    """A connection as the owner, in a transaction committed when the block ends
    (rolled back on an exception)."""
    engine = create_engine(owner_url(settings), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def grant_app_role(connection: Connection, settings: Mapping) -> int:
    """As the owner (``connection``, in its transaction), give the app's role exactly
    the privileges above on every relation the owner has in ``public``; return how many
    relations. Nothing is granted when the app connects as the owner itself."""
    role = app_role(settings)
    owner = make_url(owner_url(settings)).username
    if role == owner:
        logger.warning(
            "the web app connects as the schema's owner %r: set DATABASE_OWNER_URL to a "
            "role of its own so the app's role owns nothing and audit_log is append-only "
            "against it (README, 'Database roles')", role)
        return 0
    cursor = connection.connection.cursor()
    grantee = sql.Identifier(role)
    cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(grantee))
    cursor.execute(_OWNED_RELATIONS)
    relations = cursor.fetchall()
    for name, is_sequence in relations:
        kind = sql.SQL("SEQUENCE" if is_sequence else "TABLE")
        target = sql.Identifier(name)
        privileges = ("USAGE", "SELECT") if is_sequence else TABLE_PRIVILEGES.get(name, DML)
        cursor.execute(sql.SQL("REVOKE ALL ON {} {} FROM {}").format(kind, target, grantee))
        cursor.execute(sql.SQL("GRANT {} ON {} {} TO {}").format(
            sql.SQL(", ").join(map(sql.SQL, privileges)), kind, target, grantee))
    return len(relations)
