"""The hourly analytics rollup: recompute recent hours' metrics from the source tables.

Takes its instant from the workflow (`workflow.now()`), so a retried attempt recomputes the same
hours; each hour is overwritten with totals computed from scratch (`storage.analytics
.recompute_hour`), so a retry or a second run leaves the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.analytics import hour_floor
from storage.analytics import recompute_hour

HOURS_BACK = 3


@dataclass(frozen=True)
class HourlyRollupInput:
    """Recompute the hour holding `now` and the `hours_back` hours before it."""

    now: datetime
    hours_back: int = HOURS_BACK


class AnalyticsActivities:
    """Analytics maintenance; the session factory is injected."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="roll_up_analytics_hours")
    async def roll_up_hours(self, inp: HourlyRollupInput) -> int:
        """Recompute each hour in one transaction; returns the non-zero rows written."""
        current = hour_floor(inp.now)
        written = 0
        async with self._sessions() as session, session.begin():
            for back in range(inp.hours_back, -1, -1):
                written += await recompute_hour(session, current - timedelta(hours=back))
        return written
