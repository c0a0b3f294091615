"""Inbox fan-out and e-mail: where the fan-out of application events into users'
notifications has got to, what a notification says in words any language can render,
and each user's e-mail address and subscriptions.

- ``inbox_cursor``: one row, the last event id the fan-out (``app.inbox.fanout``) has
  looked at. It starts at the newest event when the migration runs: the inbox tells of
  what happens from then on, not of the events retention still keeps.
- ``notifications.message``: the notification's title and body as message ids and
  values (``app.inbox.messages``), so that the inbox shows them in the reader's
  language; ``title`` and ``body`` keep the English text (e-mail, and any reader that
  does not know the message).
- ``users.email``, ``users.email_alerts``, ``users.email_bulletins``: where the worker's
  ``mail`` job sends a user's alerts and bulletins when ``SMTP_URL`` is set.
- ``notifications.email_error``: why the SMTP server refused the notification's e-mail
  for good (it is not tried again).
- ``ix_notifications_mail_due``: the notifications not yet e-mailed of the kinds that
  can be, by creation time (the mail job looks at the last day's only).

Revision ID: c7d9e1f3a5b6
Revises: b3c5d7e9f1a2
Create Date: 2026-12-05 17:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c7d9e1f3a5b6"
down_revision = "b3c5d7e9f1a2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbox_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False,
                  server_default=sa.text("0")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.CheckConstraint("id = 1", name="ck_inbox_cursor_one_row"),
    )
    op.execute("INSERT INTO inbox_cursor (id, last_event_id) "
               "SELECT 1, coalesce(max(id), 0) FROM events")
    op.add_column("notifications", sa.Column("message", postgresql.JSONB()))
    op.add_column("notifications", sa.Column("email_error", sa.Text()))
    op.create_index("ix_notifications_mail_due", "notifications", ["created_at"],
                    postgresql_where=sa.text("emailed_at IS NULL AND email_error IS NULL "
                                             "AND kind IN ('alert', 'bulletin')"))
    op.add_column("users", sa.Column("email", sa.String(254)))
    op.add_column("users", sa.Column("email_alerts", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("users", sa.Column("email_bulletins", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_check_constraint(
        "ck_users_email", "users",
        "email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'")


def downgrade():
    op.drop_constraint("ck_users_email", "users", type_="check")
    op.drop_column("users", "email_bulletins")
    op.drop_column("users", "email_alerts")
    op.drop_column("users", "email")
    op.drop_index("ix_notifications_mail_due", table_name="notifications")
    op.drop_column("notifications", "email_error")
    op.drop_column("notifications", "message")
    op.drop_table("inbox_cursor")
