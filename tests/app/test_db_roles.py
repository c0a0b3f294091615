"""Two database roles (issue 14 item 3): the migrations' owner owns the schema; the web
app's role owns nothing and holds exactly the privileges app/db_roles.py grants."""

from __future__ import annotations

import logging

import pytest
from psycopg2 import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

import config
from app import db_roles, embedded_db
from app.extensions import db
from tests.conftest import make_app, owner_connection
from testsupport.databases import owner_url

# Every kind of object a role can own in a database, by catalogue.
OWNED = {
    "relations": "SELECT count(*) FROM pg_class WHERE relowner = :oid",
    "functions": "SELECT count(*) FROM pg_proc WHERE proowner = :oid",
    "types": "SELECT count(*) FROM pg_type WHERE typowner = :oid",
    "schemas": "SELECT count(*) FROM pg_namespace WHERE nspowner = :oid",
    "database": "SELECT count(*) FROM pg_database WHERE datname = current_database() "
                "AND datdba = :oid",
}


def test_the_app_role_owns_nothing_and_is_no_owner(app, db_session):
    role = db_session.execute(text(
        "SELECT oid, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = current_user")).one()
    owned = {kind: db_session.execute(text(query), {"oid": role.oid}).scalar_one()
             for kind, query in OWNED.items()}
    assert owned == dict.fromkeys(OWNED, 0)
    assert (role.rolsuper, role.rolcreaterole, role.rolcreatedb) == (False, False, False)
    owner = make_url(app.config["DATABASE_OWNER_URI"]).username
    assert owner != make_url(app.config["SQLALCHEMY_DATABASE_URI"]).username
    assert db_session.execute(text("SELECT pg_has_role(:owner, 'MEMBER')"),
                              {"owner": owner}).scalar_one() is False


def test_the_app_role_has_exactly_the_privileges_of_each_table(app, db_session):
    tables = db_session.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'spatial_ref_sys'")).scalars().all()
    assert {"audit_log", "alembic_version", "incidents", "users"} <= set(tables)
    every = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    for table in tables:
        held = {privilege for privilege in every if db_session.execute(
            text("SELECT has_table_privilege(:table, :privilege)"),
            {"table": table, "privilege": privilege}).scalar_one()}
        assert held == set(db_roles.TABLE_PRIVILEGES.get(table, db_roles.DML)), table
    # The sequences behind the ids: usable, not settable.
    sequences = db_session.execute(text(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars().all()
    assert sequences
    for sequence in sequences:
        assert db_session.execute(text(
            "SELECT has_sequence_privilege(:s, 'USAGE') AND has_sequence_privilege(:s, "
            "'SELECT') AND NOT has_sequence_privilege(:s, 'UPDATE')"),
            {"s": sequence}).scalar_one(), sequence


def test_a_single_role_server_gets_no_grants_and_a_warning(app, caplog):
    settings = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "DATABASE_OWNER_URI": ""}
    assert db_roles.owner_url(settings) == settings["SQLALCHEMY_DATABASE_URI"]
    with caplog.at_level(logging.WARNING, logger="app.db_roles"):
        assert db_roles.grant_app_role(None, settings) == 0
    assert "set DATABASE_OWNER_URL" in caplog.text


def test_the_owner_url_comes_from_its_own_setting():
    app_url = "postgresql://app:a@db.example:5432/border"
    settings = config.Config.from_env({
        "DATABASE_URL": app_url, "SECRET_KEY": "k" * 32,
        "DATABASE_OWNER_URL": "postgres://owner:o@db.example:5432/border"})
    assert settings.DATABASE_OWNER_URI == "postgresql+psycopg2://owner:o@db.example:5432/border"
    alone = config.Config.from_env({"DATABASE_URL": app_url, "SECRET_KEY": "k" * 32})
    assert alone.DATABASE_OWNER_URI == ""
    with pytest.raises(config.ConfigError, match="DATABASE_OWNER_URL must be a PostgreSQL"):
        config.Config.from_env({"DATABASE_URL": app_url, "SECRET_KEY": "k" * 32,
                                "DATABASE_OWNER_URL": "sqlite:///owner.db"})


def test_an_upgrade_hands_a_database_the_app_role_owned_to_the_owner(databases):
    """A cluster made before the split had the app's role own the database and its
    tables: ``embedded_db`` gives both to the owner, and the next upgrade grants the app's
    role its privileges back (the embedded cluster's superuser plays the old set-up)."""
    if not embedded_db.CLUSTER_HOME.exists():
        pytest.fail("this test needs the embedded PostGIS (`make test` starts it)")
    scratch = make_app(databases.create())
    name = make_url(scratch.config["SQLALCHEMY_DATABASE_URI"]).database
    app_role = make_url(scratch.config["SQLALCHEMY_DATABASE_URI"]).username
    owner = make_url(owner_url(scratch.config["SQLALCHEMY_DATABASE_URI"])).username
    with scratch.app_context():
        import flask_migrate

        flask_migrate.upgrade()
        db.engine.dispose()
    admin = embedded_db._admin_connection(name)
    admin.autocommit = True
    with admin.cursor() as cur:  # the old set-up: everything the app role's
        cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(app_role)))
        cur.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
            sql.Identifier(owner), sql.Identifier(app_role)))
        cur.execute("SELECT pg_get_userbyid(relowner) FROM pg_class "
                    "WHERE relname = 'audit_log'")
        assert cur.fetchone()[0] == app_role
    admin.close()

    embedded_db._hand_to_owner(name, app_role, owner)
    with scratch.app_context():
        import flask_migrate

        flask_migrate.upgrade()
        owned = db.session.execute(text(
            "SELECT count(*) FROM pg_class WHERE relowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)")).scalar_one()
        can_insert = db.session.execute(text(
            "SELECT has_table_privilege('incidents', 'INSERT') "
            "AND NOT has_table_privilege('audit_log', 'UPDATE')")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    assert owned == 0 and can_insert
    with owner_connection(scratch) as connection:
        assert connection.execute(text(
            "SELECT pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname = current_database()")).scalar_one() == owner
