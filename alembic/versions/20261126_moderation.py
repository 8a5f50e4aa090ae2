"""Moderation: AI usage budget, scam-domain feed snapshots, appeals, approval message ids

Revision ID: c4d6e8f0a2b4
Revises: b3e5f7a9c1d2
Create Date: 2026-11-26 00:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c4d6e8f0a2b4"
down_revision: str | Sequence[str] | None = "b3e5f7a9c1d2"
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
        "ai_usage",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _guild_fk("ai_usage"),
        sa.PrimaryKeyConstraint("guild_id", "month", name=op.f("pk_ai_usage")),
    )
    op.create_table(
        "scam_domain_lists",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("domains", _JSON, nullable=False),
        sa.Column("domain_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scam_domain_lists")),
    )
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sanction", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("approval_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'granted', 'denied')", name=op.f("ck_appeals_status")
        ),
        _guild_fk("appeals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index("ix_appeals_member", "appeals", ["guild_id", "user_id", "created_at"])
    with op.batch_alter_table("pending_approvals") as batch:
        batch.add_column(sa.Column("duration_minutes", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("discord_channel_id", sa.BigInteger(), autoincrement=False, nullable=True)
        )
        batch.add_column(
            sa.Column("discord_message_id", sa.BigInteger(), autoincrement=False, nullable=True)
        )
        batch.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_approvals") as batch:
        batch.drop_column("alerted_at")
        batch.drop_column("discord_message_id")
        batch.drop_column("discord_channel_id")
        batch.drop_column("duration_minutes")
    op.drop_index("ix_appeals_member", table_name="appeals")
    op.drop_table("appeals")
    op.drop_table("scam_domain_lists")
    op.drop_table("ai_usage")
