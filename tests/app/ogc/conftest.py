"""A live server for clients that speak HTTP themselves (OWSLib, GDAL, QGIS-like tools).

``live_server`` serves the app with werkzeug (threaded) on a free loopback port, on its
own throwaway database holding ``tests/data/sample_layers.geojson`` (committed, since
the server's connections cannot see a test's rolled-back transaction). Tests that write
to it must undo their writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.extensions import db
from tests.conftest import TEST_PASSWORD, committed_sample_layers, serving


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
    with serving(app) as url:
        yield LiveServer(url, token, {"Authorization": f"Bearer {token}"}, ids, app)
