"""Georgian names of border sections and crossing points (``name_ka``, optional): the
pages show a feature's name in their language, ``name`` where it has none. An archived
bulletin keeps its Georgian rendering too (``bulletins.html_ka``, ``pdf_ka``; NULL for
those archived before), served to a reader whose page is in Georgian.

Revision ID: b8e4f2a6c1d3
Revises: a3c5e7f9b1d2
Create Date: 2026-12-05 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b8e4f2a6c1d3"
down_revision = "a3c5e7f9b1d2"
branch_labels = None
depends_on = None

TABLES = ("border_segments", "crossing_points")


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column("name_ka", sa.String(200), nullable=True))
    op.add_column("bulletins", sa.Column("html_ka", sa.Text(), nullable=True))
    op.add_column("bulletins", sa.Column("pdf_ka", sa.LargeBinary(), nullable=True))


def downgrade():
    op.drop_column("bulletins", "pdf_ka")
    op.drop_column("bulletins", "html_ka")
    for table in TABLES:
        op.drop_column(table, "name_ka")
