"""Tier limits enforced in the database (storage.tiers), on SQLite and PostgreSQL.

AI calls never exceed the month's budget even when many callers race; a server over its members
or servers limit gets no AI; each notice to the admins is written once; tier changes are audited.
"""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from storage.ai_usage import ai_calls_used, set_ai_calls
from storage.models import AuditLogEntry, Server, ServerAccount
from storage.servers import ensure_server
from storage.tiers import (
    UnknownTier,
    evaluate_account,
    notices_of,
    over_limit_guilds,
    record_guild,
    reserve_ai_call,
    set_tier,
    undelivered_notices,
    usage_report,
)

GUILD = 818181818181818181
OWNER = 424242424242424242
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
MONTH = "2026-12"


async def reserve(sessions, guild=GUILD):
    async with sessions() as session, session.begin():
        return await reserve_ai_call(session, guild, now=NOW)


async def tier(sessions, guild, name):
    async with sessions() as session, session.begin():
        return await set_tier(session, guild, name, actor="test", now=NOW)


async def fill(sessions, calls, guild=GUILD):
    async with sessions() as session, session.begin():
        await set_ai_calls(session, guild, MONTH, calls, now=NOW)


async def used(sessions, guild=GUILD):
    async with sessions() as session:
        return await ai_calls_used(session, guild, MONTH)


async def notice_keys(sessions, guild=GUILD):
    async with sessions() as session:
        return sorted(n.key for n in await notices_of(session, guild))


# ------------------------------------------------------------------------------ AI budget


async def test_concurrent_ai_calls_never_overspend_the_tier(session_factory):
    await fill(session_factory, 9_990)  # starter: 10 calls left this month
    results = await asyncio.gather(*(reserve(session_factory) for _ in range(30)))
    assert sum(r.allowed for r in results) == 10
    assert {r.reason for r in results if not r.allowed} == {"budget"}
    assert await used(session_factory) == 10_000
    assert (await reserve(session_factory)).explain().startswith("AI budget spent (10,000 of")
    # the 100 % notice was written by exactly the call that took the last one
    assert sum(100 in r.notices for r in results) == 1
    assert await notice_keys(session_factory) == [f"ai:{MONTH}:100"]


async def test_the_80_percent_notice_is_written_once(session_factory):
    await fill(session_factory, 7_995)
    results = await asyncio.gather(*(reserve(session_factory) for _ in range(10)))
    assert all(r.allowed for r in results)
    assert [r.notices for r in results].count([80]) == 1
    assert await notice_keys(session_factory) == [f"ai:{MONTH}:80"]
    async with session_factory() as session:
        [notice] = await undelivered_notices(session, [GUILD])
    assert "8,000 of its 10,000 AI calls" in notice.text


async def test_the_tier_comes_from_the_server_row_and_an_upgrade_lifts_the_limit(
    session_factory,
):
    await fill(session_factory, 10_000)
    assert not (await reserve(session_factory)).allowed
    change = await tier(session_factory, GUILD, "growth")
    assert (change.before, change.after) == ("starter", "growth")
    gate = await reserve(session_factory)
    assert gate.allowed and gate.tier == "growth" and gate.limit == 50_000
    await tier(session_factory, GUILD, "enterprise")
    await fill(session_factory, 10**7)
    assert (await reserve(session_factory)).allowed  # unlimited, still counted
    assert await used(session_factory) == 10**7 + 1


async def test_tier_changes_are_audited_and_unknown_tiers_refused(session_factory):
    await tier(session_factory, GUILD, "scale")
    await tier(session_factory, GUILD, "scale")  # no change: no second entry
    with pytest.raises(UnknownTier, match="platinum"):
        await tier(session_factory, GUILD, "platinum")
    async with session_factory() as session:
        entries = (
            await session.scalars(select(AuditLogEntry).where(AuditLogEntry.guild_id == GUILD))
        ).all()
        stored = await session.scalar(select(Server.tier).where(Server.id == GUILD))
    assert [(e.action, e.actor, e.before, e.after) for e in entries] == [
        ("tier.set", "test", {"tier": "starter"}, {"tier": "scale"})
    ]
    assert stored == "scale"


# --------------------------------------------------------------------------------- members


