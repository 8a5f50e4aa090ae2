"""discord.py's high-level moderation/admin APIs parse every simulator payload."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import discord
import pytest_asyncio

from simulator import DiscordSimulator
from simulator.testing import RecordingClient, connected_client


@pytest_asyncio.fixture(scope="module")
async def sim() -> AsyncIterator[DiscordSimulator]:
    async with DiscordSimulator() as simulator:
        yield simulator


@pytest_asyncio.fixture(scope="module")
async def bot(sim: DiscordSimulator) -> AsyncIterator[RecordingClient]:
    async with connected_client(sim) as client:
        yield client


@pytest_asyncio.fixture
async def guild(sim: DiscordSimulator, bot: RecordingClient) -> discord.Guild:
    found = bot.get_guild(sim.world.guild_id)
    assert found is not None
    return found


async def test_guild_admin_calls(
    sim: DiscordSimulator, bot: RecordingClient, guild: discord.Guild
) -> None:
    fetched = await bot.fetch_guild(guild.id, with_counts=True)
    assert fetched.name == "Sandbox Community" and fetched.approximate_member_count
    edited = await guild.edit(verification_level=discord.VerificationLevel.high)
    assert edited.verification_level is discord.VerificationLevel.high
    until = discord.utils.utcnow() + dt.timedelta(hours=1)
    await guild.edit(invites_disabled_until=until)
    assert sim.world.guilds[guild.id].invites_disabled_until is not None
    channels = await guild.fetch_channels()
    assert {"general", "support"} <= {c.name for c in channels}
    roles = await guild.fetch_roles()
    assert any(r.name == "Moderator" for r in roles)
    invites = await guild.invites()
    assert invites and invites[0].guild is not None
    await invites[0].delete()
    assert not sim.world.guilds[guild.id].invites


async def test_member_listing_roles_and_kick(sim: DiscordSimulator, guild: discord.Guild) -> None:
    members = [m async for m in guild.fetch_members(limit=None)]
    assert {"alice", "bob"} <= {m.name for m in members}
    bob = await guild.fetch_member(sim.world.member("bob"))
    muted = guild.get_role(sim.world.role("Muted"))
    assert muted is not None
    await bob.add_roles(muted, reason="spam")
    assert sim.world.role("Muted") in sim.world.get_member(guild.id, bob.id).roles
    await bob.remove_roles(muted)
    await bob.edit(nick="Robert")
    assert sim.world.get_member(guild.id, bob.id).nick == "Robert"
    newbie = await sim.member_join("kick-target")
    await guild.kick(discord.Object(newbie.user_id), reason="bye")
    assert newbie.user_id not in sim.world.guilds[guild.id].members


async def test_bans_iteration_bulk_ban_and_audit_log(
    sim: DiscordSimulator, guild: discord.Guild
) -> None:
    raiders = [await sim.member_join(f"raid{i}") for i in range(3)]
    result = await guild.bulk_ban([discord.Object(m.user_id) for m in raiders], reason="raid")
    assert {u.id for u in result.banned} == {m.user_id for m in raiders}
    assert not result.failed
    banned = [entry async for entry in guild.bans(limit=None)]
    assert {e.user.id for e in banned} >= {m.user_id for m in raiders}
    entries = [e async for e in guild.audit_logs(limit=20, action=discord.AuditLogAction.ban)]
    assert {e.target.id for e in entries if e.target} >= {m.user_id for m in raiders}
    assert entries[0].user is not None and entries[0].user.id == sim.world.bot_id
    assert entries[0].reason == "raid"


async def test_channels_permissions_threads_and_purge(
    sim: DiscordSimulator, guild: discord.Guild
) -> None:
    category = guild.get_channel(sim.world.channel("Staff"))
    assert isinstance(category, discord.CategoryChannel)
    room = await guild.create_text_channel("quarantine", category=category, slowmode_delay=10)
    assert room.slowmode_delay == 10 and room.category_id == category.id
    await room.set_permissions(guild.default_role, send_messages=False)
    overwrite = sim.world.channels[room.id].overwrites
    assert overwrite and overwrite[0].deny & (1 << 11)
    await room.edit(slowmode_delay=0, topic="calm")
    assert sim.world.channels[room.id].topic == "calm"

    general = guild.get_channel(sim.world.channel("general"))
    assert isinstance(general, discord.TextChannel)
    for i in range(4):
        await sim.post_message("general", "carol", f"flood {i}")
    deleted = await general.purge(limit=4, check=lambda m: m.content.startswith("flood"))
    assert len(deleted) == 4
    assert not [m for m in sim.messages("general") if m.content.startswith("flood")]

    thread = await general.create_thread(name="ticket", type=discord.ChannelType.private_thread)
    alice = guild.get_member(sim.world.member("alice"))
    assert alice is not None
    await thread.add_user(alice)
    assert alice.id in sim.world.channels[thread.id].thread_members
    await thread.send("hello in thread")
    await thread.edit(archived=True)
    starter = await general.send("start here")
    public = await starter.create_thread(name="from message")
    assert public.id == starter.id
    await room.delete()
    assert room.id not in sim.world.channels


async def test_scheduled_events_lifecycle(sim: DiscordSimulator, guild: discord.Guild) -> None:
    start = discord.utils.utcnow() + dt.timedelta(hours=3)
    event = await guild.create_scheduled_event(
        name="Town hall",
        start_time=start,
        end_time=start + dt.timedelta(hours=1),
        entity_type=discord.EntityType.external,
        location="Stage",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    assert event.status is discord.EventStatus.scheduled
    events = await guild.fetch_scheduled_events()
    assert [e.name for e in events] == ["Town hall"]
    started = await event.start()
    assert started.status is discord.EventStatus.active
    ended = await started.end()
    assert ended.status is discord.EventStatus.completed
    await ended.delete()
    assert not sim.world.guilds[guild.id].scheduled_events


async def test_messages_reactions_and_dms(sim: DiscordSimulator, bot: RecordingClient) -> None:
    support = bot.get_channel(sim.world.channel("support"))
    assert isinstance(support, discord.TextChannel)
    question = await sim.post_message("support", "alice", "is anyone there?")
    fetched = await support.fetch_message(question.id)
    reply = await fetched.reply("Yes! How can we help?", mention_author=True)
    assert reply.reference is not None and reply.reference.message_id == question.id
    await reply.edit(content="Yes, how can we help?")
    await reply.add_reaction("👀")
    refreshed = await support.fetch_message(reply.id)
    assert refreshed.reactions[0].me and refreshed.content == "Yes, how can we help?"
    users = [u async for u in refreshed.reactions[0].users()]
    assert [u.id for u in users] == [sim.world.bot_id]
    history = [m async for m in support.history(limit=2)]
    assert history[0].id == reply.id
    user = await bot.fetch_user(sim.world.member("alice"))
    dm = await user.send("Following up privately")
    assert isinstance(dm.channel, discord.DMChannel)
    assert sim.dm_messages("alice")[-1].content == "Following up privately"
