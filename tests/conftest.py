"""Fixtures: a throwaway PostGIS database per test session, a rollback per test.

The database is created on the server the app would use (``DATABASE_URL``, else the
embedded cluster that ``make test`` starts) under a fresh name, migrated with the
project's own Alembic revisions, and dropped at the end. It is never the database
that ``make run`` serves. Without a reachable PostGIS the suite fails; it never skips.
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import NullPool

from app.extensions import db
from testsupport.agencies import AGENCIES, load_four_agency_incidents
from testsupport.apps import (  # noqa: F401  (re-exported for the tests' imports)
    DATA_DIR,
    TEST_PASSWORD,
    TEST_UPLOAD_DIR,
    committed_app,
    committed_sample_layers,
    load_sample_layers,
    make_app,
    role_headers,
    serving,
)
from testsupport.databases import ThrowawayDatabases, server_url


@pytest.fixture(scope="session")
def databases():
    factory = ThrowawayDatabases(server_url())
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session", autouse=True)
def remove_test_upload_dir():
    yield
    shutil.rmtree(TEST_UPLOAD_DIR, ignore_errors=True)


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
    """Create a user with a role (and an agency, the Border Police by default);
    password ``TEST_PASSWORD``."""
    from app.auth.users import create_user

    def _make(role: str = "viewer", username: str | None = None, agency: str = "GBP"):
        return create_user(db_session, username or f"{role}-{uuid.uuid4().hex[:6]}", role,
                           TEST_PASSWORD, agency=agency)

    return _make


@pytest.fixture
def token_headers(db_session, make_user):
    """``Authorization`` headers with a fresh token for a new user of ``role``."""
    from app.auth.tokens import create_token

    def _headers(role: str = "viewer", agency: str = "GBP") -> dict:
        _, token = create_token(db_session, make_user(role, agency=agency), "test")
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


@pytest.fixture
def sample_layers(db_session, analysis_srid):
    return load_sample_layers(db_session, analysis_srid)


@pytest.fixture(scope="session")
def committed_sample(databases):
    """``(app, ids by layer and code)``: one database per run holding the sample layers,
    committed, shared by the tests that only read it through connections of their own
    (mapnik's, the bulletin's map, a fuzzing client). A test that writes data makes a
    database of its own (``committed_sample_layers``)."""
    app, ids = committed_sample_layers(databases)
    yield app, ids
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def four_agencies(db_session, sample_layers, analysis_srid):
    """Ids (by external id) of the four-agency fixture's incidents
    (``testsupport.agencies``), over the sample layers, rolled back after the test."""
    return load_four_agency_incidents(db_session, analysis_srid)


@pytest.fixture
def agency_headers(token_headers):
    """``{agency code: bearer headers}`` of a new user of ``role`` in each of the four
    agencies."""
    def _headers(role: str = "viewer") -> dict[str, dict]:
        return {agency: token_headers(role, agency) for agency in AGENCIES}

    return _headers


@pytest.fixture(scope="session")
def committed_four_agencies(databases):
    """``(app, ids by layer and code, incident ids by external id)``: one committed
    database per run with the sample layers and the four-agency incidents, for paths
    that read through connections of their own (mapnik, tiles, a live server)."""
    app, ids = committed_sample_layers(databases)
    with app.app_context():
        incident_ids = load_four_agency_incidents(db.session, app.config["ANALYSIS_SRID"])
        db.session.commit()
        db.session.remove()
    yield app, ids, incident_ids
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




@pytest.fixture
def freeze_clock():
    """``freeze_clock(moment)`` fixes the data clock (``geo.clock``) for the test; the
    clock is as it was afterwards."""
    from geo import clock

    before = clock.utc_now() if clock.is_frozen() else None
    yield clock.freeze
    clock.freeze(before)
