"""How requests use pooled connections (``app.connections``), on a committed database
of their own: ended connections are noticed at checkout without a round trip, and the
read-only tile endpoints run without a transaction while every other request keeps
its own."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from app.connections import AUTOCOMMIT_ENDPOINTS
from app.extensions import db
from geo.db import connection_was_ended
from tests import pg
from tests.conftest import committed_app, role_headers


@pytest.fixture(scope="module")
def committed(databases):
    """(app, url, the bearer headers of pool-viewer): the sample layers, committed (the tests
    need connections of their own)."""
    with committed_app(databases, "pool", "viewer") as found:
        yield found


def test_an_ended_connection_is_seen_at_once_and_a_live_one_is_not(committed):
    _, url, _ = committed
    idle, admin = pg.connect(url), pg.connect(url)
    try:
        with idle.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        assert not connection_was_ended(idle)
        with admin.cursor() as cursor:  # waits (up to 10 s) until the backend is gone
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            assert cursor.fetchone() == (True,)
        assert connection_was_ended(idle)
        assert not connection_was_ended(admin)
    finally:
        idle.close()
        admin.close()
    assert connection_was_ended(idle)  # closed on our side


def test_every_pooled_connection_ended_is_replaced_without_a_failed_request(committed):
    app, url, headers = committed
    client = app.test_client()
    with app.app_context():
        # Two connections in the pool, both ended by the server below.
        first, second = db.engine.connect(), db.engine.connect()
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one()
                for c in (first, second)]
        first.close()
        second.close()
    assert pg.scalar(url, "SELECT bool_and(pg_terminate_backend(pid, 10000)) "
                          "FROM unnest(%s::int[]) AS pid", (pids,))
    for path in ("/ogc/tiles/incidents/0/0/0.mvt", "/api/v1/incidents?limit=1"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
    with app.app_context():
        with db.engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert pid not in pids


def _autocommit_of_statements(app, client, path: str, headers: dict) -> list[bool]:
    """Whether each statement of a request to ``path`` ran in autocommit mode."""
    seen: list[bool] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(cursor.connection.autocommit)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        answer = client.get(path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)[:300]
    return seen


def test_tiles_run_without_a_transaction_and_other_requests_keep_theirs(committed):
    app, url, headers = committed
    assert AUTOCOMMIT_ENDPOINTS == {"ogc.vector_tile", "ogc.tilejson"}
    client = app.test_client()
    fresh = {**headers, "Cache-Control": "no-cache"}
    tile = _autocommit_of_statements(app, client, "/ogc/tiles/incidents/0/0/0.mvt", fresh)
    assert len(tile) >= 2 and all(tile), tile  # the token's statement and the tile's
    assert all(_autocommit_of_statements(app, client, "/ogc/tiles/incidents.json", headers))
    # The same pooled connection afterwards: back in a transaction, for reads and writes.
    listing = _autocommit_of_statements(app, client, "/api/v1/incidents?limit=1", headers)
    assert listing and not any(listing), listing


def test_a_tile_request_records_the_tokens_first_use(committed):
    app, url, _ = committed
    headers = role_headers(app, "pool-first-use", ("viewer",))["viewer"]
    client = app.test_client()
    assert client.get("/ogc/tiles/incidents/0/0/0.mvt", headers=headers).status_code == 200
    assert pg.scalar(url, "SELECT t.last_used_at IS NOT NULL FROM api_tokens AS t "
                          "JOIN users AS u ON u.id = t.user_id "
                          "WHERE u.username = 'pool-first-use-viewer'") is True
