"""Analytics counters: time-range indexes for the hourly rollup

The `analytics` table itself exists since the initial schema; the hourly rollup
(`maintenance:rollup-hourly`, storage/analytics.py) recomputes each hour from moderation cases,
tickets (opened and closed) and event-attendance awards by time range, so those columns get an
index each.

Revision ID: c4e6a8b0d2f3
Revises: b3d5f7a9c1e2
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4e6a8b0d2f3"
down_revision: str | Sequence[str] | None = "b3d5f7a9c1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_moderation_cases_created_at", "moderation_cases", "created_at"),
    ("ix_support_tickets_created_at", "support_tickets", "created_at"),
    ("ix_support_tickets_closed_at", "support_tickets", "closed_at"),
    ("ix_engagement_awards_granted_at", "engagement_awards", "granted_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
