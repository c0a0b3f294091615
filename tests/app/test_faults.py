"""Database faults: a read-only database, a database that goes away and comes back,
a backend terminated mid-write, an import killed with SIGKILL, and WMS maps after every
connection was ended (mapnik's own pooled ones too, ``geo/maps/render.py``).

Each answers 503 with ``Retry-After`` (never a 500 or a hang), writes nothing half-way,
and the next request after the database is back succeeds with no restart
(``app/errors.py``, the engine options in ``config.py``). All on real PostGIS
databases of their own; the large import files are synthetic.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess  # noqa: S404  # the flask CLI, fixed arguments
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import mapnik
import numpy as np
import pytest
from PIL import Image
from psycopg2 import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db
from geo.db import map_engine, mapnik_parameters
from geo.maps import overlays, palette, render
from geo.vocabulary import INCIDENT_CATEGORIES
from tests import pg
from tests.conftest import (
    DATA_DIR,
    TEST_PASSWORD,
    committed_app,
    make_app,
)
from testsupport.databases import owner_url

FLASK = Path(sys.executable).parent / "flask"
PROJECT_DIR = Path(__file__).resolve().parents[2]
WMS_GETMAP = ("/ogc/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=regions&STYLES="
              "&CRS=EPSG:4326&BBOX=41.2,44.8,41.6,45.6&WIDTH=256&HEIGHT=256&FORMAT=image/png")
# The sample regions (tests/data/sample_layers.geojson) cover this box (degrees).
SAMPLE_BOX = (44.85, 41.25, 45.55, 41.55)
# The sample sections, plain, 400x250 pixels over AREA (lon/lat).
AREA = (44.85, 41.15, 45.65, 41.65)
WMS_SEGMENTS = ("/ogc/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=border_segments"
                "&STYLES=plain&CRS=CRS:84&BBOX=" + ",".join(map(str, AREA))
                + "&WIDTH=400&HEIGHT=250&FORMAT=image/png")


# ----------------------------------------------------------------- helpers


class DatabaseGate:
    """A TCP relay on a loopback port in front of the PostgreSQL server: ``close()``
    drops every relayed connection and refuses new ones (the database "goes away" for
    whoever connects through the gate); ``open()`` lets connections through again."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            try:  # wakes the accepting thread (a bare close() would leave it listening)
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                for sock in (a, b):
                    self._sockets.discard(sock)
                    sock.close()


def _counts(url: str) -> dict[str, int]:
    conn = pg.connect(url)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in ("incidents", "audit_log"):
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def _mapnik_backends(url: str) -> int:
    """How many connections of mapnik's postgis plugin (its libpq application name)
    the database has."""
    return pg.scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND application_name = 'mapnik'")


def _segment_drawn(body: bytes) -> bool:
    """Whether a WMS_SEGMENTS image has the plain segment colour at vertex (45.05, 41.3)
    of T-AZ-001."""
    data = np.asarray(Image.open(BytesIO(body)).convert("RGB")).astype(int)
    row = int((AREA[3] - 41.3) / (AREA[3] - AREA[1]) * 250)
    col = int((45.05 - AREA[0]) / (AREA[2] - AREA[0]) * 400)
    window = data[row - 1:row + 2, col - 1:col + 2]
    colour = overlays.hex_rgb(palette.SEGMENT_PLAIN_COLOUR)
    return bool((np.abs(window - colour).max(axis=2) <= 12).any())


def _incident_feature(ref: str) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
            "properties": {"external_id": ref, "source": "fault-test",
                           "occurred_at": "2026-09-01T10:00:00Z",
                           "category": "illegal_crossing_between_bcp", "persons_count": 2}}


def _assert_503(response, kind: str) -> str:
    """The response is a 503 of the expected ``kind`` with Retry-After; its text."""
    assert response.status_code == 503, response.data[:500]
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    if kind == "problem":
        assert response.mimetype == "application/problem+json"
        payload = response.get_json(force=True)
        assert payload["status"] == 503
        return payload["detail"]
    if kind == "ogcapi":
        assert response.mimetype == "application/json"
        payload = response.get_json()
        assert payload["code"] == "ServiceUnavailable"
        return payload["description"]
    if kind == "wms":
        assert response.mimetype == "text/xml"
        assert "<ServiceException>" in body and "ServiceExceptionReport" in body
        return body
    assert kind == "page"
    assert response.mimetype == "text/html"
    assert "Service unavailable" in body and "Traceback" not in body
    return body


