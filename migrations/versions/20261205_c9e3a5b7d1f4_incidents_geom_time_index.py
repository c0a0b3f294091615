"""Incidents' place and time in one GiST index (``btree_gist``): a vector tile or map of
a time window reads that window's incidents of its box, not every year of history in
the box and then a filter (docs/scaling.md: at five years a z14 tile of 90 days kept
1,589 of the 30,875 rows the spatial index gave it).

``btree_gist`` is a trusted extension of PostgreSQL's contrib: the database's owner
creates it. The index is built here in the migration's transaction (a plain
``CREATE INDEX``, which blocks writes to ``incidents`` while it runs: about a minute at
five million incidents); on a large live table build it first with
``CREATE INDEX CONCURRENTLY`` under the same name, and this migration keeps it.

Revision ID: c9e3a5b7d1f4
Revises: b8d2f4a6c1e3
Create Date: 2026-12-05 22:40:00
"""

from alembic import op

revision = "c9e3a5b7d1f4"
down_revision = "b8d2f4a6c1e3"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_geom_time ON incidents "
               "USING gist (geom, occurred_at)")


def downgrade():
    op.execute("DROP INDEX ix_incidents_geom_time")
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
