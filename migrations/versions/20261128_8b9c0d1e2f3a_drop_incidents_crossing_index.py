"""Drop the index on incidents.nearest_crossing_id: no query looks incidents up by it.

Every incident written updated it (about a fifth of a bulk import's index maintenance,
docs/benchmarks.md); the foreign key's ON DELETE SET NULL does without it (deleting a
crossing point relinks every incident anyway, geo.queries.derive_links).

Revision ID: 8b9c0d1e2f3a
Revises: 7a8b9c0d1e2f
Create Date: 2026-11-28 22:35:00
"""

from alembic import op

revision = "8b9c0d1e2f3a"
down_revision = "7a8b9c0d1e2f"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_incidents_nearest_crossing_id", table_name="incidents")


def downgrade():
    op.create_index("ix_incidents_nearest_crossing_id", "incidents", ["nearest_crossing_id"],
                    unique=False)
