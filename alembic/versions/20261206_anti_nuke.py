"""Anti-nuke incidents: the actor, the evidence (with what to restore from), the outcome

Revision ID: e6f8a0b2c4d6
Revises: d5e7f9a1b3c5
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e6f8a0b2c4d6"
down_revision: str | Sequence[str] | None = "d5e7f9a1b3c5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATUSES = "status IN ('open', 'restored', 'banned', 'released', 'kept', 'expired')"


def upgrade() -> None:
    op.create_table(
        "anti_nuke_incidents",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("mitigation", sa.String(length=32), nullable=False),
        sa.Column("removed_role_ids", _JSON, nullable=True),
        sa.Column("evidence", _JSON, nullable=True),
        sa.Column("approval_id", sa.String(length=36), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", _JSON, nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_anti_nuke_incidents_status")),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_anti_nuke_incidents_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anti_nuke_incidents")),
        sa.UniqueConstraint("workflow_run_id", name=op.f("uq_anti_nuke_incidents_workflow_run_id")),
    )
    op.create_index(
        "ix_anti_nuke_incidents_guild", "anti_nuke_incidents", ["guild_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_anti_nuke_incidents_guild", table_name="anti_nuke_incidents")
    op.drop_table("anti_nuke_incidents")
