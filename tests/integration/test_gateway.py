"""The gateway's fast path with real discord.py against the simulator: bad payloads, config
changes, exemptions. Temporal is real; no worker runs, so reports simply wait in the server."""

import asyncio

import pytest
from support import eventually, running_bot

from dcs.server_config import default_server_config
from simulator import DiscordSimulator
from storage.servers import put_server_config


def deleted(sim, message_id):
    return any(r.path.endswith(f"/messages/{message_id}") for r in sim.requests("DELETE"))


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with (
        DiscordSimulator() as sim,
        running_bot(sim, temporal_env.client, task_queue, session_factory) as bot,
    ):
        yield sim, bot


async def test_malformed_gateway_payloads_do_not_break_the_fast_path(running):
    sim, bot = running
    identifies = len(sim.gateway_ops(2))
    channel = str(sim.world.channel("general"))
    sim.gateway.dispatch("MESSAGE_CREATE", {"id": "1", "channel_id": channel})  # no author
    sim.gateway.dispatch("MESSAGE_CREATE", {"content": "idiot"})  # no ids at all
    sim.gateway.dispatch("GUILD_MEMBER_ADD", {"guild_id": str(sim.world.guild_id)})  # no user
    bad = await sim.post_message("general", "alice", "you idiot")
    await eventually(lambda: deleted(sim, bad.id))
    assert len(sim.gateway_ops(2)) == identifies  # still the same session, no reconnect
    assert bot.payload_guard.dropped == {"MESSAGE_CREATE": 2, "GUILD_MEMBER_ADD": 1}


async def test_config_change_is_picked_up_and_exempt_channels_are_skipped(running, session_factory):
    sim, bot = running
    guild = sim.world.guild_id
    config = default_server_config().model_dump(mode="json")
    config["automod"]["blocked_terms"] = ["pineapple pizza"]
    config["automod"]["exempt_channel_ids"] = [sim.world.channel("support")]
    async with session_factory() as session, session.begin():
        await put_server_config(session, guild, config, expected_version=None, changed_by="test")
    assert await bot.rules.refresh() == [guild]

    old_term = await sim.post_message("general", "alice", "badword")
    new_term = await sim.post_message("general", "alice", "I love p1neapple  pizza")
    exempt = await sim.post_message("support", "alice", "pineapple pizza question")
    await eventually(lambda: deleted(sim, new_term.id))
    await asyncio.sleep(0.3)
    assert not deleted(sim, old_term.id)
    assert not deleted(sim, exempt.id)


async def test_the_bots_own_messages_are_never_judged(running):
    sim, bot = running
    channel = bot.get_channel(sim.world.channel("general"))
    sent = await channel.send("the word idiot, quoted in a rules post")
    await asyncio.sleep(0.3)
    assert not deleted(sim, sent.id)
    assert bot.handled == 0 or all(not deleted(sim, m.id) for m in sim.messages("general"))
