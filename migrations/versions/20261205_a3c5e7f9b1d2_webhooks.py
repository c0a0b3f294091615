"""Webhooks: subscriptions to the events (``subscriptions``) and the log of their
deliveries (``webhook_deliveries``).

A subscription belongs to a user (its owner): what it receives is what the owner may
see, evaluated at each delivery from ``users`` (agency, region scope). ``cursor`` is
the id of the last event delivered (or passed over as not matching); it starts at the
events' head when the subscription is made, so only later events are sent. The batch in
flight (``pending_*``: its delivery id and the events' ids) is written before it is
sent, so a retry, or a redelivery after a worker died, sends the same events under the
same delivery id; ``lease_until`` keeps other workers off it while it is sent.

Revision ID: a3c5e7f9b1d2
Revises: c7d9e1f3a5b6
Create Date: 2026-12-05 17:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "a3c5e7f9b1d2"
down_revision = "c7d9e1f3a5b6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("types", postgresql.ARRAY(sa.Text()), nullable=False,
                  server_default="{}"),
        sa.Column("filters", postgresql.JSONB(), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("batch_size", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("paused_at", sa.DateTime(timezone=True)),
        sa.Column("pause_reason", sa.Text()),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("pending_delivery_id", postgresql.UUID()),
        sa.Column("pending_first_id", sa.BigInteger()),
        sa.Column("pending_last_id", sa.BigInteger()),
        sa.Column("pending_attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.CheckConstraint("batch_size BETWEEN 1 AND 10000",
                           name="ck_subscriptions_batch_size"),
    )
    op.create_index("ix_subscriptions_user", "subscriptions", ["user_id"])
    op.create_index("ix_subscriptions_due", "subscriptions", ["next_attempt_at"],
                    postgresql_where=sa.text("active AND paused_at IS NULL"))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("subscription_id", sa.BigInteger(),
                  sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("delivery_id", postgresql.UUID(), nullable=False),
        sa.Column("first_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
    )
    op.create_index("ix_webhook_deliveries_subscription", "webhook_deliveries",
                    ["subscription_id", "id"])
    op.create_index("ix_webhook_deliveries_delivery", "webhook_deliveries",
                    ["delivery_id"])


def downgrade():
    op.drop_table("webhook_deliveries")
    op.drop_table("subscriptions")
