"""Roles and webhooks in the simulator: discord.py's own calls, GUILD_ROLE_* events, and a member
acting as themselves so the audit entries discord.py parses carry their user id and changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio

from simulator import DiscordAPIError, DiscordSimulator
from simulator.permissions import Perm
from simulator.testing import RecordingClient, connected_client


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[DiscordSimulator]:
    async with DiscordSimulator() as simulator:
        yield simulator


@pytest_asyncio.fixture
async def bot(sim: DiscordSimulator) -> AsyncIterator[RecordingClient]:
    async with connected_client(sim) as client:
        yield client


async def test_discord_py_creates_edits_moves_and_deletes_roles(sim, bot) -> None:
    guild = bot.get_guild(sim.world.guild_id)
    mark = bot.mark()
    role = await guild.create_role(
        name="Helpers", permissions=discord.Permissions(kick_members=True), colour=0x123456
    )
    await bot.next_event("guild_role_create", since=mark)
    assert guild.get_role(role.id) is not None and role.colour.value == 0x123456
    await role.edit(permissions=discord.Permissions.none(), hoist=True)
    (_before, after) = await bot.next_event("guild_role_update", since=mark)
    assert after.permissions.value == 0 and after.hoist
    await guild.edit_role_positions({role: 2})
    assert sim.world.get_role(guild.id, role.id).position == 2
    await role.delete()
    await bot.next_event("guild_role_delete", since=mark)
    assert guild.get_role(role.id) is None
    assert role.id not in sim.world.guilds[guild.id].roles


async def test_the_bot_cannot_edit_a_role_above_its_own(sim, bot) -> None:
    guild = bot.get_guild(sim.world.guild_id)
    world = sim.world
    world.guilds[guild.id].roles[world.role("Moderator")].position = 99
    with pytest.raises(discord.Forbidden):
        await guild.get_role(world.role("Moderator")).edit(name="Mods")


async def test_webhooks_are_created_listed_and_deleted(sim, bot) -> None:
    channel = bot.get_channel(sim.world.channel("general"))
    hook = await channel.create_webhook(name="relay")
    assert [h.id for h in await channel.guild.webhooks()] == [hook.id]
    await hook.delete()
    assert not sim.world.guilds[sim.world.guild_id].webhooks
    assert [e.action_type for e in sim.world.guilds[sim.world.guild_id].audit_log[-2:]] == [50, 52]


async def test_a_member_acting_as_themselves_is_audited_with_their_id(sim, bot) -> None:
    guild = bot.get_guild(sim.world.guild_id)
    owner = sim.world.member("owner")
    mark = bot.mark()
    await sim.delete_channel_as("events", by="owner")
    entry = await bot.next_event("audit_log_entry_create", since=mark)
    assert entry.action is discord.AuditLogAction.channel_delete
    assert entry.user_id == owner and entry.before.name == "events"
    assert any(isinstance(ow, discord.PermissionOverwrite) for _t, ow in entry.before.overwrites)

    role = await sim.create_role_as("owner", name="Danger", permissions=0)
    await sim.edit_role_as(role.id, "owner", permissions=int(Perm.ADMINISTRATOR))
    mark = bot.mark()
    await sim.give_role_as("alice", role.id, by="owner")
    await sim.delete_role_as("Muted", by="owner")
    deleted = await bot.next_event(
        "audit_log_entry_create",
        lambda e: e.action is discord.AuditLogAction.role_delete,
        since=mark,
    )
    assert deleted.before.name == "Muted" and deleted.user_id == owner
    entries = [e for (e,) in bot.events("audit_log_entry_create")]
    update = next(e for e in entries if e.action is discord.AuditLogAction.role_update)
    assert update.after.permissions.administrator and not update.before.permissions.administrator
    given = await bot.next_event(
        "audit_log_entry_create",
        lambda e: e.action is discord.AuditLogAction.member_role_update,
        since=mark,
    )
    assert [r.id for r in given.after.roles] == [role.id]

    hook = await sim.create_webhook_as("general", "owner", "spam-hook")
    await sim.ban_as("bob", "owner")
    await sim.kick_as("carol", "owner")
    kinds = [e.action_type for e in sim.world.guilds[guild.id].audit_log[-3:]]
    assert kinds == [50, 22, 20] and hook.creator_id == owner


async def test_a_member_without_the_permission_is_refused(sim) -> None:
    with pytest.raises(DiscordAPIError) as refused:
        await sim.delete_channel_as("general", by="alice")
    assert refused.value.status == 403
    assert "general" in {c.name for c in sim.world.guild_channels(sim.world.guild_id)}
