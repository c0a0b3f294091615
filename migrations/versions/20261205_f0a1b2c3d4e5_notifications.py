"""Notifications: a user's inbox (alerts, level decisions, bulletins of their regions,
their webhooks' troubles), read or unread, and whether it was e-mailed.

Revision ID: f0a1b2c3d4e5
Revises: e7b2c4d9f1a0
Create Date: 2026-12-05 16:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f0a1b2c3d4e5"
down_revision = "e7b2c4d9f1a0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("link", sa.Text()),
        sa.Column("event_id", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("emailed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "id"])
    # One notification of an event per user, whoever fans it out and however often.
    op.create_index("ux_notifications_event", "notifications", ["user_id", "event_id"],
                    unique=True, postgresql_where=sa.text("event_id IS NOT NULL"))


def downgrade():
    op.drop_table("notifications")
