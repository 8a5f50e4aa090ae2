"""AI cost: tokens and micro-dollars per server per month on `ai_usage`

The providers' token counts and their price (domain/ai_cost.py, AI_PRICES) are added to the
month's row after each call returns; rows from before this revision start at 0.

Revision ID: e6a8c0d2f4b6
Revises: d5f7b9c1e3a4
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6a8c0d2f4b6"
down_revision: str | Sequence[str] | None = "d5f7b9c1e3a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("input_tokens", "output_tokens", "cost_micro_usd")


def upgrade() -> None:
    with op.batch_alter_table("ai_usage") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("ai_usage") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
