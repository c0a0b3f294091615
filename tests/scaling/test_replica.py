"""Reads from a real streaming replica (``DATABASE_REPLICA_URL``, app/replicas.py): a
hot standby made by ``pg_basebackup`` from the test server (testsupport/replica.py)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from sqlalchemy import text

from app.auth.hashing import sha256_hex
from app.auth.users import create_user
from app.extensions import db
from app.replicas import HEADER, SESSION_KEY, ReplicaState, lsn
from tests.app.api.test_api_write import incident
from tests.app.auth.test_auth import login
from tests.app.ogc.test_tiles import X, Y, Z
from testsupport.apps import (
    TEST_PASSWORD,
    committed_sample_layers,
    make_app,
    role_headers,
    serving,
)
from testsupport.replica import streaming_replica

pytestmark = pytest.mark.slow

MAX_LAG_S = 1.0
# Long enough for the replica to replay a write on a busy machine.
WAIT_MS = 3000
# Seconds a test waits for the replica's state to be noticed (lag, recovery).
NOTICE_S = 20.0


@pytest.fixture(scope="module")
def replicated(databases):
    """(app, replica, analyst's bearer headers): an app on a new database of the test
    server (sample layers, committed) reading from a streaming replica of it."""
    with streaming_replica() as replica:
        primary_app, _ = committed_sample_layers(databases)
        url = primary_app.config["SQLALCHEMY_DATABASE_URI"]
        headers = role_headers(primary_app, "replica", ("analyst",))["analyst"]
        with primary_app.app_context():
            db.engine.dispose()
        app = make_app(url, DATABASE_REPLICA_URI=replica.url_of(url),
                       REPLICA_MAX_LAG_S=MAX_LAG_S, REPLICA_WAIT_MS=WAIT_MS)
        dbname = url.rsplit("/", 1)[-1]
        replica.wait_for(dbname, "SELECT count(*) FROM api_tokens")
        try:
            yield app, replica, headers
        finally:
            with app.app_context():
                db.engine.dispose()
                app.extensions["borderrisk_replica"].engine.dispose()


def dbname(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[-1]


def read_until(client, url: str, headers: dict, source: str, timeout: float = NOTICE_S):
    """GET ``url`` until the answer was read from ``source`` (replica or primary)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        if response.headers[HEADER] == source:
            return response
        assert time.monotonic() < deadline, f"{url} never read from the {source}"
        time.sleep(0.1)


def create(client, headers: dict, external_id: str) -> int:
    response = client.post("/api/v1/incidents", json=incident(external_id=external_id),
                           headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    return response.get_json()["id"]


def test_writes_on_the_primary_appear_on_the_replica(replicated):
    app, replica, headers = replicated
    assert replica.ask("SELECT pg_is_in_recovery()") is True
    new_id = create(app.test_client(), headers, "REPL-1")
    assert replica.wait_for(dbname(app), f"SELECT external_id FROM incidents WHERE id = {new_id}"
                            ) == "REPL-1"


def test_reads_go_to_the_replica_and_writes_to_the_primary(replicated):
    app, replica, headers = replicated
    client = app.test_client()
    listed = read_until(client, "/api/v1/incidents", headers, "replica")
    assert listed.get_json()["features"]
    tile = read_until(client, f"/ogc/tiles/incidents/{Z}/{X}/{Y}.mvt", headers, "replica")
    assert tile.get_data()
    # The renderer's own connections (mapnik's, geo.db.map_engine) go to the replica too.
    image = read_until(client, "/ogc/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&STYLES="
                       "&LAYERS=regions,incidents&SRS=EPSG:4326&BBOX=44.5,41.0,45.8,41.8"
                       "&WIDTH=64&HEIGHT=64&FORMAT=image/png", headers, "replica")
    assert image.get_data().startswith(b"\x89PNG")
    created = client.post("/api/v1/incidents", json=incident(external_id="REPL-W"),
                          headers=headers)
    assert created.status_code == 201
    assert HEADER not in created.headers  # not a read: the primary, no choice made


def test_a_user_who_just_wrote_reads_the_write_from_the_replica(replicated):
    app, _, _ = replicated
    client = app.test_client()
    with app.app_context():
        create_user(db.session, "replica-writer", "analyst", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    assert login(client, "replica-writer").status_code == 302
    token = re.search(r'data-csrf-token="([^"]+)"', client.get("/").get_data(as_text=True)
                      ).group(1)
    for number in range(3):
        new_id = create(client, {"X-CSRFToken": token}, f"REPL-RYW-{number}")
        with client.session_transaction() as cookie:
            assert lsn(cookie[SESSION_KEY]) > 0  # the write's WAL position
        response = client.get(f"/api/v1/incidents/{new_id}")
        assert response.status_code == 200
        assert response.get_json()["properties"]["external_id"] == f"REPL-RYW-{number}"
        assert response.headers[HEADER] == "replica"


def test_a_lagging_replica_is_not_read_and_a_writer_reads_the_primary(replicated):
    app, replica, headers = replicated
    client = app.test_client()
    read_until(client, "/api/v1/incidents", headers, "replica")
    replica.ask("SELECT pg_wal_replay_pause()")
    try:
        new_id = create(client, headers, "REPL-LAG")
        url = f"/api/v1/incidents/{new_id}"
        # Past REPLICA_MAX_LAG_S the replica, which has not replayed the write, is left.
        response = read_until(client, url, headers, "primary")
        assert response.get_json()["properties"]["external_id"] == "REPL-LAG"
        assert replica.ask(f"SELECT count(*) FROM incidents WHERE id = {new_id}",
                           dbname(app)) == 0
    finally:
        replica.ask("SELECT pg_wal_replay_resume()")
    response = read_until(client, url, headers, "replica")
    assert response.get_json()["properties"]["external_id"] == "REPL-LAG"


def test_a_token_revoked_while_the_replica_lags_is_refused_at_once(replicated):
    app, replica, _ = replicated
    client = app.test_client()
    headers = role_headers(app, "replica-revoked", ("viewer",))["viewer"]
    digest = sha256_hex(headers["Authorization"].removeprefix("Bearer "))
    token_on_replica = f"SELECT revoked_at IS NULL FROM api_tokens WHERE token_sha256 = '{digest}'"
    replica.wait_for(dbname(app), token_on_replica)
    read_until(client, "/api/v1/incidents", headers, "replica")
    replica.ask("SELECT pg_wal_replay_pause()")
    try:
        with app.app_context():
            db.session.execute(text("UPDATE api_tokens SET revoked_at = now() "
                                    "WHERE token_sha256 = :digest"), {"digest": digest})
            db.session.commit()
            db.session.remove()
        # The replica still has the token unrevoked; authentication reads the primary.
        assert replica.ask(token_on_replica, dbname(app)) is True
        assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    finally:
        replica.ask("SELECT pg_wal_replay_resume()")


def test_the_lag_is_unreplayed_wal_waiting_not_an_idle_primary():
    """ReplicaState's arithmetic over given looks (monotonic seconds, WAL bytes)."""
    state = ReplicaState(max_lag_s=5.0)
    # Idle: the last replayed transaction is an hour old, but nothing is waiting.
    state.record(100.0, primary_lsn=500, in_recovery=True, replay_lsn=500,
                 replay_age_s=3600.0)
    assert state.usable and state.lag_s(100.0) == 0
    # A write on the primary, not replayed: the lag counts from when it was seen.
    state.record(101.0, primary_lsn=700, in_recovery=True, replay_lsn=500, replay_age_s=0)
    state.record(104.0, primary_lsn=900, in_recovery=True, replay_lsn=600, replay_age_s=0)
    assert state.lag_s(104.0) == 3.0 and state.usable
    state.record(107.0, primary_lsn=900, in_recovery=True, replay_lsn=650, replay_age_s=0)
    assert state.lag_s(107.0) == 6.0 and not state.usable
    state.record(108.0, primary_lsn=900, in_recovery=True, replay_lsn=900, replay_age_s=0)
    assert state.usable and state.lag_s(108.0) == 0
    # Behind at the first look: the last replayed transaction's age stands in.
    fresh = ReplicaState(max_lag_s=5.0)
    fresh.record(50.0, primary_lsn=10, in_recovery=True, replay_lsn=5, replay_age_s=30.0)
    assert fresh.lag_s(50.0) == 30.0 and not fresh.usable
    # A promoted replica (no longer in recovery) is not read.
    fresh.record(51.0, primary_lsn=10, in_recovery=False, replay_lsn=10, replay_age_s=None)
    assert not fresh.usable
    # Back after an outage and behind: as at a first look.
    fresh.unreachable(52.0)
    fresh.record(60.0, primary_lsn=20, in_recovery=True, replay_lsn=10, replay_age_s=600.0)
    assert fresh.lag_s(60.0) == 600.0 and not fresh.usable


def test_stopping_the_replica_under_load_gives_no_error(replicated):
    app, replica, headers = replicated
    urls = ["/api/v1/incidents", f"/ogc/tiles/incidents/{Z}/{X}/{Y}.mvt"]
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    with serving(app) as base:
        def load():
            with requests.Session() as browser:
                while not stop.is_set():
                    for url in urls:
                        response = browser.get(base + url, headers=headers, timeout=30)
                        answers.append((response.status_code, response.headers.get(HEADER)))

        threads = [threading.Thread(target=load) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + NOTICE_S
            while ("replica" not in {source for _, source in answers}
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            replica.stop()
            stopped_at = len(answers)
            while (len(answers) < stopped_at + 20 and time.monotonic() < deadline + NOTICE_S
                   and all(thread.is_alive() for thread in threads)):
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert {status for status, _ in answers} == {200}
    assert "replica" in {source for _, source in answers[:stopped_at]}
    assert {source for _, source in answers[stopped_at + 4:]} == {"primary"}
    assert len(answers) >= stopped_at + 20
