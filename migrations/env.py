"""Alembic environment (Flask-Migrate): runs revisions against the app's database.

Revisions run as the schema's owner (``DATABASE_OWNER_URL``, app/db_roles.py), and in
the same transaction the owner grants the web app's role what it may do with each
table, so every upgrade leaves the app's role owning nothing. GeoAlchemy2's helpers
keep PostGIS's own tables (spatial_ref_sys, ...) out of autogenerate and render
geometry columns and their spatial indexes correctly.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app import db_roles

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def _configure(**kwargs):
    context.configure(
        target_metadata=target_db.metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline():
    """Emit SQL to stdout instead of running it (``flask db upgrade --sql``)."""
    _configure(url=db_roles.owner_url(current_app.config), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(db_roles.owner_url(current_app.config), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
                db_roles.grant_app_role(connection, current_app.config)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