async def test_too_many_members_pause_ai_and_tell_the_admins_once(session_factory):
    async with session_factory() as session, session.begin():
        changes = await record_guild(session, GUILD, owner_id=OWNER, member_count=5_001, now=NOW)
    assert [(c.before, c.after) for c in changes] == [("", "members")]
    assert "5,001 members" in changes[0].notice
    async with session_factory() as session, session.begin():  # the same count again
        assert await record_guild(session, GUILD, owner_id=OWNER, member_count=5_002) == []
    gate = await reserve(session_factory)
    assert not gate.allowed and gate.reason == "over_limit"
    assert await used(session_factory) == 0  # nothing counted
    [key] = await notice_keys(session_factory)
    assert key.startswith("over:members:")

    await tier(session_factory, GUILD, "growth")  # 25,000 members allowed
    async with session_factory() as session:
        assert await over_limit_guilds(session, [GUILD]) == {}
    assert (await reserve(session_factory)).allowed
    keys = await notice_keys(session_factory)
    assert len(keys) == 2 and any(k.startswith("within:") for k in keys)


# --------------------------------------------------------------------------------- servers


async def test_an_owners_extra_server_is_registered_but_flagged(session_factory):
    guilds = [GUILD, GUILD + 1, GUILD + 2]
    for i, guild in enumerate(guilds):
        async with session_factory() as session, session.begin():
            await ensure_server(session, guild, f"server {i}")
            await session.execute(  # registration order decides who keeps working
                update(Server)
                .where(Server.id == guild)
                .values(created_at=datetime(2026, 12, 1 + i, tzinfo=UTC))
            )
            await record_guild(session, guild, owner_id=OWNER, member_count=100, now=NOW)
    async with session_factory() as session:
        flags = await over_limit_guilds(session, guilds)
    assert flags == {GUILD + 1: "servers", GUILD + 2: "servers"}  # starter: one server
    assert not (await reserve(session_factory, GUILD + 2)).allowed
    assert (await reserve(session_factory, GUILD)).allowed
    [key] = await notice_keys(session_factory, GUILD + 1)
    assert key.startswith("over:servers:")

    await tier(session_factory, GUILD, "growth")  # the account's best tier: 3 servers
    async with session_factory() as session:
        assert await over_limit_guilds(session, guilds) == {}
    async with session_factory() as session:
        [row] = [r for r in await usage_report(session, MONTH) if r.guild_id == GUILD + 2]
    assert (row.tier, row.account_tier, row.account_servers) == ("starter", "growth", 3)


async def test_a_server_given_to_another_owner_frees_the_old_account(session_factory):
    for guild in (GUILD, GUILD + 1):
        async with session_factory() as session, session.begin():
            await ensure_server(session, guild, str(guild))
            await record_guild(session, guild, owner_id=OWNER, member_count=10, now=NOW)
    async with session_factory() as session:
        assert await over_limit_guilds(session, [GUILD, GUILD + 1]) == {GUILD + 1: "servers"}
    async with session_factory() as session, session.begin():  # GUILD goes to someone else
        changes = await record_guild(session, GUILD, owner_id=OWNER + 1, member_count=10)
    assert [(c.guild_id, c.after) for c in changes] == [(GUILD + 1, "")]
    async with session_factory() as session:
        assert await over_limit_guilds(session, [GUILD, GUILD + 1]) == {}


async def test_an_erased_owner_is_no_shared_account(session_factory):
    for guild in (GUILD, GUILD + 1):
        async with session_factory() as session, session.begin():
            await record_guild(session, guild, owner_id=0, member_count=10, now=NOW)
    async with session_factory() as session, session.begin():
        assert await evaluate_account(session, GUILD + 1, 0, now=NOW) == []
        assert await over_limit_guilds(session, [GUILD, GUILD + 1]) == {}


# --------------------------------------------------------------------------------- reports


async def test_usage_report_rows(session_factory):
    async with session_factory() as session, session.begin():
        await ensure_server(session, GUILD, "Book Club")
        await record_guild(session, GUILD, owner_id=OWNER, member_count=6_000, now=NOW)
        await ensure_server(session, GUILD + 1, "Quiet")
    await fill(session_factory, 10_000)
    async with session_factory() as session, session.begin():
        await set_ai_calls(session, GUILD, "2026-11", 3, now=NOW)
    async with session_factory() as session:
        rows = await usage_report(session, MONTH)
        november = await usage_report(session, "2026-11", [GUILD])
    book, quiet = rows
    assert (book.name, book.tier, book.members, book.ai_calls, book.ai_calls_left) == (
        "Book Club",
        "starter",
        6_000,
        10_000,
        0,
    )
    assert book.over_limit == ["members"] and book.ai_budget_spent and book.owner_id == OWNER
    assert (quiet.members, quiet.ai_calls, quiet.over_limit, quiet.owner_id) == (None, 0, [], None)
    assert [r.ai_calls for r in november] == [3]


async def test_account_row_created_when_missing(session_factory):
    async with session_factory() as session, session.begin():
        await record_guild(session, GUILD, owner_id=None, member_count=None, now=NOW)
        row = await session.get(ServerAccount, GUILD)
    assert row is not None and row.over_limit == "" and row.owner_id is None
