"""Analysis results shared by every worker process and app node (issue 19): the second
tier of the result cache (``geo.hotspots.analysis_results``), read before computing.

UNLOGGED: a cache needs no WAL (a 5 MB emerging map is not written twice nor streamed
to the replicas) and may be emptied after a crash; its rows are read on the primary
only (a standby cannot read an unlogged table). ``body`` is stored uncompressed
(``STORAGE EXTERNAL``): the results are read whole and often, so pglz would cost CPU on
every read and write, and ``size`` is then the space a row takes, which the cache's
bound (``ANALYSIS_CACHE_MAX_MB``) counts. The web app's role gets SELECT, INSERT,
UPDATE, DELETE on it like on every table (``app.db_roles``, after the upgrade).

Revision ID: d2f4a6c8e0b1
Revises: a4f6b8c0d2e1
Create Date: 2026-12-06 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d2f4a6c8e0b1"
down_revision = "a4f6b8c0d2e1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analysis_results",
        sa.Column("key_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        prefixes=["UNLOGGED"],
    )
    op.execute("ALTER TABLE analysis_results ALTER COLUMN body SET STORAGE EXTERNAL")


def downgrade():
    op.drop_table("analysis_results")
