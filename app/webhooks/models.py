"""The webhooks' tables (migration ``a3c5e7f9b1d2``) on the shared declarative base: the
migrated schema is the models'. The code reads and writes them in SQL
(``app.webhooks.store``, ``app.webhooks.delivery``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from geo.models import Base

_NOW = text("clock_timestamp()")


class Subscription(Base):
    """A user's webhook: where to POST which events (``types``, ``filters``), in
    batches of ``batch_size``, signed with ``secret``. ``cursor``: the last event id
    delivered or passed over; ``pending_*``: the batch in flight (its delivery id and
    events), kept across retries; ``lease_until``: while a worker sends it.
    ``failures`` / ``failing_since``: the consecutive failed attempts and since when;
    ``paused_at`` / ``pause_reason``: stopped after failing too long (or its owner lost
    the right)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("batch_size BETWEEN 1 AND 10000", name="ck_subscriptions_batch_size"),
        Index("ix_subscriptions_user", "user_id"),
        Index("ix_subscriptions_due", "next_attempt_at",
              postgresql_where=text("active AND paused_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    types: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    filters: Mapped[dict] = mapped_column(JSONB, nullable=False,
                                          server_default=text("'{}'::jsonb"))
    batch_size: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    cursor: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      server_default=_NOW)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending_delivery_id: Mapped[str | None] = mapped_column(UUID(as_uuid=False))
    pending_first_id: Mapped[int | None] = mapped_column(BigInteger)
    pending_last_id: Mapped[int | None] = mapped_column(BigInteger)
    pending_attempt: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=_NOW)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=_NOW)


class WebhookDelivery(Base):
    """One attempt to deliver a batch (the delivery log): its delivery id (the same on
    every retry and replay), the events' first and last id and count, the attempt's
    number, HTTP status, error, latency (milliseconds), outcome and whether it was a
    replay."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
        Index("ix_webhook_deliveries_delivery", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False)
    delivery_id: Mapped[str] = mapped_column(UUID(as_uuid=False), nullable=False)
    first_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    succeeded: Mapped[bool] = mapped_column(Boolean, nullable=False)
    replay: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                         server_default=_NOW)
