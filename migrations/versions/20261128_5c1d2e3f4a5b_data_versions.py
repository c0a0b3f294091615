"""Data versions: a counter per table, bumped by every statement that changes it.

Cached analysis results (hot-spots) are keyed by these versions, so any write to the
data (API, import, psql) invalidates them without the writer knowing about caches.

Revision ID: 5c1d2e3f4a5b
Revises: 2207509667b1
Create Date: 2026-11-28 20:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5c1d2e3f4a5b"
down_revision = "2207509667b1"
branch_labels = None
depends_on = None

TABLES = ("regions", "border_segments", "crossing_points", "incidents")


def upgrade():
    op.create_table(
        "data_versions",
        sa.Column("table_name", sa.String(length=63), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.execute(
        "INSERT INTO data_versions (table_name) VALUES "
        + ", ".join(f"('{t}')" for t in TABLES)
    )
    op.execute(
        """
        CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE data_versions SET version = version + 1, changed_at = now()
             WHERE table_name = TG_TABLE_NAME;
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )


def downgrade():
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
    op.execute("DROP FUNCTION bump_data_version()")
    op.drop_table("data_versions")
