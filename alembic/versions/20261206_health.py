"""Health marks: the gateway's heartbeat and the health-check schedule's alerted checks

Revision ID: e5a7c9e1f3b5
Revises: c3e5a7b9d1f3
Create Date: 2026-12-06 18:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a7c9e1f3b5"
down_revision: str | Sequence[str] | None = "c3e5a7b9d1f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_marks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_health_marks")),
    )


def downgrade() -> None:
    op.drop_table("health_marks")
