"""Maintenance activities: retention erasures, the daily analytics rollup, overdue approvals.

Each takes the instant it works relative to from its workflow (`workflow.now()`), so a retried
attempt computes the same cutoffs, and each is idempotent by construction (see
`storage.retention`). Alerts themselves reuse the approval path's activities
(`mark_approval_alerted`, `telegram_alert`, `post_alert`), so nobody is told twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from dcs.server_config import ServerConfig, stored_or_default
from domain.catalogue import text
from storage.retention import (
    erase_log_details,
    erase_message_content,
    roll_up_days,
    unalerted_approvals,
)
from storage.servers import get_server_config

MESSAGE_DAYS = 30
LOG_DAYS = 90


@dataclass(frozen=True)
class RetentionPolicy:
    """How long members' words and moderation-log details are kept (the schedule's argument)."""

    message_days: int = MESSAGE_DAYS
    log_days: int = LOG_DAYS


@dataclass(frozen=True)
class RetentionInput:
    """The run's instant and how long members' words and moderation logs are kept."""

    now: datetime
    message_days: int = MESSAGE_DAYS
    log_days: int = LOG_DAYS


@dataclass(frozen=True)
class RetentionResult:
    """Rows changed: members' words erased, log details erased."""

    messages: int
    logs: int


@dataclass(frozen=True)
class RollupInput:
    """Roll up the `days_back` whole days before `now`'s UTC date."""

    now: datetime
    days_back: int = 3


@dataclass(frozen=True)
class OverdueInput:
    """Approvals pending past their server's `moderation.alert_after_minutes` plus a grace.

    The member's workflow normally alerts first; this sweep catches the rest.
    """

    now: datetime
    grace_minutes: int = 5


@dataclass(frozen=True)
class OverdueApproval:
    """One approval to alert about, with the text and where the server's staff read it."""

    approval_id: str
    guild_id: int
    text: str
    mod_log_channel_id: int | None = None


@dataclass(frozen=True)
class OverdueApprovals:
    """What the sweep found (at most one batch; the next run takes the rest)."""

    approvals: list[OverdueApproval] = field(default_factory=list)


class MaintenanceActivities:
    """Database maintenance; the session factory is injected."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="apply_retention")
    async def apply_retention(self, inp: RetentionInput) -> RetentionResult:
        """Erase members' words after `message_days` and log details after `log_days`."""
        async with self._sessions() as session, session.begin():
            words = await erase_message_content(session, inp.now - timedelta(inp.message_days))
            logs = await erase_log_details(session, inp.now - timedelta(inp.log_days))
        return RetentionResult(words.total, logs.total)

    @activity.defn(name="roll_up_analytics")
    async def roll_up_analytics(self, inp: RollupInput) -> int:
        """Whole-day totals for the last few complete UTC days; returns the totals written."""
        today = inp.now.date()
        async with self._sessions() as session, session.begin():
            return await roll_up_days(
                session, today - timedelta(inp.days_back), today - timedelta(1)
            )

    @activity.defn(name="find_overdue_approvals")
    async def find_overdue_approvals(self, inp: OverdueInput) -> OverdueApprovals:
        """Pending approvals older than their server's alert threshold, not alerted yet."""
        found: list[OverdueApproval] = []
        configs: dict[int, ServerConfig] = {}
        async with self._sessions() as session:
            candidates = await unalerted_approvals(session, inp.now - timedelta(minutes=1))
            for row in candidates:
                if row.guild_id not in configs:
                    raw, _ = await get_server_config(session, row.guild_id)
                    configs[row.guild_id] = stored_or_default(raw)
                config = configs[row.guild_id]
                waited = int((inp.now - row.created_at).total_seconds() // 60)
                if waited < config.moderation.alert_after_minutes + inp.grace_minutes:
                    continue
                found.append(
                    OverdueApproval(
                        approval_id=row.id,
                        guild_id=row.guild_id,
                        text=text(
                            "moderation.approval_pending_alert",
                            config.language,
                            minutes=waited,
                            action=row.action,
                            member=f"<@{row.target_user_id}>" if row.target_user_id else "-",
                            reason=row.reason[:200],
                            approval_id=row.id,
                        ),
                        mod_log_channel_id=config.mod_log_channel_id,
                    )
                )
        return OverdueApprovals(found)