def write_synthetic_incidents(path: Path, rows: int, seed: int = 8) -> None:
    """``rows`` SYNTHETIC incidents as CSV (``ref,date,type,persons,lon,lat``) inside
    the sample regions."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(SAMPLE_BOX[0], SAMPLE_BOX[2], rows)
    lat = rng.uniform(SAMPLE_BOX[1], SAMPLE_BOX[3], rows)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    minutes = rng.integers(0, 2 * 365 * 24 * 60, rows)
    categories = rng.choice(list(INCIDENT_CATEGORIES), rows)
    persons = rng.integers(0, 12, rows)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["ref", "date", "type", "persons", "lon", "lat", "notes"])
        for i in range(rows):
            when = (start + timedelta(minutes=int(minutes[i]))).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([f"SYN-{i}", when, categories[i], int(persons[i]),
                             f"{lon[i]:.6f}", f"{lat[i]:.6f}", "SYNTHETIC fault-test row"])


def _wait_for_insert(url: str, process=None) -> int:
    """Pid of the backend running the import's ``INSERT INTO incidents`` (polled every
    10 ms, at most 600 s); fails early when ``process`` (the import) has ended."""
    def ended():
        if process is not None and process.poll() is not None:
            return (f"the import ended (exit {process.returncode}) before its write "
                    f"started: {process.stderr.read()[-2000:]}")
        return None

    return pg.wait_for_backend(url, "state = 'active' AND query LIKE %s",
                               ("INSERT INTO incidents%",), what="writing incidents",
                               wait_s=600, give_up=ended)


def _wait_until_gone(url: str, pid: int, wait_s: float = 600) -> None:
    """Wait until backend ``pid`` has ended (and so rolled back what it held)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not pg.scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)):
            return
        time.sleep(0.05)
    pytest.fail(f"backend {pid} still running after {wait_s} s")


@contextmanager
def gated_app(url: str):
    """An app whose database connections pass through a ``DatabaseGate`` (opened);
    yields (app, gate); closes the gate and the app's pool afterwards."""
    server = make_url(url)
    gate = DatabaseGate(server.host, server.port)
    gate.open()
    gated = make_app(server.set(host="127.0.0.1", port=gate.port).render_as_string(
        hide_password=False))
    try:
        yield gated, gate
    finally:
        gate.close()
        with gated.app_context():
            db.engine.dispose()


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def committed(databases):
    """(app, url, the bearer headers of fault-analyst): the sample layers, committed (the tests
    need connections of their own)."""
    with committed_app(databases, "fault", "analyst") as found:
        yield found


# ----------------------------------------------------------------- read-only


def test_read_only_database_refuses_writes_with_503_and_writes_nothing(committed):
    app, url, headers = committed
    database = make_url(url).database
    client = app.test_client()
    # Used once while writable: the token's last use is recorded now, so the reads
    # below need no write of their own.
    assert client.get("/api/v1/incidents?limit=1", headers=headers).status_code == 200
    with app.app_context():
        from app.auth.models import User
        from app.auth.tokens import create_token

        user = db.session.execute(db.select(User).filter_by(username="fault-analyst")).scalar_one()
        _, unused = create_token(db.session, user, "never used")
        db.session.commit()
        db.session.remove()
    before = _counts(url)
    admin = pg.connect(owner_url(url))  # ALTER DATABASE: the owner's
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on")
                        .format(sql.Identifier(database)))
        with app.app_context():
            db.engine.dispose()  # the setting applies to new connections
        assert client.get("/api/v1/incidents?limit=1", headers=headers).status_code == 200
        # A token's first use cannot be recorded now; the read is served all the same.
        first_use = client.get("/api/v1/incidents?limit=1",
                               headers={"Authorization": f"Bearer {unused}"})
        assert first_use.status_code == 200, first_use.get_data(as_text=True)

        created = client.post("/api/v1/incidents", headers=headers,
                              json=_incident_feature("RO-1"))
        assert "read-only" in _assert_503(created, "problem")

        with open(DATA_DIR / "incidents_small.csv", "rb") as stream:
            imported = client.post("/api/v1/import/incidents", headers=headers,
                                   data={"file": (stream, "incidents_small.csv")},
                                   content_type="multipart/form-data")
        detail = _assert_503(imported, "problem")
        assert "read-only" in detail and "nothing was written" in detail
    finally:
        with admin.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")
            cur.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only")
                        .format(sql.Identifier(database)))
        admin.close()
        with app.app_context():
            db.engine.dispose()
    assert _counts(url) == before

    # Writable again: the same write now succeeds, with no restart.
    created = client.post("/api/v1/incidents", headers=headers, json=_incident_feature("RO-1"))
    assert created.status_code == 201, created.get_json()
    assert _counts(url)["incidents"] == before["incidents"] + 1


