"""Per-server monthly AI-call counters, spent against the server's tier budget.

`consume_ai_call` is one conditional UPDATE (`calls = calls + 1 WHERE calls < limit`), so two
workers racing for the last call of the month cannot both get it, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AIUsage
from storage.servers import ensure_server_exists
from storage.types import utcnow
from storage.upsert import insert


async def consume_ai_call(
    session: AsyncSession,
    guild_id: int,
    month: str,
    limit: int | None,
    *,
    now: datetime | None = None,
) -> int | None:
    """Count one AI call for the guild's month if the budget allows; the new count, or None.

    `limit` None means unlimited (the call is still counted, for reporting). Creates the guild's
    row and the month's counter as needed.
    """
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    create = (
        insert(session, AIUsage)
        .values(guild_id=guild_id, month=month, calls=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=[AIUsage.guild_id, AIUsage.month])
    )
    await session.execute(create)
    stmt = (
        update(AIUsage)
        .where(AIUsage.guild_id == guild_id, AIUsage.month == month)
        .values(calls=AIUsage.calls + 1, updated_at=now)
        .returning(AIUsage.calls)
        .execution_options(synchronize_session=False)
    )
    if limit is not None:
        stmt = stmt.where(AIUsage.calls < limit)
    calls: int | None = (await session.execute(stmt)).scalar_one_or_none()
    return calls


async def ai_calls_used(session: AsyncSession, guild_id: int, month: str) -> int:
    """AI calls the guild made in `month` ('YYYY-MM'); 0 when none were counted."""
    calls = await session.scalar(
        select(AIUsage.calls).where(AIUsage.guild_id == guild_id, AIUsage.month == month)
    )
    return calls or 0


async def set_ai_calls(
    session: AsyncSession, guild_id: int, month: str, calls: int, *, now: datetime | None = None
) -> None:
    """Set the month's counter (operators correcting a count; tests filling a budget)."""
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    stmt = (
        insert(session, AIUsage)
        .values(guild_id=guild_id, month=month, calls=calls, updated_at=now)
        .on_conflict_do_update(
            index_elements=[AIUsage.guild_id, AIUsage.month],
            set_={"calls": calls, "updated_at": now},
        )
    )
    await session.execute(stmt)
