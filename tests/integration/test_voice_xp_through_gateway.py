"""Voice XP end to end: simulated voice states reach discord.py, the minute tick awards XP only
to members with company who are neither muted nor deafened, and the flush stores voice minutes."""

from datetime import UTC, datetime

import pytest
from support import eventually, running_bot

from dcs.server_config import default_server_config
from gateway.voice_xp import voice_tick
from simulator import DiscordSimulator
from storage.levels import get_member_level


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim:
        config = default_server_config().model_dump(mode="json")
        config["xp"]["voice"] = {"enabled": True, "min_gain": 7, "max_gain": 7}
        async with running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=config
        ) as bot:
            yield sim, bot


async def test_only_unmuted_members_with_company_earn_voice_xp(running, session_factory):
    sim, bot = running
    guild = sim.world.guild_id
    await sim.set_voice_state("alice", "lounge")
    await sim.set_voice_state("bob", "lounge")
    await sim.set_voice_state("carol", "lounge", self_mute=True)
    lounge = bot.get_channel(sim.world.channel("lounge"))
    await eventually(lambda: len(lounge.members) == 3)

    assert await voice_tick(bot, datetime.now(UTC)) == 2
    assert await voice_tick(bot, datetime.now(UTC)) == 0  # the one-minute cooldown
    await sim.set_voice_state("bob", None)  # alice is alone now (carol is muted)
    await eventually(lambda: len(lounge.members) == 2)
    later = datetime.now(UTC).replace(year=2099)
    assert await voice_tick(bot, later) == 0

    await bot.engagement.flush()
    async with session_factory() as session:
        rows = {
            u: await get_member_level(session, guild, sim.world.member(u))
            for u in ("alice", "bob", "carol")
        }
    assert rows["alice"] is not None and (rows["alice"].xp, rows["alice"].voice_minutes) == (7, 1)
    assert rows["bob"] is not None and rows["bob"].voice_minutes == 1
    assert rows["carol"] is None
