"""A section's incidents by time: ``ix_incidents_nearest_segment_id`` becomes
``(nearest_segment_id, occurred_at)``. The forecast of a risk assessment reads its
sections' incidents of a bounded window (``geo.forecast.model.read_start``) and the risk
model counts its sections' incidents per period; with the section alone in the index
both read every year of the sections' history and filter the time afterwards
(docs/benchmarks.md, issue 21). The leading column still serves lookups by section (the
foreign key's ``ON DELETE SET NULL``), so the single-column index goes: an import
maintains one index, not two.

A plain ``CREATE INDEX`` in the migration's transaction (it blocks writes to
``incidents`` while it runs); on a large live table build it first with
``CREATE INDEX CONCURRENTLY`` under the same name, and this migration keeps it.

Revision ID: a4f6b8c0d2e1
Revises: c9e3a5b7d1f4
Create Date: 2026-12-06 02:00:00
"""

from alembic import op

revision = "a4f6b8c0d2e1"
down_revision = "c9e3a5b7d1f4"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE INDEX IF NOT EXISTS ix_incidents_segment_time ON incidents "
               "(nearest_segment_id, occurred_at)")
    op.drop_index("ix_incidents_nearest_segment_id", table_name="incidents")


def downgrade():
    op.create_index("ix_incidents_nearest_segment_id", "incidents", ["nearest_segment_id"])
    op.drop_index("ix_incidents_segment_time", table_name="incidents")
