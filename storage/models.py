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
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

from storage.crypto import EncryptedEvidence, EncryptedText
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
EVENT_STATUSES = ("scheduled", "active", "completed", "cancelled")
TOKEN_ROLES = ("admin", "moderator", "viewer")
ANTI_NUKE_STATUSES = ("open", "restored", "banned", "released", "kept", "expired")
ANALYTICS_WHOLE_DAY = -1
"""`analytics.hour` of a daily total (hours 0-23 are hourly buckets); NULL would defeat UNIQUE."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that keeps a status column inside its closed set."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _guild_fk(*, primary_key: bool = False, nullable: bool = False) -> MappedColumn[Any]:
    """A guild id column that belongs to a `servers` row and is deleted with it."""
    return mapped_column(
        BigInteger,
        ForeignKey("servers.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=nullable,
    )


def _snowflake(*, primary_key: bool = False, nullable: bool = False) -> MappedColumn[Any]:
    """A Discord id: 64-bit, never auto-generated."""
    return mapped_column(
        BigInteger, primary_key=primary_key, autoincrement=False, nullable=nullable
    )


def _serial() -> MappedColumn[Any]:
    """An auto-incrementing surrogate key."""
    return mapped_column(BigIntPK, primary_key=True, autoincrement=True)


class Base(DeclarativeBase):
    """Declarative base whose metadata Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        dict[str, Any]: JSONDoc,
        list[str]: JSONDoc,
        list[dict[str, Any]]: JSONDoc,
    }


class Server(Base):
    """A guild the suite serves, its current config and its per-guild counters."""

    __tablename__ = "servers"

    id: Mapped[int] = _snowflake(primary_key=True)
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

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    config: Mapped[dict[str, Any]]
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserLevel(Base):
    """A member's XP standing in one guild, and the counters achievements look at."""

    __tablename__ = "user_levels"

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    user_id: Mapped[int] = _snowflake(primary_key=True)
    level: Mapped[int] = mapped_column(default=0, server_default="0")
    xp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_messages: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_active: Mapped[datetime | None]
    last_xp_at: Mapped[datetime | None]
    streak_days: Mapped[int] = mapped_column(default=0, server_default="0")
    streak_last_day: Mapped[date | None]
    reactions_received: Mapped[int] = mapped_column(default=0, server_default="0")
    events_attended: Mapped[int] = mapped_column(default=0, server_default="0")
    tickets_helped: Mapped[int] = mapped_column(default=0, server_default="0")
    invites: Mapped[int] = mapped_column(default=0, server_default="0")
    voice_minutes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


# The leaderboard order is (xp DESC, user_id ASC): with xp descending in the index both backends
# read a page (and count a member's rank) as one forward range scan, ties included.
Index("ix_user_levels_leaderboard", UserLevel.guild_id, UserLevel.xp.desc(), UserLevel.user_id)


