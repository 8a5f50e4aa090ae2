"""Gateway shard groups: two gateway processes (shard 0 of 2 and shard 1 of 2) on one simulator.

Discord routes a guild's events to shard `(guild_id >> 22) % shard_count` only; the simulator
does the same per session. Each instance must see, judge and act on only its own guilds: a spam
flood in a guild of shard 1 is deleted once, by instance 1, and instance 0 sees none of it.
Temporal is real but no worker runs (the reports wait in the members' workflow histories).
"""

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import discord
import pytest
from pydantic import ValidationError
from support import eventually

from dcs import cli
from dcs.settings import load_settings, parse_shard_ids
from gateway.bot import ShardedSuiteBot, SuiteBot, build_bot
from simulator import DiscordSimulator
from simulator.config import SimulatorConfig
from simulator.models import Channel, ChannelType, Member
from simulator.testing import connected_client
from simulator.world import World

COUNT = 2
FLOOD = "come watch my stream right now everyone"


def shard_of(guild_id: int) -> int:
    return (guild_id >> 22) % COUNT


def add_guild(world: World, name: str, shard: int) -> tuple[int, int]:
    """Add a guild on `shard` with a #general, an owner of its own, carol, alice and the bot."""
    guild = world.add_guild(
        name, created_at=world.started_at - timedelta(days=50), shard=(shard, COUNT)
    )
    general = world.add_channel(
        Channel(id=world.new_id(), type=ChannelType.GUILD_TEXT, guild_id=guild.id, name="general")
    )
    for user_id in (world.member("carol"), world.member("alice")):
        guild.members[user_id] = Member(user_id, guild.id, joined_at=guild.created_at)
    return guild.id, general.id


@pytest.fixture
async def world_of_four():
    """The seed guild plus three more: two guilds on each of the two shards."""
    async with DiscordSimulator() as sim:
        guilds = {sim.world.guild_id: sim.world.channel("general")}
        for n, shard in enumerate([0, 0, 1, 1]):
            if sum(shard_of(g) == shard for g in guilds) < 2:
                guild_id, general = add_guild(sim.world, f"Shard {shard} guild {n}", shard)
                guilds[guild_id] = general
        assert sorted(shard_of(g) for g in guilds) == [0, 0, 1, 1]
        yield sim, guilds