# ----------------------------------------------------------------- database gone


def test_database_gone_answers_503_everywhere_then_recovers_on_the_next_request(committed):
    _, url, headers = committed
    with gated_app(url) as (gated, gate):
        client = gated.test_client()
        assert client.get("/api/v1/incidents?limit=1", headers=headers).status_code == 200
        assert client.get("/healthz").status_code == 200
        before = _counts(url)

        gate.close()  # every pooled connection is cut; new ones are refused
        assert "unavailable" in _assert_503(
            client.get("/api/v1/incidents?limit=1", headers=headers), "problem")
        _assert_503(client.post("/api/v1/incidents", headers=headers,
                                json=_incident_feature("GONE-1")), "problem")
        _assert_503(client.get(WMS_GETMAP, headers=headers), "wms")
        _assert_503(client.get("/ogc/tiles/incidents/10/637/379.mvt", headers=headers),
                    "ogcapi")
        _assert_503(client.get("/ogc/features/collections/incidents/items",
                               headers=headers), "ogcapi")
        health = client.get("/healthz")
        assert health.status_code == 503 and health.headers["Retry-After"] == "5"
        assert health.get_json()["database"] == "error"

        gate.open()
        listed = client.get("/api/v1/incidents?limit=1", headers=headers)
        assert listed.status_code == 200, listed.get_json()
        assert client.get("/healthz").get_json()["database"] == "ok"
        assert _counts(url) == before


def test_database_gone_after_the_last_query_keeps_the_answer(committed):
    # The response is made; then the database goes away before the request's session is
    # closed (its rollback fails): the client still gets its answer, not a 500.
    _, url, headers = committed
    with gated_app(url) as (gated, gate):

        @gated.after_request
        def database_goes_away(response):
            gate.close()
            return response

        listed = gated.test_client().get("/api/v1/incidents?limit=1", headers=headers)
        assert listed.status_code == 200
        assert listed.get_json()["numberReturned"] == 1
        gate.open()
        assert gated.test_client().get("/healthz").status_code == 200


def test_browser_page_is_a_plain_503_page_when_the_database_is_gone(committed):
    _, url, _ = committed
    with gated_app(url) as (gated, gate):
        client = gated.test_client()
        form = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        signed_in = client.post("/login", data={"username": "fault-analyst",
                                                "password": TEST_PASSWORD,
                                                "csrf_token": csrf})
        assert signed_in.status_code in (302, 303), signed_in.data[:300]
        assert client.get("/").status_code == 200
        gate.close()
        page = _assert_503(client.get("/"), "page")
        assert "database is unavailable" in page
        gate.open()
        assert client.get("/").status_code == 200


