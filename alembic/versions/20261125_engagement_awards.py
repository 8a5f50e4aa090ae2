"""One-off engagement rewards (event participation, ...), idempotent by key

Revision ID: 9a2d4c6e8b10
Revises: 7c1e5a9b2f40
Create Date: 2026-11-25 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "9a2d4c6e8b10"
down_revision: str | Sequence[str] | None = "7c1e5a9b2f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagement_awards",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("award_key", sa.String(length=100), nullable=False),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["servers.id"],
            name=op.f("fk_engagement_awards_guild_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "guild_id", "user_id", "award_key", name=op.f("pk_engagement_awards")
        ),
    )


def downgrade() -> None:
    op.drop_table("engagement_awards")
