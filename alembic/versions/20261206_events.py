"""Events: the row its workflow saves, RSVPs per occurrence, member time zones, feed keys

The old `events`/`event_rsvps` tables (never written by any feature) are replaced: an RSVP now
belongs to one occurrence of a recurring event and keeps its order (`seq`) for the waitlist.

Revision ID: f7a9b1c3d5e7
Revises: e6f8a0b2c4d6
Create Date: 2026-12-06 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f7a9b1c3d5e7"
down_revision: str | Sequence[str] | None = "e6f8a0b2c4d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATUSES = "status IN ('scheduled', 'active', 'completed', 'cancelled')"
_RSVP_STATES = "status IN ('going', 'maybe', 'declined', 'waitlist')"


def _guild_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["guild_id"], ["servers.id"], name=op.f(f"fk_{table}_guild_id_servers"), ondelete="CASCADE"
    )


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    op.drop_index("ix_event_rsvps_state", table_name="event_rsvps")
    op.drop_table("event_rsvps")
    op.drop_index("ix_events_schedule", table_name="events")
    op.drop_table("events")
    _create_events()
    _create_rsvps()
    op.create_table(
        "member_timezones",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_member_timezones")),
    )
    op.create_table(
        "event_feed_keys",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _guild_fk("event_feed_keys"),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_event_feed_keys")),
    )


def _create_events() -> None:
    op.create_table(
        "events",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("location", sa.String(length=200), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("ping_role_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("discord_event_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("recurrence", sa.String(length=500), nullable=True),
        sa.Column("occurrence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        _count("going_count"),
        _count("maybe_count"),
        _count("declined_count"),
        _count("waitlist_count"),
        sa.Column("created_by", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_events_status")),
        _guild_fk("events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_schedule", "events", ["guild_id", "start_at"])
    op.create_index("ix_events_message", "events", ["message_id"])
    op.create_index("ix_events_discord", "events", ["guild_id", "discord_event_id"])


def _create_rsvps() -> None:
    op.create_table(
        "event_rsvps",
        sa.Column("event_id", _SERIAL, autoincrement=False, nullable=False),
        sa.Column("occurrence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("attended", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_RSVP_STATES, name=op.f("ck_event_rsvps_status")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_rsvps_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "occurrence", "user_id", name=op.f("pk_event_rsvps")),
    )
    op.create_index(
        "ix_event_rsvps_order", "event_rsvps", ["event_id", "occurrence", "status", "seq"]
    )


def downgrade() -> None:
    op.drop_table("event_feed_keys")
    op.drop_table("member_timezones")
    op.drop_index("ix_event_rsvps_order", table_name="event_rsvps")
    op.drop_table("event_rsvps")
    for name in ("ix_events_discord", "ix_events_message", "ix_events_schedule"):
        op.drop_index(name, table_name="events")
    op.drop_table("events")
    _restore_old_tables()


def _restore_old_tables() -> None:
    op.create_table(
        "events",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
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
        _guild_fk("events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_schedule", "events", ["guild_id", "start_time"])
    op.create_table(
        "event_rsvps",
        sa.Column("event_id", _SERIAL, autoincrement=False, nullable=False),
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
    op.create_index("ix_event_rsvps_state", "event_rsvps", ["event_id", "state"])
