"""Fixtures: a throwaway PostGIS database per test session, a rollback per test.

The database is created on the server the app would use (``DATABASE_URL``, else the
embedded cluster that ``make test`` starts) under a fresh name, migrated with the
project's own Alembic revisions, and dropped at the end. It is never the database
that ``make run`` serves. Without a reachable PostGIS the suite fails; it never skips.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import NullPool
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.databases import ThrowawayDatabases, owner_url, server_url

DATA_DIR = Path(__file__).parent / "data"
TEST_PASSWORD = "test-password-123"


@pytest.fixture(scope="session")
def databases():
    factory = ThrowawayDatabases(server_url())
    yield factory
    factory.drop_all()


# Uploads of the test apps go to a folder of the test run, never the checkout's
# instance/uploads (which `make run` gives to the web server's own user).
TEST_UPLOAD_DIR = Path(tempfile.mkdtemp(prefix="borderrisk-test-uploads-"))


@pytest.fixture(scope="session", autouse=True)
def remove_test_upload_dir():
    yield
    shutil.rmtree(TEST_UPLOAD_DIR, ignore_errors=True)


def make_app(database_url: str, **settings):
    """The app on ``database_url`` (a throwaway database's, as the web app's role), with
    the owner's URL of that database for its migrations."""
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True,
                       "DATABASE_OWNER_URI": owner_url(database_url),
                       "UPLOAD_DIR": str(TEST_UPLOAD_DIR), **settings})


@pytest.fixture(scope="session")
def app(databases):
    """The app on a migrated throwaway database (session-scoped)."""
    import flask_migrate

    application = make_app(databases.create())
    with application.app_context():
        flask_migrate.upgrade()
        version = db.session.execute(text("SELECT postgis_lib_version()")).scalar_one()
        assert version.startswith("3.")
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app):
    """A session inside an outer transaction that is rolled back after the test.

    The app's ``db.session`` is bound to the same connection, so requests made with
    ``client`` see and undo the same data (commits become savepoint releases).
    """
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@contextmanager
def owner_connection(app):
    """A connection to ``app``'s database as the schema's owner (app/db_roles.py), in a
    transaction rolled back at the end; a lock it waits for fails it after 10 s."""
    engine = create_engine(app.config["DATABASE_OWNER_URI"], poolclass=NullPool)
    connection = engine.connect()
    transaction = connection.begin()
    try:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        yield connection
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


@pytest.fixture
def owner_session(app):
    """A session as the owner of the test database, rolled back after the test (what an
    administrator, not the app, could do beside it)."""
    with owner_connection(app) as connection:
        yield Session(bind=connection)


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def analysis_srid(app) -> int:
    return app.config["ANALYSIS_SRID"]


@pytest.fixture
def make_user(db_session):
    """Create a user with a role; password ``TEST_PASSWORD``."""
    from app.auth.users import create_user

    def _make(role: str = "viewer", username: str | None = None):
        return create_user(db_session, username or f"{role}-{uuid.uuid4().hex[:6]}", role,
                           TEST_PASSWORD)

    return _make


@pytest.fixture
def token_headers(db_session, make_user):
    """``Authorization`` headers with a fresh token for a new user of ``role``."""
    from app.auth.tokens import create_token

    def _headers(role: str = "viewer") -> dict:
        _, token = create_token(db_session, make_user(role), "test")
        return {"Authorization": f"Bearer {token}"}

    return _headers


@pytest.fixture
def analyst(token_headers):
    """Bearer headers of a new analyst (writes incidents, imports them)."""
    return token_headers("analyst")


@pytest.fixture
def supervisor(token_headers):
    """Bearer headers of a new supervisor (writes the reference layers, validates)."""
    return token_headers("supervisor")


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


@pytest.fixture
def sample_layers(db_session, analysis_srid):
    return load_sample_layers(db_session, analysis_srid)


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
def serving(app) -> Iterator[str]:
    """``app`` served by werkzeug (threaded) on a free loopback port, for clients that
    speak HTTP themselves (GDAL, OWSLib, Chromium): yields its base URL (no trailing
    slash); stops the server and empties the app's pool at the end."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
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


DEMO_END = datetime(2026, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_app(databases):
    """An app on its own database holding a 20,000-incident demo ending ``DEMO_END``
    (committed), a viewer's bearer headers and the planted hot-spots."""
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from geo.demo.loader import load_demo

    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=20_000, end=DEMO_END)
        user = create_user(db.session, "planner", "viewer", TEST_PASSWORD)
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        planted = db.session.execute(text(
            "SELECT code, kind, radius_m, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM synthetic_hotspots ORDER BY code")).all()
        db.session.remove()
    yield app, {"Authorization": f"Bearer {token}"}, planted
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
