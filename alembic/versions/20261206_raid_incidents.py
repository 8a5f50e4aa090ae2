"""Raid lockdowns: incidents (with the snapshot to restore) and the members involved

Revision ID: d5e7f9a1b3c5
Revises: c4d6e8f0a2b4
Create Date: 2026-12-06 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d5e7f9a1b3c5"
down_revision: str | Sequence[str] | None = "c4d6e8f0a2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _guild_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["guild_id"], ["servers.id"], name=op.f(f"fk_{table}_guild_id_servers"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "raid_incidents",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", _JSON, nullable=True),
        sa.Column("raid_invite_code", sa.String(length=64), nullable=True),
        sa.Column("raid_invite_creator_id", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("invite_deleted", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=100), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("log", _JSON, nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'lifted')", name=op.f("ck_raid_incidents_status")
        ),
        _guild_fk("raid_incidents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raid_incidents")),
        sa.UniqueConstraint(
            "guild_id", "incident_number", name=op.f("uq_raid_incidents_guild_id_incident_number")
        ),
        sa.UniqueConstraint("workflow_run_id", name=op.f("uq_raid_incidents_workflow_run_id")),
    )
    op.create_index("ix_raid_incidents_guild", "raid_incidents", ["guild_id", "incident_number"])
    op.create_table(
        "raid_incident_members",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invite_code", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reasons", _JSON, nullable=True),
        sa.Column("outcome", sa.String(length=16), server_default="suspected", nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('suspected', 'banned', 'kicked', 'timed_out', 'left', 'kept', 'failed')",
            name=op.f("ck_raid_incident_members_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["raid_incidents.id"],
            name=op.f("fk_raid_incident_members_incident_id_raid_incidents"),
            ondelete="CASCADE",
        ),
        _guild_fk("raid_incident_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raid_incident_members")),
        sa.UniqueConstraint(
            "incident_id", "user_id", name=op.f("uq_raid_incident_members_incident_id_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("raid_incident_members")
    op.drop_index("ix_raid_incidents_guild", table_name="raid_incidents")
    op.drop_table("raid_incidents")
