"""Engagement through the simulator with real discord.py and the database: XP with cooldown,
level-up announcement and reward role, write-behind flush, /rank, /leaderboard, /xp, re-sync."""

import io

import pytest
from PIL import Image
from support import eventually, running_bot

from dcs.server_config import default_server_config
from simulator import DiscordSimulator, RoleSpec, SeedSpec, SimulatorConfig
from simulator.config import _default_roles
from storage.levels import get_member_level


def seed_with_reward_roles() -> SeedSpec:
    return SeedSpec(roles=[*_default_roles(), RoleSpec("Regular"), RoleSpec("Veteran")])


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator(SimulatorConfig(seed=seed_with_reward_roles())) as sim:
        config = default_server_config().model_dump(mode="json")
        config["xp"].update(
            min_gain=100,
            max_gain=100,
            cooldown_seconds=60,
            role_rewards=[
                {"level": 1, "role_id": sim.world.role("Regular")},
                {"level": 2, "role_id": sim.world.role("Veteran")},
            ],
            stack_rewards=False,
            announce_template="GG {mention}, level {level}! You are #{rank} here.",
        )
        async with running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=config
        ) as bot:
            yield sim, bot


def member_roles(sim, username):
    guild = sim.world.guilds[sim.world.guild_id]
    member = guild.members[sim.world.member(username)]
    return {guild.roles[r].name for r in member.roles}


async def test_message_xp_levels_up_announces_and_grants_the_reward_role(running, session_factory):
    sim, bot = running
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    await sim.post_message("general", "alice", "hello there")
    await eventually(lambda: "Regular" in member_roles(sim, "alice"))
    announcement = await eventually(
        lambda: [m for m in sim.messages("general") if "level 1" in m.content]
    )
    assert f"<@{alice}>" in announcement[0].content
    assert "You are #1 here." in announcement[0].content
    # a second message inside the cooldown earns nothing
    await sim.post_message("general", "alice", "and again")
    await eventually(lambda: bot.handled >= 2)
    await bot.engagement.flush()  # the level-up already wrote the first award
    async with session_factory() as session:
        row = await get_member_level(session, guild, alice)
    assert row is not None and (row.xp, row.total_messages) == (100, 1)
    assert row.level == 1


async def test_rank_leaderboard_and_admin_xp_commands(running, session_factory):
    sim, bot = running
    alice = sim.world.member("alice")
    await sim.post_message("general", "alice", "hi")
    await sim.post_message("general", "bob", "hi")
    totals = bot.engagement.tracker.total
    guild = sim.world.guild_id
    await eventually(lambda: totals(guild, alice) == totals(guild, sim.world.member("bob")) == 100)

    given = await sim.invoke_slash_command(
        "xp give", "owner", options={"member": "bob", "amount": 250}
    )
    reply = await given.wait_response()
    assert "350 XP" in str(reply)
    await eventually(lambda: "Veteran" in member_roles(sim, "bob"))
    assert "Regular" not in member_roles(sim, "bob")  # replace mode: only the highest reward

    board = await (await sim.invoke_slash_command("leaderboard", "alice")).wait_response()
    text = str(board)
    assert text.index(str(sim.world.member("bob"))) < text.index(str(alice))

    rank = await sim.invoke_slash_command("rank", "alice")
    # deferred ("thinking"), then the first follow-up becomes the reply, carrying the card
    await rank.wait_response()
    attachments = await eventually(
        lambda: [a for a in sim.attachments.values() if a.filename == "rank.png"]
    )
    image = Image.open(io.BytesIO(attachments[-1].data))
    assert image.format == "PNG" and image.width > image.height

    denied = await sim.invoke_slash_command("xp reset", "alice", options={"member": "bob"})
    assert "Manage Server" in str(await denied.wait_response())


async def test_member_who_rejoins_gets_reward_roles_back(running, session_factory):
    sim, bot = running
    await sim.post_message("general", "carol", "hello")
    await eventually(lambda: "Regular" in member_roles(sim, "carol"))
    await bot.engagement.flush()
    await sim.member_leave("carol")
    await sim.member_join("carol")
    await eventually(lambda: "Regular" in member_roles(sim, "carol"))


async def test_no_xp_within_cooldown_window_even_across_channels(running):
    sim, bot = running
    await sim.post_message("general", "alice", "one")
    await sim.post_message("events", "alice", "two")
    await eventually(lambda: bot.handled >= 2)
    assert bot.engagement.tracker.total(sim.world.guild_id, sim.world.member("alice")) == 100


async def test_reactions_from_others_count_towards_the_authors_achievements(
    running, session_factory
):
    sim, _bot = running
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    post = await sim.post_message("general", "alice", "look at my cat")
    await sim.add_reaction("general", post.id, "alice", "❤️")  # her own: not counted
    for who in ("bob", "carol", "moderator"):
        await sim.add_reaction("general", post.id, who, "❤️")

    async def counted():
        async with session_factory() as session:
            row = await get_member_level(session, guild, alice)
        return row is not None and row.reactions_received == 3

    await eventually(counted)


async def test_a_join_through_an_invite_counts_for_the_inviter(running, session_factory):
    sim, bot = running
    guild = sim.world.guild_id
    code = next(iter(sim.world.guilds[guild].invites))  # the seed's #welcome invite, by the owner
    await eventually(lambda: bot.invites.tracks(guild))
    await sim.member_join("dave", invite_code=code)

    async def counted():
        async with session_factory() as session:
            row = await get_member_level(session, guild, sim.world.owner_id)
        return row is not None and row.invites == 1

    await eventually(counted)
