"""The audit trail: one append-only row per write (who, when, from where, what, before
and after).

The table has no foreign keys (a deleted user or feature keeps its records, and no
cascade ever rewrites a row) and is append-only in the database itself: the migration
revokes UPDATE, DELETE and TRUNCATE from the application's role and adds triggers that
refuse them (``migrations/versions/*_access_control_audit.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, BigInteger, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.models import Base


class AuditRecord(Base):
    """One write. ``action`` is a verb (create, update, delete, import, level, user,
    token, login...), ``entity`` the kind of thing written (a layer, ``user``,
    ``token``, ``section``...), ``entity_id`` its id as text; ``before``/``after`` its
    values (JSON, null for a create's before and a delete's after); ``detail`` extra
    facts (an import's file name, SHA-256 and counts). ``at`` is the database's clock
    (UTC) when the record is written, inside the write's own transaction."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    detail: Mapped[dict | None] = mapped_column(JSONB)
    # The hash chain, set by the database's BEFORE INSERT trigger (migration
    # c4d8e2a91b37): SHA-256 (hex) of the previous record, and of this one.
    prev_sha256: Mapped[str | None] = mapped_column(CHAR(64))
    sha256: Mapped[str | None] = mapped_column(CHAR(64))
