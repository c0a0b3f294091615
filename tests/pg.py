"""Direct PostgreSQL access for tests that act beside the app, as an administrator or a
restart would: a second connection, ending backends, waiting for one to appear or go."""

from __future__ import annotations

import time

import psycopg2
import pytest
from sqlalchemy.engine import make_url


def connect(url: str, *, autocommit: bool = True):
    """A psycopg2 connection to the database of ``url`` (a SQLAlchemy URL)."""
    conn = psycopg2.connect(make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False))
    conn.autocommit = autocommit
    return conn


def scalar(url: str, query: str, params=()):
    """The first column of the first row of ``query`` (None when there is no row)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
            return None if row is None else row[0]
    finally:
        conn.close()


def terminate_backends(url: str) -> int:
    """End every other client backend of the database from a second connection of the
    same role, as an administrator or a server restart would, waiting (10 s at most)
    until each is gone; how many were ended."""
    return scalar(url, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
                       "FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


def wait_for_backend(url: str, condition: str, params=(), *, what: str, wait_s: float = 60,
                     interval_s: float = 0.01, give_up=None) -> int:
    """Pid of another backend of the database whose ``pg_stat_activity`` row meets
    ``condition`` (SQL, bound ``params``), polled every ``interval_s`` seconds; fails the
    test after ``wait_s`` seconds, or when ``give_up()`` returns a reason."""
    conn = connect(url)
    try:
        deadline = time.monotonic() + wait_s
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = "
                            f"current_database() AND pid <> pg_backend_pid() AND ({condition})",
                            params)
                row = cur.fetchone()
                if row:
                    return row[0]
                reason = give_up() if give_up is not None else None
                if reason:
                    pytest.fail(reason)
                time.sleep(interval_s)
    finally:
        conn.close()
    pytest.fail(f"no backend {what} within {wait_s} s")
