"""Per-server monthly AI-call counters, spent against the server's tier budget.

`consume_ai_call` is one conditional UPDATE (`calls = calls + 1 WHERE calls < limit`), so two
workers racing for the last call of the month cannot both get it, on SQLite or PostgreSQL.
`record_ai_tokens` adds a returned call's tokens and cost (micro-dollars) to the same row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.analytics import AI_CALLS, AI_COST_MICRO_USD, AI_INPUT_TOKENS, AI_OUTPUT_TOKENS
from storage.analytics import add_counts
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
    if calls is not None:  # the hour's `ai_calls` analytics, in the same transaction
        await add_counts(session, {(guild_id, AI_CALLS, now): 1})
    return calls


async def record_ai_tokens(
    session: AsyncSession,
    guild_id: int,
    month: str,
    input_tokens: int,
    output_tokens: int,
    cost_micro_usd: int,
    *,
    now: datetime | None = None,
) -> None:
    """Add one provider call's tokens and cost to the guild's month and to the hour's analytics.

    Called after the call returned, in its own transaction; the call itself was counted before
    (`consume_ai_call`), so this never touches `calls` (a month row it has to create starts at
    0 calls: the call was counted in the previous month, its reply came in this one).
    """
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    added = {
        "input_tokens": max(0, input_tokens),
        "output_tokens": max(0, output_tokens),
        "cost_micro_usd": max(0, cost_micro_usd),
    }
    stmt = insert(session, AIUsage).values(
        guild_id=guild_id, month=month, calls=0, updated_at=now, **added
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AIUsage.guild_id, AIUsage.month],
            set_={
                **{name: getattr(AIUsage, name) + stmt.excluded[name] for name in added},
                "updated_at": now,
            },
        )
    )
    metrics = (AI_INPUT_TOKENS, AI_OUTPUT_TOKENS, AI_COST_MICRO_USD)
    await add_counts(
        session, {(guild_id, m, now): n for m, n in zip(metrics, added.values(), strict=True)}
    )


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
