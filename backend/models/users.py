"""Users, their roles and their API tokens (stored as SHA-256 digests, never in clear)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import NEVER_REUSE_IDS, Base, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    engineer = "engineer"
    labeler = "labeler"


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    # Tokens are 256-bit random: a fast digest is enough (no dictionary to attack), and lookup stays O(1).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    # None: never expires (only admins and `afina create-user` may ask for that).
    expires_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def expires(self) -> datetime | None:
        """expires_at, timezone-aware on every database (SQLite hands back naive UTC)."""
        moment = self.expires_at
        return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment

    @property
    def active(self) -> bool:
        return not self.revoked and (self.expires is None or self.expires > utcnow())


class LoginAttempt(Base):
    """A failed login, kept for the sliding window that limits guessing (per username and per address).

    Rows older than the window are deleted as new failures come in; a successful login clears its user's
    rows."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_created_at", "username", "created_at"),
        Index("ix_login_attempts_address_created_at", "address", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name as typed (unknown names count too, so a 429 says nothing about whether a user exists).
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
