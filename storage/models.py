"""The suite's tables: typed declarative models shared by SQLite and PostgreSQL.

Discord ids (snowflakes) are BIGINT; timestamps are aware UTC (`UTCDateTime`); JSON is JSONB on
PostgreSQL. Guild-scoped rows reference `servers` and go with it (ON DELETE CASCADE), so a guild's
data can be erased in one statement; `audit_log` keeps its rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import BigIntPK, JSONDoc, UTCDateTime, utcnow

# Named constraints, so migrations (and SQLite batch rebuilds) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

APPROVAL_STATUSES = ("pending", "approved", "rejected", "modified", "expired")
DECISION_CHANNELS = ("telegram", "discord", "api", "command")
RSVP_STATES = ("going", "maybe", "declined", "waitlist")
TOKEN_ROLES = ("admin", "moderator", "viewer")
ANALYTICS_WHOLE_DAY = -1
"""`analytics.hour` of a daily total (hours 0-23 are hourly buckets); NULL would defeat UNIQUE."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that keeps a status column inside its closed set."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _guild_fk(*, nullable: bool = False) -> Mapped[Any]:
    """A guild id column that belongs to a `servers` row and is deleted with it."""
    return mapped_column(
        BigInteger, ForeignKey("servers.id", ondelete="CASCADE"), nullable=nullable
    )


class Base(DeclarativeBase):
    """Declarative base whose metadata Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDoc}


class Server(Base):
    """A guild the suite serves, its current config and its per-guild counters."""

    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    config: Mapped[dict[str, Any] | None]
    config_version: Mapped[int] = mapped_column(default=0, server_default="0")
    tier: Mapped[str] = mapped_column(String(20), default="starter", server_default="starter")
    next_case_number: Mapped[int] = mapped_column(default=1, server_default="1")
    next_ticket_number: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ServerConfigHistory(Base):
    """Every config version ever stored, so a change can be audited and rolled back."""

    __tablename__ = "server_config_history"

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    config: Mapped[dict[str, Any]]
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserLevel(Base):
    """A member's XP standing in one guild."""

    __tablename__ = "user_levels"
    __table_args__ = (Index("ix_user_levels_leaderboard", "guild_id", BigInteger().desc()),)

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(default=0, server_default="0")
    xp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_messages: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_active: Mapped[datetime | None]
    last_xp_at: Mapped[datetime | None]
