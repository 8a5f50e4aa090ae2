"""Maintenance queries: the retention policy's erasures, daily analytics rollups, overdue approvals.

Retention erases *content* and keeps the record: a case keeps its number, member, action, points
and reason (the decision); it loses the excerpt of the member's message after the message
window, and its evidence entirely after the log window. Every statement only touches rows that
still hold what it removes, so a second run finds nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.analytics import set_point
from storage.models import (
    ANALYTICS_WHOLE_DAY,
    AnalyticsPoint,
    Appeal,
    AuditLogEntry,
    ModerationCase,
    PendingApproval,
)

BATCH = 500
ERASED = ""
"""An appeal's text once erased (the column is NOT NULL)."""


@dataclass(frozen=True)
class Erased:
    """How many rows each erasure changed."""

    case_excerpts: int = 0
    approval_excerpts: int = 0
    appeal_texts: int = 0
    case_evidence: int = 0
    approval_evidence: int = 0
    audit_details: int = 0

    @property
    def total(self) -> int:
        """Rows changed in all."""
        return sum(vars(self).values())


def _without_excerpt(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    rest = {k: v for k, v in (evidence or {}).items() if k != "excerpt"}
    return rest or None


async def _strip_excerpts(session: AsyncSession, model: Any, *conditions: Any) -> int:
    """Remove `evidence.excerpt` from matching rows, a batch at a time.

    The JSON is edited in Python: SQLite and PostgreSQL spell a key removal differently.
    """
    changed = 0
    while True:
        rows = list(
            await session.execute(
                select(model.id, model.evidence)
                .where(model.evidence["excerpt"].as_string().is_not(None), *conditions)
                .limit(BATCH)
            )
        )
        for row_id, evidence in rows:
            await session.execute(
                update(model).where(model.id == row_id).values(evidence=_without_excerpt(evidence))
            )
        changed += len(rows)
        if len(rows) < BATCH:
            return changed


async def erase_message_content(session: AsyncSession, before: datetime) -> Erased:
    """Members' words older than `before`: case and approval excerpts, decided appeals' text."""
    cases = await _strip_excerpts(session, ModerationCase, ModerationCase.created_at < before)
    approvals = await _strip_excerpts(
        session,
        PendingApproval,
        PendingApproval.created_at < before,
        PendingApproval.status != "pending",
    )
    appeals = await session.execute(
        update(Appeal)
        .where(Appeal.created_at < before, Appeal.status != "pending", Appeal.text != ERASED)
        .values(text=ERASED)
    )
    return Erased(
        case_excerpts=cases,
        approval_excerpts=approvals,
        appeal_texts=appeals.rowcount,  # type: ignore[attr-defined]
    )


async def erase_log_details(session: AsyncSession, before: datetime) -> Erased:
    """Moderation logs older than `before` keep the decision and lose their evidence."""
    cases = await session.execute(
        update(ModerationCase)
        .where(ModerationCase.created_at < before, ModerationCase.evidence.is_not(None))
        .values(evidence=None)
    )
    approvals = await session.execute(
        update(PendingApproval)
        .where(
            PendingApproval.created_at < before,
            PendingApproval.status != "pending",
            PendingApproval.evidence.is_not(None),
        )
        .values(evidence=None)
    )
    audit = await session.execute(
        update(AuditLogEntry)
        .where(
            AuditLogEntry.created_at < before,
            AuditLogEntry.before.is_not(None) | AuditLogEntry.after.is_not(None),
        )
        .values(before=None, after=None)
    )
    return Erased(
        case_evidence=cases.rowcount,  # type: ignore[attr-defined]
        approval_evidence=approvals.rowcount,  # type: ignore[attr-defined]
        audit_details=audit.rowcount,  # type: ignore[attr-defined]
    )


async def roll_up_days(session: AsyncSession, first: date, last: date) -> int:
    """Write each (guild, metric, day)'s whole-day total from its hourly rows, `first`..`last`.

    An upsert, so a re-run (or a late hourly write) just corrects the total.
    """
    sums = list(
        await session.execute(
            select(
                AnalyticsPoint.guild_id,
                AnalyticsPoint.metric,
                AnalyticsPoint.date,
                func.sum(AnalyticsPoint.value),
            )
            .where(
                AnalyticsPoint.date >= first,
                AnalyticsPoint.date <= last,
                AnalyticsPoint.hour != ANALYTICS_WHOLE_DAY,
            )
            .group_by(AnalyticsPoint.guild_id, AnalyticsPoint.metric, AnalyticsPoint.date)
        )
    )
    for guild_id, metric, day, total in sums:
        await set_point(
            session, guild_id, metric, day, ANALYTICS_WHOLE_DAY, int(total or 0), "daily"
        )
    return len(sums)


async def unalerted_approvals(session: AsyncSession, before: datetime) -> list[PendingApproval]:
    """Approvals still pending since before `before` that nobody has been alerted about."""
    rows = await session.scalars(
        select(PendingApproval)
        .where(
            PendingApproval.status == "pending",
            PendingApproval.alerted_at.is_(None),
            PendingApproval.created_at < before,
        )
        .order_by(PendingApproval.created_at)
        .limit(BATCH)
    )
    return list(rows)
