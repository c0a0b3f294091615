"""Alembic revisions: an empty database goes up to the models and back down to nothing."""

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import inspect, text

from app.extensions import db
from tests.conftest import make_app

APP_TABLES = {
    "regions", "border_segments", "crossing_points", "incidents", "synthetic_hotspots",
    "users", "api_tokens", "data_versions", "risk_assessments", "risk_section_results",
    "risk_level_decisions", "user_regions", "user_sessions", "login_attempts", "audit_log",
    "import_jobs", "agencies", "events", "events_horizon", "notifications",
    "schedules", "bulletins", "section_alerts", "alert_cursor", "inbox_cursor",
    "subscriptions", "webhook_deliveries", "analysis_results",
}


def _tables():
    return set(inspect(db.engine).get_table_names()) - {"spatial_ref_sys"}


def test_upgrade_downgrade_upgrade(databases):
    scratch = make_app(databases.create())
    with scratch.app_context():
        assert _tables() == set()
        flask_migrate.upgrade()
        assert _tables() == APP_TABLES | {"alembic_version"}

        # The migrated schema is exactly what the models describe.
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_object": alembic_helpers.include_object,
                      "compare_type": True},
            )
            assert compare_metadata(context, db.metadata) == []

        flask_migrate.downgrade(revision="base")
        assert _tables() <= {"alembic_version"}
        with db.engine.connect() as connection:
            # PostGIS stays installed for whatever else uses the database.
            assert connection.execute(text("SELECT postgis_lib_version()")).scalar()

        flask_migrate.upgrade()
        assert _tables() == APP_TABLES | {"alembic_version"}
        db.engine.dispose()


def test_geometry_columns_are_typed_with_srid_4326(db_session):
    rows = db_session.execute(
        text("SELECT f_table_name, type, srid FROM geometry_columns ORDER BY f_table_name")
    ).all()
    assert {(r.f_table_name, r.type, r.srid) for r in rows} == {
        ("border_segments", "LINESTRING", 4326),
        ("crossing_points", "POINT", 4326),
        ("incidents", "POINT", 4326),
        ("regions", "MULTIPOLYGON", 4326),
        ("synthetic_hotspots", "POINT", 4326),
    }


def test_spatial_and_filter_indexes_exist(db_session):
    indexes = db_session.execute(
        text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    ).all()
    defs = [(t, d) for t, d in indexes]
    for table in ("regions", "border_segments", "crossing_points", "incidents"):
        assert any(t == table and "USING gist (geom)" in d for t, d in defs), table
    incident_defs = [d for t, d in defs if t == "incidents"]
    assert any("(occurred_at)" in d for d in incident_defs)
    assert any("(category, occurred_at)" in d for d in incident_defs)


def test_every_write_bumps_the_data_version(db_session, sample_layers):
    def version():
        return db_session.execute(text(
            "SELECT version FROM data_versions WHERE table_name = 'incidents'")).scalar_one()

    before = version()
    db_session.execute(text("UPDATE incidents SET persons_count = persons_count + 1"))
    assert version() == before + 1
    db_session.execute(text("DELETE FROM incidents WHERE external_id = 'T-3'"))
    assert version() == before + 2
    db_session.execute(text("SELECT count(*) FROM incidents"))
    assert version() == before + 2


def test_risk_records_cannot_be_changed_or_deleted(db_session, make_user, sample_layers):
    from sqlalchemy.exc import DBAPIError

    user = make_user("analyst")
    assessment_id = db_session.execute(text(
        "INSERT INTO risk_assessments (period_start, period_end, config_sha256, config_text, "
        "inputs, summary, created_by) VALUES ('2026-01-01', '2026-02-01', :sha, 'x', '{}', "
        "'{}', :user) RETURNING id"), {"sha": "0" * 64, "user": user.id}).scalar_one()
    for statement in ("UPDATE risk_assessments SET config_text = 'changed' WHERE id = :id",
                      "DELETE FROM risk_assessments WHERE id = :id"):
        with pytest.raises(DBAPIError, match="are records and cannot be changed or deleted"), \
                db_session.begin_nested():
            db_session.execute(text(statement), {"id": assessment_id})


def test_agencies_migration_gives_existing_data_to_the_border_police(databases):
    """Existing users and incidents become the Border Police's, released to all and
    counted; the downgrade refuses while a record is not released to all."""
    scratch = make_app(databases.create())
    with scratch.app_context():
        flask_migrate.upgrade(revision="c4d8e2a91b37")
        db.session.execute(text(
            "INSERT INTO users (username, password_hash, role, active, failed_logins, "
            "all_regions) VALUES ('old', 'x', 'analyst', true, 0, true)"))
        db.session.execute(text(
            "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
            "persons_count, source_reliability, information_credibility, status, geom) "
            "VALUES ('old', 'O-1', now(), 'other', 'actual', 1, 'X', 4, 'draft', "
            "ST_SetSRID(ST_MakePoint(45, 41.5), 4326))"))
        db.session.commit()
        flask_migrate.upgrade()
        assert db.session.execute(text("SELECT agency FROM users")).scalar_one() == "GBP"
        assert db.session.execute(text(
            "SELECT agency, reporting_unit, releasability, aggregate FROM incidents"
        )).one() == ("GBP", None, "all", True)
        assert db.session.execute(text(
            "SELECT code FROM agencies ORDER BY code")).scalars().all() == [
            "GBP", "IAD", "MD", "PPD"]
        db.session.execute(text("UPDATE incidents SET releasability = '\"agency\"'"))
        db.session.commit()
        with pytest.raises(Exception, match="not released to all agencies"):
            flask_migrate.downgrade(revision="c4d8e2a91b37")
        db.session.rollback()
        db.session.execute(text("UPDATE incidents SET releasability = '\"all\"'"))
        db.session.commit()
        flask_migrate.downgrade(revision="c4d8e2a91b37")
        assert "agency" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
        db.session.remove()
        db.engine.dispose()
