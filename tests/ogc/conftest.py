"""A live server for clients that speak HTTP themselves (OWSLib, GDAL, QGIS-like tools).

``live_server`` serves the app with werkzeug (threaded) on a free loopback port, on its
own throwaway database holding ``tests/data/sample_layers.geojson`` (committed, since
the server's connections cannot see a test's rolled-back transaction). Tests that write
to it must undo their writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from tests.conftest import TEST_PASSWORD, committed_sample_layers


@dataclass
class LiveServer:
    """``url`` (no trailing slash), an analyst's bearer ``token`` and its ``headers``,
    the sample ``ids`` by layer and code, and the ``app`` (for direct database work in
    ``app.app_context()``)."""

    url: str
    token: str
    headers: dict
    ids: dict
    app: object


@pytest.fixture(scope="session")
def live_server(databases):
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    app, ids = committed_sample_layers(databases)
    with app.app_context():
        user = create_user(db.session, "gis-client", "analyst", TEST_PASSWORD)
        _, token = create_token(db.session, user, "live server")
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", token,
                         {"Authorization": f"Bearer {token}"}, ids, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
