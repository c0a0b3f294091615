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


def server_url() -> str:
    """URL of the server to make throwaway databases on (never used for tests itself)."""
    url = os.environ.get("DATABASE_URL") or config.embedded_database_url()
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


class ThrowawayDatabases:
    """Creates databases named ``<db>_test_<random>`` and drops them afterwards."""

    def __init__(self, base_url: str, purpose: str = "test"):
        self.base = make_url(base_url)
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
        return self.base.set(drivername="postgresql+psycopg2", database=name).render_as_string(
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
