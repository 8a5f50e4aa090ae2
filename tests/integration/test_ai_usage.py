"""Per-server monthly AI-call counters: atomic, bounded by the limit, on SQLite and PostgreSQL."""

import asyncio

from sqlalchemy import select

from storage.ai_usage import ai_calls_used, consume_ai_call, set_ai_calls
from storage.models import Server

GUILD = 555555555555555555


async def consume(sessions, limit, month="2026-11", guild=GUILD):
    async with sessions() as session, session.begin():
        return await consume_ai_call(session, guild, month, limit)


async def used(sessions, month="2026-11", guild=GUILD):
    async with sessions() as session:
        return await ai_calls_used(session, guild, month)


async def test_counts_up_to_the_limit_then_refuses(session_factory):
    assert await used(session_factory) == 0
    assert [await consume(session_factory, 3) for _ in range(5)] == [1, 2, 3, None, None]
    assert await used(session_factory) == 3
    async with session_factory() as session:
        assert await session.scalar(select(Server.id).where(Server.id == GUILD)) == GUILD


async def test_months_and_guilds_are_counted_apart(session_factory):
    await consume(session_factory, 1)
    assert await consume(session_factory, 1) is None
    assert await consume(session_factory, 1, month="2026-12") == 1
    assert await consume(session_factory, 1, guild=GUILD + 1) == 1
    assert await used(session_factory, month="2026-12") == 1


async def test_unlimited_still_counts(session_factory):
    async with session_factory() as session, session.begin():
        await set_ai_calls(session, GUILD, "2026-11", 10_000_000)
    assert await consume(session_factory, None) == 10_000_001


async def test_concurrent_consumers_never_exceed_the_limit(session_factory):
    results = await asyncio.gather(*(consume(session_factory, 7) for _ in range(20)))
    granted = [r for r in results if r is not None]
    assert sorted(granted) == list(range(1, 8))
    assert results.count(None) == 13
    assert await used(session_factory) == 7
