"""Initial schema

Servers and their config history, levels, moderation cases, pending approvals, tickets, events
and RSVPs, FAQ entries, achievements, analytics, API tokens and the audit log.

Revision ID: 4d4feb556e65
Revises:
Create Date: 2026-11-25 22:03:57.036270
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4d4feb556e65"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column(
            "before", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("after", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_guild_time", "audit_log", ["guild_id", "created_at"], unique=False
    )

    op.create_table(
        "servers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("config_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tier", sa.String(length=20), server_default="starter", nullable=False),
        sa.Column("next_case_number", sa.Integer(), server_default="1", nullable=False),
        sa.Column("next_ticket_number", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servers")),
    )
    op.create_table(
        "achievements",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("achievement_key", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_achievements_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "guild_id", "user_id", "achievement_key", name=op.f("pk_achievements")
        ),
    )
    op.create_table(
        "analytics",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("hour BETWEEN -1 AND 23", name=op.f("ck_analytics_hour")),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_analytics_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics")),
        sa.UniqueConstraint(
            "guild_id",
            "metric",
            "date",
            "hour",
            name=op.f("uq_analytics_guild_id_metric_date_hour"),
        ),
    )
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'moderator', 'viewer')", name=op.f("ck_api_tokens_role")
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_api_tokens_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("ping_role_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("rrule", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("created_by", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_events_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_schedule", "events", ["guild_id", "start_time"], unique=False)

    op.create_table(
        "faq_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column(
            "variants", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_faq_entries_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
    )
    op.create_index(
        "ix_faq_entries_language", "faq_entries", ["guild_id", "language"], unique=False
    )

    op.create_table(
        "moderation_cases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("case_number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("points", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_moderation_cases_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_cases")),
        sa.UniqueConstraint(
            "guild_id", "case_number", name=op.f("uq_moderation_cases_guild_id_case_number")
        ),
        sa.UniqueConstraint(
            "guild_id", "source_key", name=op.f("uq_moderation_cases_guild_id_source_key")
        ),
    )
    op.create_index(
        "ix_moderation_cases_member",
        "moderation_cases",
        ["guild_id", "user_id", "case_number"],
        unique=False,
    )

    op.create_table(
        "pending_approvals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_user_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_channel", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_action", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "decision_channel IN ('telegram', 'discord', 'api', 'command')",
            name=op.f("ck_pending_approvals_decision_channel"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'modified', 'expired')",
            name=op.f("ck_pending_approvals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_pending_approvals_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_approvals")),
    )
    op.create_index(
        "ix_pending_approvals_queue",
        "pending_approvals",
        ["guild_id", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_pending_approvals_workflow_id", "pending_approvals", ["workflow_id"], unique=False
    )

    op.create_table(
        "server_config_history",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_server_config_history_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guild_id", "version", name=op.f("pk_server_config_history")),
    )
    op.create_table(
        "support_tickets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("assigned_to", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("thread_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_support_tickets_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_support_tickets_guild_id_number")),
    )
    op.create_index(
        "ix_support_tickets_status", "support_tickets", ["guild_id", "status"], unique=False
    )
    op.create_index(
        "ix_support_tickets_user", "support_tickets", ["guild_id", "user_id"], unique=False
    )

    op.create_table(
        "user_levels",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("xp", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_messages", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_active", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_xp_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_user_levels_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_user_levels")),
    )
    op.create_index("ix_user_levels_leaderboard", "user_levels", ["guild_id", "xp"], unique=False)

    op.create_table(
        "event_rsvps",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('going', 'maybe', 'declined', 'waitlist')", name=op.f("ck_event_rsvps_state")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_rsvps_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_event_rsvps")),
    )
    op.create_index("ix_event_rsvps_state", "event_rsvps", ["event_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_rsvps_state", table_name="event_rsvps")

    op.drop_table("event_rsvps")
    op.drop_index("ix_user_levels_leaderboard", table_name="user_levels")

    op.drop_table("user_levels")
    op.drop_index("ix_support_tickets_user", table_name="support_tickets")
    op.drop_index("ix_support_tickets_status", table_name="support_tickets")

    op.drop_table("support_tickets")
    op.drop_table("server_config_history")
    op.drop_index("ix_pending_approvals_workflow_id", table_name="pending_approvals")
    op.drop_index("ix_pending_approvals_queue", table_name="pending_approvals")

    op.drop_table("pending_approvals")
    op.drop_index("ix_moderation_cases_member", table_name="moderation_cases")

    op.drop_table("moderation_cases")
    op.drop_index("ix_faq_entries_language", table_name="faq_entries")

    op.drop_table("faq_entries")
    op.drop_index("ix_events_schedule", table_name="events")

    op.drop_table("events")
    op.drop_table("api_tokens")
    op.drop_table("analytics")
    op.drop_table("achievements")
    op.drop_table("servers")
    op.drop_index("ix_audit_log_guild_time", table_name="audit_log")

    op.drop_table("audit_log")