def test_terminated_connections_are_replaced_on_the_next_request(committed):
    app, url, headers = committed
    client = app.test_client()
    assert client.get("/api/v1/incidents?limit=1", headers=headers).status_code == 200
    # The app's pooled connections are ended (and gone: an ended backend that has not
    # yet closed its socket cannot be noticed at checkout).
    assert pg.terminate_backends(url) >= 1
    listed = client.get("/api/v1/incidents?limit=1", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    assert client.get("/healthz").status_code == 200


def test_first_wms_map_after_every_connection_ended_is_drawn(committed):
    # mapnik's postgis plugin pools connections of its own (geo/maps/render.py): ended by a
    # restart, the first query on one fails; the map is drawn once more on a new one.
    app, url, headers = committed
    client = app.test_client()
    first = client.get(WMS_SEGMENTS, headers=headers)
    assert first.status_code == 200 and _segment_drawn(first.data)
    assert _mapnik_backends(url) >= 1
    for _ in range(2):  # and again after the next restart
        assert pg.terminate_backends(url) >= 1
        again = client.get(WMS_SEGMENTS, headers=headers)
        assert again.status_code == 200, again.get_data(as_text=True)[:500]
        assert again.mimetype == "image/png" and _segment_drawn(again.data)
    assert client.get(WMS_SEGMENTS, headers=headers).status_code == 200


def test_renderers_own_connections_are_replaced_after_they_were_ended(committed):
    # The renderer's SQLAlchemy engine (region lookups, incident points, hot-spots:
    # geo/maps/render.py _engine) checks its pooled connections at checkout (geo.db).
    app, url, headers = committed
    client = app.test_client()
    in_region = WMS_SEGMENTS + "&REGION=T-KK"
    assert client.get(in_region, headers=headers).status_code == 200
    with map_engine(url).connect() as connection:  # the pooled one the map used
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert pg.terminate_backends(url) >= 1
    answer = client.get(in_region, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == "image/png"
    with map_engine(url).connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_wms_map_after_several_pooled_mapnik_connections_ended_is_drawn(committed):
    # Concurrent maps leave several connections in mapnik's pool of a process (here:
    # open featuresets of a cursor datasource of the renderer's pool, one connection
    # each); all are ended, and still one drawing more suffices.
    app, url, headers = committed
    client = app.test_client()
    assert client.get(WMS_SEGMENTS, headers=headers).status_code == 200
    datasource = mapnik.Datasource(**dict(
        mapnik_parameters(url), table="(SELECT id, geom FROM regions) AS t",
        geometry_field="geom", srid="4326", extent="-180,-90,180,90", cursor_size="10"))
    held = [datasource.features(mapnik.Query(mapnik.Box2d(*AREA))) for _ in range(3)]
    assert _mapnik_backends(url) >= 3
    del held  # back in the pool, idle
    assert pg.terminate_backends(url) >= 3
    answer = client.get(WMS_SEGMENTS, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert _segment_drawn(answer.data)


@pytest.mark.parametrize(("message", "lost"), [
    ("Postgis Plugin: FATAL:  terminating connection due to administrator command\n"
     "server closed the connection unexpectedly\n\tThis probably means the server "
     "terminated abnormally\n\tbefore or while processing the request.\n"
     "in executeQuery Full sql was: 'SELECT 1'\n", True),
    ("Postgis Plugin: no connection to the server\n\nin executeQuery Full sql was: "
     "'SELECT 1'\n", True),
    # A database that is down: a new connection fails, drawing again cannot help.
    ("Postgis Plugin: connection to server at \"127.0.0.1\", port 1 failed: Connection "
     "refused\n\tIs the server running on that host and accepting TCP/IP connections?\n"
     "\nConnection string: 'host=127.0.0.1 port=1'\n", False),
    ("Postgis Plugin: FATAL:  the database system is starting up\n", False),
    ("Postgis Plugin: Null connection", False),
    # Only libpq's words count, not the SQL that mapnik quotes after them.
    ("Postgis Plugin: ERROR:  syntax error\nin executeQuery Full sql was: "
     "'SELECT 'server closed the connection unexpectedly''\n", False),
])
def test_mapnik_lost_connection_is_recognised_by_libpq_words(message, lost):
    assert render.lost_connection(RuntimeError(message)) is lost
    assert not render.lost_connection(ValueError("terminating connection"))


@pytest.mark.slow
def test_backend_terminated_mid_import_answers_503_and_writes_nothing(committed, tmp_path):
    app, url, headers = committed
    path = tmp_path / "terminated.csv"
    write_synthetic_incidents(path, 60_000, seed=57)
    before = _counts(url)
    responses = []

    # Encoded here, in memory: the test client would spool a body this large to a
    # temporary file that it never closes.
    boundary, body = encode_multipart(MultiDict({
        "file": FileStorage(BytesIO(path.read_bytes()), "terminated.csv"),
        "source": "terminated"}))

    def post_import():
        responses.append(app.test_client().post(
            "/api/v1/import/incidents", headers=headers, data=body,
            content_type=f"multipart/form-data; boundary={boundary}"))

    thread = threading.Thread(target=post_import)
    thread.start()
    pid = _wait_for_insert(url)
    assert pg.scalar(url, "SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(600)
    assert not thread.is_alive()
    detail = _assert_503(responses[0], "problem")
    assert "unavailable" in detail
    assert _counts(url) == before
    assert pg.scalar(url, "SELECT count(*) FROM incidents WHERE source = 'terminated'") == 0


# ----------------------------------------------------------------- SIGKILL mid-import

IMPORT_ROWS = 60_000


@pytest.fixture(scope="module")
def killed_then_rerun(committed, tmp_path_factory):
    """``flask import`` of IMPORT_ROWS synthetic incidents killed with SIGKILL while its
    write runs, then run again to the end; what the database held after each."""
    _, url, _ = committed
    path = tmp_path_factory.mktemp("sigkill") / "sigkill.csv"
    write_synthetic_incidents(path, IMPORT_ROWS, seed=9)
    env = {**os.environ, "DATABASE_URL": url, "BORDERRISK_ENV": "development"}
    command = [str(FLASK), "--app", "app", "import", str(path), "--layer", "incidents",
               "--source", "sigkill"]

    def state() -> dict:
        return {
            "rows": pg.scalar(url, "SELECT count(*) FROM incidents WHERE source = 'sigkill'"),
            "distinct": pg.scalar(url, "SELECT count(DISTINCT external_id) FROM incidents "
                                     "WHERE source = 'sigkill'"),
            "imports": pg.scalar(url, "SELECT count(*) FROM audit_log WHERE action = 'import' "
                                    "AND detail->>'source' = 'sigkill'"),
            "audit": pg.scalar(url, "SELECT detail::text FROM audit_log WHERE action = 'import' "
                                  "AND detail->>'source' = 'sigkill' ORDER BY id DESC LIMIT 1"),
        }

    process = subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.PIPE, text=True)
    try:
        # Killed while the INSERT into incidents runs: rows are being written, the
        # commit has not been sent.
        pid = _wait_for_insert(url, process)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)  # reaps it and closes its pipes
    # The server notices the lost client when the statement ends, and rolls it back.
    _wait_until_gone(url, pid)
    after_kill = state()
    rerun = subprocess.run(command, env=env, cwd=PROJECT_DIR, capture_output=True,  # noqa: S603
                           text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:] + rerun.stdout[-3000:]
    return {"killed_with": process.returncode, "after_kill": after_kill,
            "after_rerun": state(), "output": rerun.stdout,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


@pytest.mark.slow
def test_sigkill_mid_import_writes_nothing_and_the_rerun_writes_everything_once(
        killed_then_rerun):
    assert killed_then_rerun["killed_with"] == -signal.SIGKILL
    assert killed_then_rerun["after_kill"]["rows"] == 0
    after = killed_then_rerun["after_rerun"]
    assert after["rows"] == IMPORT_ROWS
    assert after["distinct"] == IMPORT_ROWS
    assert f"{IMPORT_ROWS} inserted" in killed_then_rerun["output"]


@pytest.mark.slow
def test_sigkill_mid_import_audit_trail_has_no_record_then_exactly_one(killed_then_rerun):
    assert killed_then_rerun["after_kill"]["imports"] == 0
    after = killed_then_rerun["after_rerun"]
    assert after["imports"] == 1
    detail = json.loads(after["audit"])
    assert detail["sha256"] == killed_then_rerun["sha256"]
    assert detail["inserted"] == IMPORT_ROWS and detail["rows"] == IMPORT_ROWS
