"""Throwaway PostGIS databases for the test suite and the benchmarks.

Made on the server the app would use (``DATABASE_URL``, else the embedded cluster that
``make test`` starts), named ``<db>_<purpose>_<random>``, dropped at the end; never the
database that ``make run`` serves. Without a reachable server the caller stops with a
clear message (the suite fails, it never skips).
"""

from __future__ import annotations

import os
import time
import uuid

import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import make_url

import config


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def server_url() -> str:
    """URL of the server to make throwaway databases on, as the role that will own them
    (``DATABASE_OWNER_URL``, else ``DATABASE_URL`` for a server set up with one role,
    else the embedded cluster's owner); never used for tests itself."""
    url = (os.environ.get("DATABASE_OWNER_URL") or os.environ.get("DATABASE_URL")
           or config.embedded_owner_url())
    if not url:
        pytest.exit(f"the owner role's password ({config.EMBEDDED_PG_OWNER_PASSWORD_FILE}) "
                    "is not readable: run the suite as the user who ran `make db`",
                    returncode=3)
    return _plain(url)


def app_server_url() -> str:
    """URL of the same server as the web app's role (``DATABASE_URL``, else the embedded
    cluster's app role)."""
    return _plain(os.environ.get("DATABASE_URL") or config.embedded_database_url())


def owner_url(app_url: str) -> str:
    """The owner's URL of the database of ``app_url`` (a URL ``create`` returned); on
    another server (a benchmark's own cluster, set up with one role) ``app_url``."""
    app, owner = make_url(app_url), make_url(server_url())
    if (app.host, app.port) != (owner.host, owner.port):
        return app_url
    return owner.set(drivername="postgresql+psycopg2", database=app.database,
                     ).render_as_string(hide_password=False)


class ThrowawayDatabases:
    """Creates databases named ``<db>_test_<random>`` owned by the owner role (``base_url``)
    and drops them afterwards; ``create`` answers the URL the web app's role
    (``app_url``, default ``app_server_url()``) connects with."""

    def __init__(self, base_url: str, purpose: str = "test", app_url: str | None = None):
        self.base = make_url(base_url)
        self.app = make_url(app_url or app_server_url())
        self.purpose = purpose
        self.created: list[str] = []

    def _admin(self):
        try:
            conn = psycopg2.connect(self.base.render_as_string(hide_password=False))
        except psycopg2.OperationalError as exc:
            pytest.exit(
                f"PostGIS is not reachable at {self.base.host}:{self.base.port} ({exc}). "
                "Run the suite with `make test`, which starts the embedded PostGIS, "
                "or set DATABASE_URL.",
                returncode=3,
            )
        conn.autocommit = True
        return conn

    def create(self) -> str:
        name = f"{self.base.database}_{self.purpose}_{uuid.uuid4().hex[:10]}"
        conn = self._admin()
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.close()
        self.created.append(name)
        return self.app.set(drivername="postgresql+psycopg2", database=name).render_as_string(
            hide_password=False
        )

    def drop_all(self) -> None:
        conn = self._admin()
        with conn.cursor() as cur:
            for name in self.created:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name))
                # An autovacuum worker (the server's own) may still be on a freshly loaded
                # database; a non-superuser cannot end it, so wait for it to finish.
                for attempt in range(180):
                    try:
                        cur.execute(drop)
                        break
                    except psycopg2.errors.InsufficientPrivilege:
                        if attempt == 179:
                            raise
                        time.sleep(1)
        conn.close()
