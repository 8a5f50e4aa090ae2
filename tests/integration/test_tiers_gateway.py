"""Tier limits through the simulator and the real gateway: a starter server with more members
than its tier allows keeps moderation, earns no XP, and its admins are told once in #mod-log;
when a member leaves and it is back within the limit, XP runs again and they are told so. The
gateway stores the guild's owner and member count. Both databases."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from support import eventually, running_bot

from dcs.server_config import default_server_config
from gateway import tiers as gateway_tiers
from simulator.models import Member
from storage.levels import get_member_level
from storage.models import ServerAccount
from storage.tiers import notices_of

STARTER_MEMBERS = 5_000


@pytest.fixture(autouse=True)
def quick_flush(monkeypatch):
    monkeypatch.setattr(gateway_tiers, "FLUSH_SECONDS", 0.2)


def crowd(sim, count: int) -> list[int]:
    """Members added to the guild without events, as if they were there before the bot."""
    guild = sim.world.guilds[sim.world.guild_id]
    ids = []
    for i in range(count):
        user = sim.world.add_user(f"crowd{i}")
        guild.members[user.id] = Member(user.id, guild.id, datetime.now(UTC))
        ids.append(user.id)
    return ids


def plan_notices(sim) -> list[str]:
    return [
        e["description"]
        for m in sim.messages("mod-log")
        for e in m.embeds
        if e.get("title") == "Plan limits"
    ]


async def account(sessions, guild):
    async with sessions() as session:
        return await session.scalar(select(ServerAccount).where(ServerAccount.guild_id == guild))


async def test_over_the_member_limit_xp_pauses_and_admins_are_told_once(
    env, session_factory, sim, task_queue
):
    guild = sim.world.guild_id
    present = len(sim.world.guilds[guild].members)
    extra = crowd(sim, STARTER_MEMBERS + 1 - present)
    config = default_server_config().model_dump(mode="json")
    config["mod_log_channel_id"] = sim.world.channel("mod-log")
    alice = sim.world.member("alice")
    async with running_bot(sim, env.client, task_queue, session_factory, config=config) as bot:
        [notice] = await eventually(lambda: plan_notices(sim))
        assert "5,001 members" in notice and "Moderation keeps working" in notice
        row = await account(session_factory, guild)
        assert row.owner_id == sim.world.owner_id and row.member_count == STARTER_MEMBERS + 1
        assert row.over_limit == "members" and bot.tiers.paused(guild)

        await sim.post_message("general", "alice", "hello there, anyone around?")
        await eventually(lambda: bot.handled >= 1)
        await bot.engagement.flush()
        async with session_factory() as session:
            assert await get_member_level(session, guild, alice) is None  # no XP while over

        await sim.member_leave(extra[0])  # back to 5,000
        await eventually(lambda: not bot.tiers.paused(guild))
        notices = await eventually(lambda: (n := plan_notices(sim)) and len(n) == 2 and n)
        assert "back within" in notices[1]
        await sim.post_message("general", "alice", "great, XP again?")
        await eventually(lambda: bot.handled >= 2)
        await bot.engagement.flush()
        async with session_factory() as session:
            row_xp = await get_member_level(session, guild, alice)
        assert row_xp is not None and row_xp.xp > 0
    async with session_factory() as session:
        notices = await notices_of(session, guild)
    assert len(notices) == 2 and all(n.delivery.startswith("channel:") for n in notices)
    assert len(plan_notices(sim)) == 2  # each told once
