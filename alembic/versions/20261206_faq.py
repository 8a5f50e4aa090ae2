"""FAQ knowledge base: per-entry hit and feedback counters, and one vote per member and answer

Revision ID: a1c3e5f7b9d1
Revises: f7a9b1c3d5e7
Create Date: 2026-12-06 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1c3e5f7b9d1"
down_revision: str | Sequence[str] | None = "f7a9b1c3d5e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COUNTERS = ("hits", "helpful", "not_helpful")


def upgrade() -> None:
    with op.batch_alter_table("faq_entries") as batch:
        for name in _COUNTERS:
            batch.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "faq_feedback",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", _SERIAL, nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["servers.id"],
            name=op.f("fk_faq_feedback_guild_id_servers"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["faq_entries.id"],
            name=op.f("fk_faq_feedback_entry_id_faq_entries"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", name=op.f("pk_faq_feedback")),
    )  # fmt: skip
    op.create_index(op.f("ix_faq_feedback_entry_id"), "faq_feedback", ["entry_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_faq_feedback_entry_id"), table_name="faq_feedback")
    op.drop_table("faq_feedback")
    with op.batch_alter_table("faq_entries") as batch:
        for name in reversed(_COUNTERS):
            batch.drop_column(name)
