"""A streamed export cut by a database failure must not look complete.

``GET /api/v1/{layer}?f=csv`` (without ``limit``) streams the whole selection from a
server-side cursor; its 200 and first bytes are sent before the last row is read. When
the database fails mid-way, the transfer must end as an incomplete one (a chunked body
without its final chunk), which every HTTP client reports as an error, never as a
well-formed short file; the server logs the cause. An HTTP/1.0 client (no chunks) gets
the CSV whole with its Content-Length. A GeoPackage is written whole before its first
byte is sent, and a GeoJSON page is built whole, so a failure there is a 503.

Served by gunicorn (sync worker, as ``make run``) and by werkzeug's threaded server
(``flask run``) on a database of its own: the sample layers plus SYNTHETIC incidents
(copies of the sample ones), enough that the export spans many batches of
``geo.io.export.BATCH_ROWS`` rows and more MB than loopback's socket buffers hold.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from bench.servers import OUR_APP, OUR_GUNICORN, Server, free_port, gunicorn_command, our_app_env
from geo.io.export import BATCH_ROWS
from tests import pg
from tests.conftest import committed_sample_layers, make_app, role_headers, serving
from testsupport.databases import owner_url

SYNTHETIC_COPIES = 20_000  # of each of the 3 sample incidents: 60,000 rows, ~15 MB of CSV


def _insert_synthetic_incidents(url: str, copies: int) -> int:
    """Copy each sample incident ``copies`` times (SYNTHETIC rows, source
    ``synthetic-export-test``); returns the number of incidents afterwards."""
    conn = pg.connect(owner_url(url))  # ANALYZE: the owner's
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'incidents' AND column_name NOT IN "
                        "('id', 'source', 'external_id') AND is_generated = 'NEVER' "
                        "ORDER BY ordinal_position")
            columns = ", ".join(f'"{name}"' for (name,) in cur.fetchall())
            cur.execute(
                f"INSERT INTO incidents (source, external_id, {columns}) "  # noqa: S608  # catalogue names
                f"SELECT 'synthetic-export-test', 'SYN-' || i.id || '-' || g, {columns} "
                "FROM incidents AS i CROSS JOIN generate_series(1, %s) AS g", (copies,))
            cur.execute("ANALYZE incidents")
            cur.execute("SELECT count(*) FROM incidents")
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def served(databases, tmp_path_factory):
    """gunicorn serving an app on a committed database of its own; (server, url, total
    incidents)."""
    app, _ = committed_sample_layers(databases)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    total = _insert_synthetic_incidents(url, SYNTHETIC_COPIES)
    headers = role_headers(app, "export", ("analyst",))["analyst"]
    with app.app_context():
        db.engine.dispose()
    workdir = tmp_path_factory.mktemp("export_failure")
    server = Server("borderrisk", free_port(), "", headers)
    server.start(gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, 1, threads=1,
                                  timeout_s=120, chdir=Path(__file__).resolve().parents[3]),
                 our_app_env(url), workdir, "/healthz", content_type="application/json")
    yield server, url, total
    server.stop()


class _Http10Connection(http.client.HTTPConnection):
    """A client speaking HTTP/1.0: no chunked bodies (as nginx's default proxy)."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def _get(server: Server, path: str, version: str = "HTTP/1.1") -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET of ``path`` by a client of ``version``."""
    kind = _Http10Connection if version == "HTTP/1.0" else http.client.HTTPConnection
    conn = kind("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("GET", path, headers=server.headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _log(server: Server) -> str:
    return server.log.read_text(errors="replace")


def test_complete_csv_export_has_every_row(served):
    server, _, total = served
    status, headers, body = _get(server, "/api/v1/incidents?f=csv")
    assert status == 200
    assert headers["Transfer-Encoding"] == "chunked"
    assert body.count(b"\n") == total + 1  # header + one line per incident
    assert len(body) > 8_000_000  # more than loopback's socket buffers hold


_CUT_LOG = re.compile(r"export of incidents \(csv\) cut after \d+ bytes, the client gets "
                      r"an incomplete transfer: OperationalError: (terminating connection "
                      r"due to administrator command|server closed the connection)")


def _cut_csv_export(port: int, headers: dict, url: str, total: int) -> bytes:
    """Start a CSV export of the incidents, end the app's backends once a whole batch
    has arrived, and check that the client sees an incomplete transfer; the bytes it
    got."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/api/v1/incidents?f=csv", headers=headers)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    received = bytearray()
    while received.count(b"\n") <= BATCH_ROWS:  # a whole batch: the cursor is open
        received += response.read(1 << 16)
    assert received.startswith(b"id,")
    # The server is reading further batches from its cursor; end its backend.
    assert pg.terminate_backends(url) >= 1
    with pytest.raises(http.client.IncompleteRead) as cut:
        while chunk := response.read(1 << 16):
            received += chunk
        response.read()  # the end of a chunked body: its final chunk must be there
    conn.close()
    received += cut.value.partial
    assert BATCH_ROWS < received.count(b"\n") < total + 1
    return bytes(received)


def test_csv_export_cut_by_a_terminated_backend_is_an_incomplete_transfer(served):
    server, url, total = served
    _cut_csv_export(server.port, server.headers, url, total)
    log = _log(server)
    assert _CUT_LOG.search(log), log[-3000:]
    # The app serves the next request on a new connection.
    status, _, body = server.get("/api/v1/incidents?limit=1")
    assert status == 200, body[:300]


def test_csv_export_cut_on_werkzeugs_server_is_an_incomplete_transfer(served, caplog):
    # `flask run` (threaded): werkzeug's server stops without the final chunk too.
    server, url, total = served
    with serving(make_app(url)) as local:
        _cut_csv_export(urlsplit(local).port, server.headers, url, total)
    assert _CUT_LOG.search(caplog.text), caplog.text[-3000:]


def test_http10_client_gets_the_csv_whole_with_its_length(served):
    # Without chunks, a cut body would end like a complete one: so it is sent whole.
    server, _, total = served
    status, headers, body = _get(server, "/api/v1/incidents?f=csv", "HTTP/1.0")
    assert status == 200
    assert "Transfer-Encoding" not in headers
    assert int(headers["Content-Length"]) == len(body)
    assert body.count(b"\n") == total + 1
    assert headers["Content-Disposition"] == 'attachment; filename="incidents.csv"'


def _blocked(url: str, table: str):
    """A connection holding an ACCESS EXCLUSIVE lock on ``table`` (queries wait)."""
    conn = pg.connect(url, autocommit=False)
    with conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # noqa: S608  # fixed
    return conn


@pytest.mark.parametrize(("path", "version"), [
    ("/api/v1/incidents?f=gpkg", "HTTP/1.1"),
    ("/api/v1/incidents?f=geojson&limit=10000", "HTTP/1.1"),
    ("/api/v1/incidents?f=csv", "HTTP/1.0"),
])
def test_failure_before_the_first_byte_is_a_503(served, path, version):
    # The app's query waits for a lock held here; its backend is ended meanwhile.
    server, url, _ = served
    lock = _blocked(url, "incidents")
    answers = []
    thread = threading.Thread(target=lambda: answers.append(_get(server, path, version)))
    thread.start()
    try:
        pid = pg.wait_for_backend(url, "wait_event_type = 'Lock'", what="waiting for a lock",
                                  interval_s=0.02)
        assert pg.scalar(url, "SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        lock.rollback()
        lock.close()
    thread.join(120)
    status, headers, body = answers[0]
    assert status == 503, body[:300]
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Content-Length"]) == len(body)
    assert "unavailable" in json.loads(body)["detail"]


def test_geopackage_is_sent_with_its_length_and_head_leaks_no_file(client, sample_layers,
                                                                     analyst):
    # The file is open (unlinked) until the response ends: a HEAD must close it too
    # (an unclosed file is a ResourceWarning, an error in this suite).
    head = client.head("/api/v1/incidents?f=gpkg", headers=analyst)
    assert head.status_code == 200
    head.close()
    got = client.get("/api/v1/incidents?f=gpkg", headers=analyst)
    assert got.status_code == 200
    assert got.data.startswith(b"SQLite format 3\x00")
    assert int(got.headers["Content-Length"]) == len(got.data)
    assert got.headers["Content-Disposition"] == 'attachment; filename="incidents.gpkg"'
