"""Moderation cases on both backends: per-guild numbers, idempotency, concurrency, listing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from storage.cases import CaseRecord, get_case, list_cases, record_case
from storage.models import ModerationCase, Server

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
USER = 333_333_333_333_333_333
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def _record(factory, key: str, *, guild: int = GUILD, **overrides) -> CaseRecord:
    """Record one case in its own transaction, as an activity does."""
    fields: dict[str, Any] = {
        "guild_id": guild,
        "user_id": USER,
        "action": "warn",
        "reason": "spam",
        "source": "automod",
        "source_key": key,
        "created_at": T0,
    }
    async with factory() as session, session.begin():
        return await record_case(session, **(fields | overrides))


async def test_numbers_are_per_guild_and_sequential(session_factory):
    """Each guild counts its own cases from 1."""
    numbers = [
        (await _record(session_factory, f"k{i}", guild=guild)).case_number
        for i, guild in enumerate([GUILD, OTHER_GUILD, GUILD, GUILD, OTHER_GUILD])
    ]
    assert numbers == [1, 1, 2, 3, 2]


async def test_record_case_is_idempotent_on_source_key(session_factory):
    """A retried activity gets the case it stored before, and no number is used up."""
    first = await _record(session_factory, "msg:1", reason="first attempt")
    again = await _record(session_factory, "msg:1", reason="retry")
    after = await _record(session_factory, "msg:2")
    assert again == first
    assert again.reason == "first attempt"
    assert after.case_number == first.case_number + 1
    same_key_elsewhere = await _record(session_factory, "msg:1", guild=OTHER_GUILD)
    assert same_key_elsewhere.case_number == 1


async def test_record_case_returns_every_field(session_factory):
    """The record carries what was stored, including the generated id and number."""
    case = await _record(
        session_factory,
        "ai:9",
        action="timeout",
        moderator_id=444,
        evidence={"excerpt": "buy now", "scores": [0.9]},
        rule="scam",
        points=2,
        duration_seconds=600,
        expires_at=T0 + timedelta(minutes=10),
        workflow_id="moderation:1:2",
        source="ai",
    )
    async with session_factory() as session:
        stored = await get_case(session, GUILD, case.case_number)
    assert stored == case
    assert case.id > 0 and case.case_number == 1
    assert (case.evidence, case.rule, case.points) == (
        {"excerpt": "buy now", "scores": [0.9]},
        "scam",
        2,
    )
    assert (case.duration_seconds, case.expires_at) == (600, T0 + timedelta(minutes=10))
    assert (case.moderator_id, case.workflow_id, case.source) == (444, "moderation:1:2", "ai")


async def test_record_case_creates_the_server_row(session_factory):
    """A case for a guild the suite has not seen yet still gets stored."""
    await _record(session_factory, "k")
    async with session_factory() as session:
        server = await session.get(Server, GUILD)
    assert server is not None and server.next_case_number == 2


async def test_concurrent_writers_get_consecutive_numbers(session_factory):
    """50 activities at once (separate sessions) get 50 distinct, consecutive numbers."""
    cases = await asyncio.gather(*(_record(session_factory, f"c{i}") for i in range(50)))
    assert sorted(c.case_number for c in cases) == list(range(1, 51))


async def test_concurrent_retries_store_each_key_once(session_factory):
    """Duplicate deliveries racing each other still produce one case per key."""
    cases = await asyncio.gather(*(_record(session_factory, f"dup{i % 5}") for i in range(20)))
    by_key = {c.source_key: c.case_number for c in cases}
    assert sorted(by_key.values()) == [1, 2, 3, 4, 5]
    assert all(c.case_number == by_key[c.source_key] for c in cases)
    async with session_factory() as session:
        assert len((await session.scalars(select(ModerationCase))).all()) == 5


async def test_get_case_unknown_is_none(session_factory):
    async with session_factory() as session:
        assert await get_case(session, GUILD, 1) is None


@pytest.fixture
async def seeded(session_factory):
    """Seven cases for two users with mixed actions, sources and times, one a minute."""
    specs = [
        (USER, "warn", "automod"),
        (USER, "timeout", "automod"),
        (444, "warn", "manual"),
        (USER, "ban", "ai"),
        (444, "warn", "automod"),
        (USER, "warn", "manual"),
        (444, "kick", "manual"),
    ]
    for i, (user, action, source) in enumerate(specs):
        await _record(
            session_factory,
            f"s{i}",
            user_id=user,
            action=action,
            source=source,
            created_at=T0 + timedelta(minutes=i),
        )
    await _record(session_factory, "other", guild=OTHER_GUILD)
    return session_factory


async def _numbers(factory, **filters) -> list[int]:
    async with factory() as session:
        return [c.case_number for c in await list_cases(session, GUILD, **filters)]


async def test_list_cases_newest_first_and_filters(seeded):
    """Filters combine; results stay newest first and never leak another guild's cases."""
    assert await _numbers(seeded) == [7, 6, 5, 4, 3, 2, 1]
    assert await _numbers(seeded, user_id=USER) == [6, 4, 2, 1]
    assert await _numbers(seeded, action="warn") == [6, 5, 3, 1]
    assert await _numbers(seeded, source="manual") == [7, 6, 3]
    assert await _numbers(seeded, user_id=USER, action="warn") == [6, 1]
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    assert await _numbers(seeded, since=since, until=until) == [5, 4, 3]
    assert await _numbers(seeded, action="unban") == []