class ModerationCase(Base):
    """A numbered moderation case; `source_key` makes writes from retried activities idempotent."""

    __tablename__ = "moderation_cases"
    __table_args__ = (
        UniqueConstraint("guild_id", "case_number"),
        UniqueConstraint("guild_id", "source_key"),
        Index("ix_moderation_cases_member", "guild_id", "user_id", "case_number"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    case_number: Mapped[int]
    user_id: Mapped[int] = _snowflake()
    moderator_id: Mapped[int | None] = _snowflake(nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(EncryptedEvidence)
    rule: Mapped[str | None] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(default=0, server_default="0")
    duration_seconds: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingApproval(Base):
    """A sensitive action waiting for a person to decide, from whichever channel they use."""

    __tablename__ = "pending_approvals"
    __table_args__ = (
        CheckConstraint(_one_of("status", APPROVAL_STATUSES), name="status"),
        CheckConstraint(_one_of("decision_channel", DECISION_CHANNELS), name="decision_channel"),
        Index("ix_pending_approvals_queue", "guild_id", "status", "created_at"),
        Index("ix_pending_approvals_workflow_id", "workflow_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    guild_id: Mapped[int] = _guild_fk()
    workflow_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    target_user_id: Mapped[int | None] = _snowflake(nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(EncryptedEvidence)
    requested_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_channel: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]
    final_action: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    duration_minutes: Mapped[int | None]
    discord_channel_id: Mapped[int | None] = _snowflake(nullable=True)
    discord_message_id: Mapped[int | None] = _snowflake(nullable=True)
    alerted_at: Mapped[datetime | None]


class SupportTicket(Base):
    """A support ticket, numbered per guild (`servers.next_ticket_number`)."""

    __tablename__ = "support_tickets"
    __table_args__ = (
        UniqueConstraint("guild_id", "number"),
        Index("ix_support_tickets_status", "guild_id", "status"),
        Index("ix_support_tickets_user", "guild_id", "user_id"),
        Index("ix_support_tickets_thread", "thread_id"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    number: Mapped[int]
    user_id: Mapped[int] = _snowflake()
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(EncryptedText, default="", server_default="")
    category: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    assigned_to: Mapped[int | None] = _snowflake(nullable=True)
    channel_id: Mapped[int | None] = _snowflake(nullable=True)
    thread_id: Mapped[int | None] = _snowflake(nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(EncryptedText)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    claimed_by: Mapped[int | None] = _snowflake(nullable=True)
    closed_by: Mapped[int | None] = _snowflake(nullable=True)
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")
    rated_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16), default="command", server_default="command")


class Event(Base):
    """A community event as its workflow last saved it; the workflow owns the live state."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_one_of("status", EVENT_STATUSES), name="status"),
        Index("ix_events_schedule", "guild_id", "start_at"),
        Index("ix_events_message", "message_id"),
        Index("ix_events_discord", "guild_id", "discord_event_id"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    location: Mapped[str] = mapped_column(String(200), default="", server_default="")
    timezone: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    capacity: Mapped[int | None]
    channel_id: Mapped[int | None] = _snowflake(nullable=True)
    message_id: Mapped[int | None] = _snowflake(nullable=True)
    ping_role_id: Mapped[int | None] = _snowflake(nullable=True)
    discord_event_id: Mapped[int | None] = _snowflake(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled", server_default="scheduled")
    recurrence: Mapped[str | None] = mapped_column(String(500))
    occurrence: Mapped[int] = mapped_column(default=0, server_default="0")
    spec: Mapped[dict[str, Any]]
    """The whole EventSpec (`storage.events.spec_to_json`); the columns above are for queries."""
    going_count: Mapped[int] = mapped_column(default=0, server_default="0")
    maybe_count: Mapped[int] = mapped_column(default=0, server_default="0")
    declined_count: Mapped[int] = mapped_column(default=0, server_default="0")
    waitlist_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by: Mapped[int | None] = _snowflake(nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventRSVP(Base):
    """One member's RSVP to one occurrence of an event; `seq` orders going and the waitlist."""

    __tablename__ = "event_rsvps"
    __table_args__ = (
        CheckConstraint(_one_of("status", RSVP_STATES), name="status"),
        Index("ix_event_rsvps_order", "event_id", "occurrence", "status", "seq"),
    )

    event_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("events.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    occurrence: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = _snowflake(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    choice: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))
    attended: Mapped[bool] = mapped_column(default=False, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberTimezone(Base):
    """A member's own time zone, so times they type are read as they mean them."""

    __tablename__ = "member_timezones"

    user_id: Mapped[int] = _snowflake(primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventFeedKey(Base):
    """A server's calendar subscription key (hashed): calendar apps cannot send a token."""

    __tablename__ = "event_feed_keys"

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FAQEntry(Base):
    """A question (with phrasing variants) and its answer, per guild and language."""

    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_language", "guild_id", "language"),)

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    question: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[str]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    tags: Mapped[list[str]] = mapped_column(default=list)
    hits: Mapped[int] = mapped_column(default=0, server_default="0")
    """Times the bot answered with this entry."""
    helpful: Mapped[int] = mapped_column(default=0, server_default="0")
    not_helpful: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FAQFeedback(Base):
    """One member's 'Did this help?' vote on one answer; a second click changes it, never adds."""

    __tablename__ = "faq_feedback"

    message_id: Mapped[int] = _snowflake(primary_key=True)
    """The bot's answer message."""
    user_id: Mapped[int] = _snowflake(primary_key=True)
    guild_id: Mapped[int] = _guild_fk()
    entry_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True
    )
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Achievement(Base):
    """An achievement a member has earned; the primary key makes granting idempotent."""

    __tablename__ = "achievements"

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    user_id: Mapped[int] = _snowflake(primary_key=True)
    achievement_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementAward(Base):
    """A one-off reward (event attended, ticket helped, ...): the key makes it idempotent."""

    __tablename__ = "engagement_awards"

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    user_id: Mapped[int] = _snowflake(primary_key=True)
    award_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    xp: Mapped[int] = mapped_column(default=0)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AIUsage(Base):
    """AI calls a server made in one calendar month (UTC), counted against its tier's budget."""

    __tablename__ = "ai_usage"

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    calls: Mapped[int] = mapped_column(default=0, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """USD millionths the providers billed for the month (domain/ai_cost.py); unpriced: 0."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScamDomainList(Base):
    """A fetched snapshot of the scam-domain feed; the newest good one is what automod uses."""

    __tablename__ = "scam_domain_lists"

    id: Mapped[int] = _serial()
    source: Mapped[str] = mapped_column(String(500))
    domains: Mapped[list[str]]
    domain_count: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


APPEAL_STATUSES = ("pending", "granted", "denied")


class Appeal(Base):
    """A member's appeal against a ban or timeout; decided through the approval path."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(_one_of("status", APPEAL_STATUSES), name="status"),
        Index("ix_appeals_member", "guild_id", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    guild_id: Mapped[int] = _guild_fk()
    user_id: Mapped[int] = _snowflake()
    sanction: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    approval_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


RAID_INCIDENT_STATUSES = ("active", "lifted")
RAID_MEMBER_OUTCOMES = ("suspected", "banned", "kicked", "timed_out", "left", "kept", "failed")


class RaidIncident(Base):
    """One lockdown of a server: why, what was changed (to restore it), how it ended."""

    __tablename__ = "raid_incidents"
    __table_args__ = (
        UniqueConstraint("guild_id", "incident_number"),
        UniqueConstraint("workflow_run_id"),
        CheckConstraint(_one_of("status", RAID_INCIDENT_STATUSES), name="status"),
        Index("ix_raid_incidents_guild", "guild_id", "incident_number"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    incident_number: Mapped[int]
    workflow_id: Mapped[str] = mapped_column(String(255))
    workflow_run_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    trigger: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    snapshot: Mapped[dict[str, Any] | None]
    """The server as it was before the lockdown (verification level, overwrites, slowmodes)."""
    raid_invite_code: Mapped[str | None] = mapped_column(String(64))
    raid_invite_creator_id: Mapped[int | None] = _snowflake(nullable=True)
    invite_deleted: Mapped[bool] = mapped_column(default=False, server_default="0")
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(100))
    lift_reason: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[dict[str, Any]] | None]
    """What the lockdown did, in order: [{"at", "what"}...]."""


class RaidIncidentMember(Base):
    """A member who joined (or posted) during a raid, with why and what became of them."""

    __tablename__ = "raid_incident_members"
    __table_args__ = (
        UniqueConstraint("incident_id", "user_id"),
        CheckConstraint(_one_of("outcome", RAID_MEMBER_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = _serial()
    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("raid_incidents.id", ondelete="CASCADE")
    )
    guild_id: Mapped[int] = _guild_fk()
    user_id: Mapped[int] = _snowflake()
    username: Mapped[str | None] = mapped_column(String(100))
    joined_at: Mapped[datetime | None]
    account_created_at: Mapped[datetime | None]
    invite_code: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(default=0, server_default="0")
    reasons: Mapped[list[str] | None]
    outcome: Mapped[str] = mapped_column(
        String(16), default="suspected", server_default="suspected"
    )
    outcome_at: Mapped[datetime | None]


class AntiNukeIncident(Base):
    """One actor caught destroying a server: the evidence, what was done at once, the outcome."""

    __tablename__ = "anti_nuke_incidents"
    __table_args__ = (
        UniqueConstraint("workflow_run_id"),
        CheckConstraint(_one_of("status", ANTI_NUKE_STATUSES), name="status"),
        Index("ix_anti_nuke_incidents_guild", "guild_id", "started_at"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    actor_id: Mapped[int] = _snowflake()
    workflow_id: Mapped[str] = mapped_column(String(255))
    workflow_run_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    trigger: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    mitigation: Mapped[str] = mapped_column(String(32))
    """What the gateway did at once: quarantined, bot_stripped, bot_kicked or failed."""
    removed_role_ids: Mapped[list[str] | None]
    evidence: Mapped[list[dict[str, Any]] | None]
    approval_id: Mapped[str | None] = mapped_column(String(36))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    report: Mapped[list[str] | None]
    """What the restore did, one line per object (and what it could not do)."""


class OutboxEntry(Base):
    """Work the gateway could not hand to Temporal yet; retried until it goes through."""

    __tablename__ = "outbox"

    id: Mapped[int] = _serial()
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsPoint(Base):
    """A metric's value in one hour (or whole day) bucket; UNIQUE so writers can upsert."""

    __tablename__ = "analytics"
    __table_args__ = (
        UniqueConstraint("guild_id", "metric", "date", "hour"),
        CheckConstraint(f"hour BETWEEN {ANALYTICS_WHOLE_DAY} AND 23", name="hour"),
    )

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    date: Mapped[date]
    hour: Mapped[int] = mapped_column(SmallInteger)


class Announcement(Base):
    """A scheduled announcement; its Temporal Schedule (`announce:{guild}:{number}`) runs it."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("guild_id", "number"),)

    id: Mapped[int] = _serial()
    guild_id: Mapped[int] = _guild_fk()
    number: Mapped[int]
    channel_id: Mapped[int] = _snowflake()
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    colour: Mapped[int]
    role_id: Mapped[int | None] = _snowflake(nullable=True)
    cron: Mapped[str | None] = mapped_column(String(120))
    interval_seconds: Mapped[int | None]
    at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_posted_at: Mapped[datetime | None]
    last_message_id: Mapped[int | None] = _snowflake(nullable=True)
    post_count: Mapped[int] = mapped_column(default=0, server_default="0")


class APIToken(Base):
    """A REST API credential; only its hash is stored. A NULL guild means every guild."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("role", TOKEN_ROLES), name="role"),)

    id: Mapped[int] = _serial()
    guild_id: Mapped[int | None] = _guild_fk(nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditLogEntry(Base):
    """Who changed what through the API or commands; survives the guild's deletion."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_guild_time", "guild_id", "created_at"),)

    id: Mapped[int] = _serial()
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthMark(Base):
    """A timestamped health note: the gateway's heartbeat, or a check already alerted about."""

    __tablename__ = "health_marks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")


class ServerAccount(Base):
    """A server's billing account (its Discord owner), member count and over-limit state (tiers).

    Written by the gateway from GUILD_CREATE and member joins; `over_limit` is '' or a comma list
    of 'members' and 'servers' (domain.tiers), re-evaluated whenever a count or a tier changes.
    """

    __tablename__ = "server_accounts"
    __table_args__ = (Index("ix_server_accounts_owner", "owner_id"),)

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    member_count: Mapped[int | None]
    counted_at: Mapped[datetime | None]
    over_limit: Mapped[str] = mapped_column(String(40), default="", server_default="")
    over_limit_since: Mapped[datetime | None]


class TierNotice(Base):
    """A notice to a server's admins about its tier's limits; the key makes each one once-only.

    Keys: `ai:{month}:{percent}` (80 % and 100 % of the AI budget), `over:{since}` and
    `within:{at}` (over-limit state changes). The gateway posts undelivered ones to the mod-log
    channel (or the system channel) and stamps `delivered_at`.
    """

    __tablename__ = "tier_notices"
    __table_args__ = (Index("ix_tier_notices_undelivered", "delivered_at", "created_at"),)

    guild_id: Mapped[int] = _guild_fk(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    delivery: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """Where it went: 'channel:{id}', 'none' (no channel to post in), '' while waiting."""


# Analytics: the hourly rollup (storage/analytics.py) reads each source table by time range.
Index("ix_moderation_cases_created_at", ModerationCase.created_at)
Index("ix_support_tickets_created_at", SupportTicket.created_at)
Index("ix_support_tickets_closed_at", SupportTicket.closed_at)
Index("ix_engagement_awards_granted_at", EngagementAward.granted_at)
