"""Engagement counters and the keyset leaderboard index

Adds to `user_levels` the counters achievements read (streak, reactions received, events attended,
tickets helped, invites, voice minutes) and rebuilds `ix_user_levels_leaderboard` as
(guild_id, xp DESC, user_id): the leaderboard order, so a page, a keyset cursor and a member's rank
are each one forward range scan of the index on SQLite and PostgreSQL.

Revision ID: 7c1e5a9b2f40
Revises: 4d4feb556e65
Create Date: 2026-11-25 22:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7c1e5a9b2f40"
down_revision: str | Sequence[str] | None = "4d4feb556e65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = (
    ("reactions_received", sa.Integer()),
    ("events_attended", sa.Integer()),
    ("tickets_helped", sa.Integer()),
    ("invites", sa.Integer()),
    ("voice_minutes", sa.BigInteger()),
)


def upgrade() -> None:
    with op.batch_alter_table("user_levels") as batch:
        batch.add_column(
            sa.Column("streak_days", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("streak_last_day", sa.Date(), nullable=True))
        for name, type_ in _COUNTERS:
            batch.add_column(sa.Column(name, type_, server_default="0", nullable=False))
    op.drop_index("ix_user_levels_leaderboard", table_name="user_levels")
    op.create_index(
        "ix_user_levels_leaderboard",
        "user_levels",
        ["guild_id", sa.literal_column("xp DESC"), "user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_user_levels_leaderboard", table_name="user_levels")
    op.create_index("ix_user_levels_leaderboard", "user_levels", ["guild_id", "xp"], unique=False)
    with op.batch_alter_table("user_levels") as batch:
        for name, _ in reversed(_COUNTERS):
            batch.drop_column(name)
        batch.drop_column("streak_last_day")
        batch.drop_column("streak_days")