async def test_list_cases_keyset_pagination(seeded):
    """Each page starts below the last number of the previous one, until the end."""
    pages, before = [], None
    while page := await _numbers(seeded, limit=3, before_case=before):
        pages.append(page)
        before = page[-1]
    assert pages == [[7, 6, 5], [4, 3, 2], [1]]
    assert await _numbers(seeded, user_id=USER, before_case=4, limit=1) == [2]


async def test_list_cases_rejects_empty_pages(session_factory):
    async with session_factory() as session:
        with pytest.raises(ValueError, match="limit"):
            await list_cases(session, GUILD, limit=0)


async def test_timestamps_come_back_aware_utc(session_factory):
    """Whatever offset goes in, the same instant comes out in UTC, after a real round trip."""
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    recorded = await _record(session_factory, "tz", created_at=created, expires_at=created)
    assert recorded.created_at.tzinfo is UTC
    async with session_factory() as session:
        stored = await get_case(session, GUILD, recorded.case_number)
        server = await session.get(Server, GUILD)
    assert stored is not None and server is not None
    for value in (stored.created_at, stored.expires_at, server.created_at, server.updated_at):
        assert value is not None and value.tzinfo is UTC
    assert stored.created_at == created
    assert stored.created_at.hour == 12 and stored.created_at.microsecond == 123456


async def test_naive_timestamps_are_refused(session_factory):
    """A naive datetime is a bug upstream: refuse it rather than guess its zone."""
    with pytest.raises(StatementError, match="naive datetime"):
        await _record(session_factory, "naive", created_at=datetime(2026, 1, 1))


async def test_missing_evidence_is_sql_null(session_factory):
    """No evidence is stored as SQL NULL, not the JSON text 'null'."""
    await _record(session_factory, "plain")
    async with session_factory() as session:
        nulls = await session.scalar(
            text("SELECT count(*) FROM moderation_cases WHERE evidence IS NULL")
        )
    assert nulls == 1


async def test_deleting_a_server_deletes_its_cases(session_factory):
    """Guild-scoped rows go with the guild (GDPR erasure is one DELETE)."""
    await _record(session_factory, "a")
    await _record(session_factory, "b", guild=OTHER_GUILD)
    async with session_factory() as session, session.begin():
        await session.execute(text("DELETE FROM servers WHERE id = :id"), {"id": GUILD})
    async with session_factory() as session:
        guilds = (await session.scalars(select(ModerationCase.guild_id))).all()
    assert guilds == [OTHER_GUILD]