class QuickBot(ShardedSuiteBot):
    """No 5 s pause before a re-IDENTIFY (the first IDENTIFY of a process never waits)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@contextlib.asynccontextmanager
async def shard_group(sim, shard: int, temporal, task_queue, sessions):
    bot = QuickBot(
        shard_count=COUNT,
        shard_ids=[shard],
        temporal=temporal,
        task_queue=task_queue,
        sessions=sessions,
        sandbox=True,
        guild_ready_timeout=0.05,
    )
    async with connected_client(sim, client=bot):  # type: ignore[arg-type]
        yield bot


async def test_each_shard_group_sees_and_acts_on_only_its_guilds(
    world_of_four, temporal_env, session_factory, task_queue
):
    sim, guilds = world_of_four
    on = {s: sorted(g for g in guilds if shard_of(g) == s) for s in range(COUNT)}
    temporal = temporal_env.client
    async with (
        shard_group(sim, 0, temporal, task_queue, session_factory) as first,
        shard_group(sim, 1, temporal, task_queue, session_factory) as second,
    ):
        bots = {0: first, 1: second}
        for shard, bot in bots.items():
            # every guild of its shard loaded, and none of the other's
            await eventually(lambda b=bot, s=shard: all(b.rules.get(g) for g in on[s]))
            assert sorted(g.id for g in bot.guilds) == on[shard], f"instance {shard}'s guilds"
            assert all(bot.rules.get(g) is None for g in on[1 - shard])
            assert bot.shard_count == COUNT and list(bot.shards) == [shard]
        sessions = {s.shard for s in sim.gateway.sessions.values() if s.connection}
        assert sessions == {(0, COUNT), (1, COUNT)}
        # only the process with shard 0 publishes the slash commands
        assert first.publishes_commands() and not second.publishes_commands()

        # a spam flood in a guild of shard 1: deleted once, by instance 1 only
        target = on[1][-1]
        channel = guilds[target]
        sim.clear_requests()
        posted = [await sim.post_message(channel, "carol", FLOOD) for _ in range(12)]
        ids = {m.id for m in posted}
        await eventually(lambda: second.handled >= len(posted), timeout=10)
        await eventually(lambda: not ids & {m.id for m in sim.messages(channel)}, timeout=10)
        await asyncio.sleep(0.3)  # a second delete of a message, if any, would land by now
        assert second.spam_guard.verdicts > 0
        # each copy removed by exactly one request, a delete or part of a bulk delete: a second
        # instance acting on the flood would show as extra requests (answered 404)
        singles = sim.requests("DELETE", "/channels/{channel_id}/messages/{message_id}")
        bulks = sim.requests("POST", "/channels/{channel_id}/messages/bulk-delete")
        removed = [int(r.path.rsplit("/", 1)[1]) for r in singles]
        removed += [int(m) for r in bulks for m in r.json["messages"]]
        assert sorted(removed) == sorted(ids), "a copy was deleted twice, or not at all"
        assert {r.status for r in [*singles, *bulks]} == {204}
        assert first.handled == 0 and first.spam_guard.verdicts == 0, "instance 0 saw the flood"

        # a message in a guild of shard 0 reaches instance 0 only
        before = second.handled
        await sim.post_message(guilds[on[0][0]], "alice", "hello from shard zero")
        await eventually(lambda: first.handled == 1)
        assert second.handled == before


def test_shard_settings_parse_lists_and_ranges():
    assert parse_shard_ids("0,1", 2) == [0, 1]
    assert parse_shard_ids("0-3", 4) == [0, 1, 2, 3]
    assert parse_shard_ids(" 4-5, 0 ", 6) == [0, 4, 5]
    settings = load_settings(_env_file=None, discord_shard_count=4, discord_shard_ids="2-3")
    assert settings.shard_ids == [2, 3]
    unsharded = load_settings(_env_file=None, discord_shard_count="", discord_shard_ids="")
    assert unsharded.discord_shard_count is None and unsharded.shard_ids is None
    every = load_settings(_env_file=None, discord_shard_count=3)
    assert every.shard_ids is None  # this one process connects shards 0, 1 and 2


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        (2, "2", "names shard 2, outside 0..1 (DISCORD_SHARD_COUNT=2)"),
        (4, "0-4", "names shard 4, outside 0..3"),
        (2, "0,0", "shard ids [0] are listed more than once"),
        (4, "0-2,1", "shard ids [1] are listed more than once"),
        (4, "3-1", "range '3-1' runs backwards"),
        (2, "one", "'one' is not a shard id or a range"),
        (2, "-1", "'-1' is not a shard id or a range"),
        (0, None, "DISCORD_SHARD_COUNT must be at least 1, not 0"),
        (None, "0", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
    ],
)
def test_bad_shard_settings_are_refused(count, ids, message):
    with pytest.raises(ValidationError) as refused:
        load_settings(_env_file=None, discord_shard_count=count, discord_shard_ids=ids)
    assert message in str(refused.value)


def test_dcs_gateway_refuses_a_bad_shard_layout_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "2")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "1,2")
    with pytest.raises(SystemExit) as exited:
        cli.main(["gateway"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Invalid configuration" in err
    assert "'2' names shard 2, outside 0..1 (DISCORD_SHARD_COUNT=2)" in err


def test_build_bot_picks_the_client_from_the_shard_settings():
    def bot(**shards):
        return build_bot(temporal=None, task_queue="q", sessions=None, **shards)

    unsharded = bot()
    assert type(unsharded) is SuiteBot and not isinstance(unsharded, discord.AutoShardedClient)
    group = bot(shard_count=4, shard_ids=[2, 3])
    assert isinstance(group, ShardedSuiteBot) and isinstance(group, discord.AutoShardedClient)
    assert (group.shard_count, group.shard_ids) == (4, [2, 3])
    assert not group.publishes_commands()
    assert bot(shard_count=4).publishes_commands()  # all four shards in this process
    with pytest.raises(ValueError, match="shard ids need a shard count"):
        bot(shard_ids=[0])


class QuickShardedClient(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_simulator_recommends_shards_and_discord_py_connects_them():
    async with DiscordSimulator() as sim:  # one guild: Discord would recommend one shard
        one = QuickShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with connected_client(sim, client=one):  # type: ignore[arg-type]
            assert one.shard_count == 1
    async with DiscordSimulator(SimulatorConfig(recommended_shards=2)) as sim:
        client = QuickShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with connected_client(sim, client=client):  # type: ignore[arg-type]
            assert client.shard_count == 2  # no count given: discord.py asked GET /gateway/bot
            await eventually(lambda: len(client.shards) == 2)
            sessions = {s.shard for s in sim.gateway.sessions.values() if s.connection}
            assert sessions == {(0, 2), (1, 2)}
            guild = client.get_guild(sim.world.guild_id)
            assert guild is not None and guild.shard_id == shard_of(sim.world.guild_id)
            # direct messages and their interactions reach shard 0 only, as on Discord
            dm = {"id": "1", "type": 3, "channel_id": "2", "user": {"id": "3"}}
            by_shard = {s.shard[0]: s for s in sim.gateway.sessions.values() if s.connection}
            assert sim.gateway._filter_for(by_shard[0], "INTERACTION_CREATE", dm) is not None
            assert sim.gateway._filter_for(by_shard[1], "INTERACTION_CREATE", dm) is None
