"""Support tickets: who claimed and closed a ticket, reopen count, rating time, how it was opened

The `support_tickets` table exists since the initial schema; the ticket workflow also records the
claimer (as distinct from an assignee), the closer, how often it was reopened and when it was
rated, and the gateway finds a ticket by its thread or channel (`ix_support_tickets_thread`).

Revision ID: b2d4f6a8c0e2
Revises: a1c3e5f7b9d1
Create Date: 2026-12-06 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b2d4f6a8c0e2"
down_revision: str | Sequence[str] | None = "a1c3e5f7b9d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_tickets") as batch:
        batch.add_column(sa.Column("claimed_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="command", nullable=False)
        )
        batch.create_index("ix_support_tickets_thread", ["thread_id"])


def downgrade() -> None:
    with op.batch_alter_table("support_tickets") as batch:
        batch.drop_index("ix_support_tickets_thread")
        batch.drop_column("source")
        batch.drop_column("rated_at")
        batch.drop_column("reopen_count")
        batch.drop_column("closed_by")
        batch.drop_column("claimed_by")
