"""Apps for tests and benchmarks: an app on a throwaway database, the sample layers
(``tests/data/sample_layers.geojson``, SYNTHETIC features), a live server, users'
bearer headers.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from testsupport.databases import owner_url

DATA_DIR = Path(__file__).resolve().parents[1] / "tests" / "data"
TEST_PASSWORD = "test-password-123"

# Uploads of the test apps go to a folder of the test run, never the checkout's
# instance/uploads (which `make run` gives to the web server's own user).
TEST_UPLOAD_DIR = Path(tempfile.mkdtemp(prefix="borderrisk-test-uploads-"))


def make_app(database_url: str, **settings):
    """The app on ``database_url`` (a throwaway database's, as the web app's role), with
    the owner's URL of that database for its migrations."""
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True,
                       "DATABASE_OWNER_URI": owner_url(database_url),
                       "UPLOAD_DIR": str(TEST_UPLOAD_DIR), **settings})


def load_sample_layers(session, analysis_srid: int) -> dict[str, dict[str, int]]:
    """Insert ``tests/data/sample_layers.geojson``; return ids by layer and code."""
    from geo.layers import LAYERS
    from geo.queries import derive_links, refresh_segment_lengths

    tables = {name: layer.table for name, layer in LAYERS.items()}
    features = json.loads((DATA_DIR / "sample_layers.geojson").read_text())["features"]
    ids: dict[str, dict[str, int]] = {layer: {} for layer in tables}
    for feature in features:
        props = dict(feature["properties"])
        layer = props.pop("layer")
        columns = list(props)
        statement = text(
            f"INSERT INTO {tables[layer]} ({', '.join(columns)}, geom) "
            f"VALUES ({', '.join(':' + c for c in columns)}, "
            "ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326)) RETURNING id"
        )
        new_id = session.execute(
            statement, {**props, "geometry": json.dumps(feature["geometry"])}
        ).scalar_one()
        ids[layer][props.get("code") or props.get("external_id")] = new_id
    refresh_segment_lengths(session, analysis_srid)
    derive_links(session, "regions", analysis_srid, [])  # regions of all, then incidents
    session.flush()
    return ids


def committed_sample_layers(databases):
    """An app on a new migrated database holding the sample layers, committed (for
    connections a test's rolled-back transaction cannot reach: mapnik's, a live
    server's); returns ``(app, ids by layer and code)``."""
    import flask_migrate

    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        ids = load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        db.session.commit()
        db.session.remove()
    return app, ids


@contextmanager
def serving(app, wrap=None) -> Iterator[str]:
    """``app`` served by werkzeug (threaded) on a free loopback port, for clients that
    speak HTTP themselves (GDAL, OWSLib, Chromium, QGIS): yields its base URL (no
    trailing slash); stops the server and empties the app's pool at the end. ``wrap``
    (a WSGI middleware, e.g. ``testsupport.qgis.RequestLog().wrap``) sees every request."""
    server = make_server("127.0.0.1", 0, wrap(app) if wrap else app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def committed_app(databases, prefix: str, role: str) -> Iterator[tuple]:
    """``(app, url, bearer headers)``: an app on a database of its own holding the sample
    layers, committed (for connections a test's rolled-back transaction cannot reach),
    and the headers of the user ``{prefix}-{role}``; the app's pool is emptied at the
    end."""
    app, _ = committed_sample_layers(databases)
    headers = role_headers(app, prefix, (role,))[role]
    try:
        yield app, app.config["SQLALCHEMY_DATABASE_URI"], headers
    finally:
        with app.app_context():
            db.engine.dispose()


def role_headers(app, prefix: str, roles=("analyst", "supervisor")) -> dict[str, dict]:
    """Bearer headers by role of the users ``{prefix}-{role}`` (created unless they exist),
    each with a new token, committed on the app's own database (``demo_app``'s)."""
    from app.auth.models import User
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    headers = {}
    with app.app_context():
        for role in roles:
            username = f"{prefix}-{role}"
            user = db.session.execute(
                db.select(User).filter_by(username=username)).scalar_one_or_none()
            if user is None:
                user = create_user(db.session, username, role, TEST_PASSWORD)
            _, token = create_token(db.session, user, "test")
            headers[role] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    return headers
