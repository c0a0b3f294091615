"""Users, their region scope, sessions, sign-in attempts and API tokens (tables on the
shared declarative base)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from geo.models import Base, Region, one_of
from geo.vocabulary import ROLES

# The regions a user is restricted to (unless ``users.all_regions``); a user with none
# sees no region. A region that users are linked to cannot be deleted (RESTRICT): a
# deletion must never change, let alone widen, anyone's scope.
user_regions = Table(
    "user_regions",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", ForeignKey("regions.id", ondelete="RESTRICT"), primary_key=True,
           index=True),
)


class User(Base):
    """A person who signs in. ``password_hash`` is an Argon2id hash (PHC string).

    ``all_regions`` lets the user read and write every region (an explicit setting);
    otherwise ``regions`` restrict what the user reads and writes to those regional
    units, and a user with none sees no region at all. ``failed_logins`` counts sign-in
    failures since the last success; ``locked_until`` refuses sign-in until then.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", ROLES), name="ck_users_role"),
        CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{1,64}$'", name="ck_users_username"),
        CheckConstraint("email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'",
                        name="ck_users_email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    all_regions: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The agency the user works for (``geo.models.Agency``): what they see of other
    # agencies' incidents and which incidents they may edit (``geo.scope``).
    agency: Mapped[str] = mapped_column(
        String(16), ForeignKey("agencies.code", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where the worker's mail job sends the user's alerts and bulletins (app.inbox.mail),
    # when SMTP_URL is set and they subscribed to them.
    email: Mapped[str | None] = mapped_column(String(254))
    email_alerts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                               server_default="false")
    email_bulletins: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                  server_default="false")
    regions: Mapped[list[Region]] = relationship(secondary=user_regions, lazy="selectin",
                                                 order_by=Region.code)
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, role: str) -> bool:
        """True when this user's role is ``role`` or ranks above it."""
        return role_at_least(self.role, role)


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` is ``needed`` or ranks above it (``geo.vocabulary.ROLES`` order)."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class RegionRef:
    """A region as the region scope reads it: id and code, no geometry."""

    id: int
    code: str


@dataclass(frozen=True)
class TokenCaller:
    """The owner of a valid bearer token, as one request sees them: what the permission
    check, the region scope and the audit trail read (Flask-Login's user protocol, role,
    regions), read in one statement without loading ORM objects
    (``app.auth.tokens.caller_for_token``). Not a ``User``: code that must change the
    user loads the row (only the admin pages do, and they use the browser's session).
    """

    id: int
    username: str
    role: str
    all_regions: bool
    agency: str
    regions: tuple[RegionRef, ...]
    token_id: int
    token_last_used_at: datetime | None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, role: str) -> bool:
        """True when the owner's role is ``role`` or ranks above it."""
        return role_at_least(self.role, role)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 digest is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """A browser session: the cookie carries a random id, the table its SHA-256.

    A session is valid while not revoked (logout, admin), not past ``expires_at``
    (absolute lifetime) and seen within the idle timeout (``last_seen_at``).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sid_sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginAttempt(Base):
    """One sign-in attempt (page or HTTP Basic): for rate limits by address and name."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
