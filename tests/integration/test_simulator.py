"""The real discord.py client against the Discord simulator (no mocks)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands

from simulator import DiscordAPIError, DiscordSimulator
from simulator.testing import RecordingClient, connected_client, default_intents

GATEWAY_RESUME = 6
GATEWAY_HEARTBEAT = 1


@pytest_asyncio.fixture(scope="module")
async def sim() -> AsyncIterator[DiscordSimulator]:
    async with DiscordSimulator() as simulator:
        yield simulator


@pytest_asyncio.fixture(scope="module")
async def bot(sim: DiscordSimulator) -> AsyncIterator[RecordingClient]:
    client = RecordingClient(intents=default_intents(), guild_ready_timeout=0.05)
    tree = app_commands.CommandTree(client)

    @tree.command(name="ping", description="Latency check")
    @app_commands.describe(target="Who to greet")
    async def ping(interaction: discord.Interaction, target: discord.Member) -> None:
        await interaction.response.send_message(f"pong {target.display_name}")

    @tree.command(name="slow", description="Deferred reply")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done thinking")

    async with connected_client(sim, client=client) as connected:
        await tree.sync()
        yield connected


@pytest.fixture
def guild(sim: DiscordSimulator, bot: RecordingClient) -> discord.Guild:
    found = bot.get_guild(sim.world.guild_id)
    assert found is not None
    return found


def text_channel(guild: discord.Guild, channel_id: int) -> discord.TextChannel:
    channel = guild.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_ready_and_guild_create_populate_cache(
    sim: DiscordSimulator, bot: RecordingClient, guild: discord.Guild
) -> None:
    world = sim.world
    assert bot.user is not None and bot.user.id == world.bot_id
    assert bot.application_id == world.application_id
    assert guild.name == "Sandbox Community"
    assert guild.owner_id == world.owner_id
    names = {c.name for c in guild.channels}
    assert {"welcome", "general", "support", "mod-log", "events"} <= names
    general = text_channel(guild, world.channel("general"))
    assert general.category is not None and general.category.name == "Community"
    assert {r.name for r in guild.roles} >= {"@everyone", "Moderator", "Member", "Muted"}
    assert {m.name for m in guild.members} >= {"owner", "moderator", "alice", "bob", "carol"}
    assert guild.me.top_role.position > guild.get_role(world.role("Moderator")).position  # type: ignore[union-attr]
    assert guild.me.guild_permissions.ban_members
    alice = guild.get_member(world.member("alice"))
    assert alice is not None and alice.created_at < discord.utils.utcnow() - dt.timedelta(days=100)


async def test_heartbeats_are_acked(sim: DiscordSimulator, bot: RecordingClient) -> None:
    assert sim.gateway_ops(GATEWAY_HEARTBEAT)
    assert bot.latency != float("inf")
    assert bot.latency < 1.0


async def test_user_message_reaches_on_message_with_content(
    sim: DiscordSimulator, bot: RecordingClient
) -> None:
    mark = bot.mark()
    sent = await sim.post_message("general", "alice", "hello from alice")
    message: discord.Message = await bot.next_event("message", since=mark)
    assert message.id == sent.id
    assert message.content == "hello from alice"
    assert message.author.id == sim.world.member("alice")
    assert isinstance(message.author, discord.Member)
    assert message.channel.id == sim.world.channel("general")


async def test_message_content_intent_off_gives_empty_content(sim: DiscordSimulator) -> None:
    intents = default_intents(message_content=False)
    async with connected_client(sim, intents=intents) as other:
        mark = other.mark()
        await sim.post_message("general", "bob", "secret words")
        message: discord.Message = await other.next_event("message", since=mark)
        assert message.content == ""
        assert message.author.id == sim.world.member("bob")
        mark = other.mark()
        await sim.post_message("general", "bob", f"hey <@{sim.world.bot_id}> look")
        mentioned: discord.Message = await other.next_event("message", since=mark)
        assert "look" in mentioned.content


async def test_member_join_and_leave(sim: DiscordSimulator, bot: RecordingClient) -> None:
    mark = bot.mark()
    member = await sim.member_join("dave", global_name="Dave", account_age=dt.timedelta(hours=2))
    joined: discord.Member = await bot.next_event("member_join", since=mark)
    assert joined.id == member.user_id
    assert joined.name == "dave"
    age = discord.utils.utcnow() - joined.created_at
    assert dt.timedelta(hours=1, minutes=59) < age < dt.timedelta(hours=2, minutes=1)
    assert joined.guild.get_member(member.user_id) is not None

    mark = bot.mark()
    await sim.member_leave("dave")
    left: discord.Member = await bot.next_event("member_remove", since=mark)
    assert left.id == member.user_id
    assert joined.guild.get_member(member.user_id) is None


async def test_raw_reaction_add_and_remove(sim: DiscordSimulator, bot: RecordingClient) -> None:
    message = await sim.post_message("general", "carol", "react to me")
    mark = bot.mark()
    await sim.add_reaction("general", message.id, "alice", "👍")
    added: discord.RawReactionActionEvent = await bot.next_event("raw_reaction_add", since=mark)
    assert added.message_id == message.id
    assert added.user_id == sim.world.member("alice")
    assert str(added.emoji) == "👍"
    assert added.member is not None and added.member.name == "alice"
    await sim.remove_reaction("general", message.id, "alice", "👍")
    removed: discord.RawReactionActionEvent = await bot.next_event(
        "raw_reaction_remove", since=mark
    )
    assert removed.message_id == message.id and str(removed.emoji) == "👍"


async def test_slash_command_interaction_and_recorded_callback(
    sim: DiscordSimulator, bot: RecordingClient
) -> None:
    synced = sim.requests("PUT", "/applications/{application_id}/commands")
    assert synced and {c["name"] for c in synced[-1].json} == {"ping", "slow"}
    record = await sim.invoke_slash_command("ping", "moderator", "support", {"target": "alice"})
    response = await record.wait_response(timeout=5)
    assert response.type == 4
    assert response.data is not None and response.data["content"] == "pong Alice"
    assert record.original_message_id is not None
    original = sim.world.get_message(sim.world.channel("support"), record.original_message_id)
    assert original.content == "pong Alice"
    assert original.interaction_metadata is not None
    route = "/interactions/{interaction_id}/{interaction_token}/callback"
    assert sim.requests("POST", route)[-1].status == 200


async def test_deferred_slash_command_followup_fills_original(
    sim: DiscordSimulator, bot: RecordingClient
) -> None:
    record = await sim.invoke_slash_command("slow", "alice")
    await record.wait_until(lambda r: r.acknowledged and r.edits == 0, timeout=5)
    assert record.responses[0].type == 5
    channel_id = sim.world.channel("general")

    def filled(_: object) -> bool:
        return sim.world.get_message(channel_id, record.original_message_id or 0).content != ""

    await record.wait_until(filled, timeout=5)
    message = sim.world.get_message(channel_id, record.original_message_id or 0)
    assert message.content == "done thinking"
    assert not message.flags & 128


async def test_button_click_interaction(sim: DiscordSimulator, bot: RecordingClient) -> None:
    channel_id = sim.world.channel("events")
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="RSVP", custom_id="rsvp:42"))
    posted = await channel.send("Join the event?", view=view)
    stored = sim.world.get_message(channel_id, posted.id)
    assert stored.components[0]["components"][0]["custom_id"] == "rsvp:42"

    mark = bot.mark()
    record = await sim.click_button("rsvp:42", "carol", posted.id)
    interaction: discord.Interaction = await bot.next_event("interaction", since=mark)
    assert interaction.type is discord.InteractionType.component
    assert interaction.data is not None and interaction.data.get("custom_id") == "rsvp:42"
    assert interaction.user.id == sim.world.member("carol")
    await interaction.response.edit_message(content="Carol is going")
    response = await record.wait_response()
    assert response.type == 7
    assert sim.world.get_message(channel_id, posted.id).content == "Carol is going"


async def test_bot_deletes_a_message(
    sim: DiscordSimulator, bot: RecordingClient, guild: discord.Guild
) -> None:
    general = text_channel(guild, sim.world.channel("general"))
    posted = await sim.post_message(general.id, "bob", "buy cheap followers")
    fetched = await general.fetch_message(posted.id)
    sim.clear_requests()
    mark = bot.mark()
    await fetched.delete()
    deleted: discord.RawMessageDeleteEvent = await bot.next_event("raw_message_delete", since=mark)
    assert deleted.message_id == posted.id
    recorded = sim.requests("DELETE", "/channels/{channel_id}/messages/{message_id}")
    assert [r.status for r in recorded] == [204]
    assert posted.id not in sim.world.messages[general.id]
    log = sim.world.guilds[guild.id].audit_log
    assert log[-1].action_type == 72
    assert log[-1].target_id == sim.world.member("bob")


async def test_bot_times_out_a_member(
    sim: DiscordSimulator, bot: RecordingClient, guild: discord.Guild
) -> None:
    carol = guild.get_member(sim.world.member("carol"))
    assert carol is not None
    mark = bot.mark()
    await carol.timeout(dt.timedelta(minutes=10), reason="spamming")
    before, after = await bot.next_event("member_update", since=mark)
    assert before.timed_out_until is None
    assert after.is_timed_out()
    request = sim.requests("PATCH", "/guilds/{guild_id}/members/{user_id}")[-1]
    assert request.status == 200
    assert request.json is not None and request.json["communication_disabled_until"]
    assert request.reason == "spamming"
    stored = sim.world.get_member(guild.id, carol.id)
    assert sim.world.is_timed_out(stored)
    with pytest.raises(DiscordAPIError):
        await sim.post_message("general", "carol", "can I still talk?")
    await carol.timeout(None)
    assert not sim.world.is_timed_out(sim.world.get_member(guild.id, carol.id))


async def test_bot_bans_and_unbans(
    sim: DiscordSimulator, bot: RecordingClient, guild: discord.Guild
) -> None:
    member = await sim.member_join("spammer", account_age=dt.timedelta(minutes=30))
    spam = await sim.post_message("general", "spammer", "spam spam spam")
    target = await guild.fetch_member(member.user_id)
    mark = bot.mark()
    await guild.ban(target, reason="raid", delete_message_seconds=3600)
    banned_guild, banned_user = await bot.next_event("member_ban", since=mark)
    assert banned_guild.id == guild.id and banned_user.id == member.user_id
    removed: discord.Member = await bot.next_event("member_remove", since=mark)
    assert removed.id == member.user_id
    assert spam.id not in sim.world.messages[sim.world.channel("general")]
    put = sim.requests("PUT", "/guilds/{guild_id}/bans/{user_id}")[-1]
    assert put.status == 204 and put.query["delete_message_seconds"] == "3600"
    assert member.user_id in sim.world.guilds[guild.id].bans
    ban_entry = await guild.fetch_ban(discord.Object(member.user_id))
    assert ban_entry.reason == "raid"

    await guild.unban(discord.Object(member.user_id))
    assert member.user_id not in sim.world.guilds[guild.id].bans
    assert sim.requests("DELETE", "/guilds/{guild_id}/bans/{user_id}")[-1].status == 204
    assert sim.dispatched("GUILD_BAN_REMOVE")


async def test_injected_429_is_waited_out_and_retried(
    sim: DiscordSimulator, guild: discord.Guild
) -> None:
    general = text_channel(guild, sim.world.channel("general"))
    sim.inject_fault(r"^/channels/\d+/messages$", 429, method="POST", retry_after=0.3)
    sim.clear_requests()
    started = time.monotonic()
    sent = await general.send("survives rate limits")
    elapsed = time.monotonic() - started
    recorded = sim.requests("POST", "/channels/{channel_id}/messages")
    assert [r.status for r in recorded] == [429, 200]
    assert recorded[0].injected and recorded[0].response["retry_after"] == 0.3
    assert elapsed >= 0.3
    assert sent.content == "survives rate limits"


async def test_injected_403_raises_forbidden(sim: DiscordSimulator, guild: discord.Guild) -> None:
    sim.inject_fault(r"/guilds/\d+/bans/\d+$", 403, method="PUT")
    with pytest.raises(discord.Forbidden) as info:
        await guild.ban(discord.Object(sim.world.member("bob")))
    assert info.value.code == 50013
    assert sim.world.member("bob") not in sim.world.guilds[guild.id].bans


async def test_real_hierarchy_check_forbids_banning_the_owner(
    sim: DiscordSimulator, guild: discord.Guild
) -> None:
    with pytest.raises(discord.Forbidden):
        await guild.ban(discord.Object(sim.world.owner_id))
    with pytest.raises(discord.NotFound) as info:
        await guild.fetch_member(123456789012345678)
    assert info.value.code == 10007


async def test_forced_disconnect_resumes_and_replays(
    sim: DiscordSimulator, bot: RecordingClient
) -> None:
    resumes_before = len(sim.gateway_ops(GATEWAY_RESUME))
    mark = bot.mark()
    assert sim.disconnect_gateway(code=4000) >= 1
    missed = await sim.post_message("general", "alice", "sent while you were away")
    await bot.next_event("resumed", since=mark, timeout=10)
    assert len(sim.gateway_ops(GATEWAY_RESUME)) == resumes_before + 1
    replayed: discord.Message = await bot.next_event(
        "message", lambda m: m.id == missed.id, since=mark
    )
    assert replayed.content == "sent while you were away"
    assert not bot.events("ready", since=mark)

    mark = bot.mark()
    fresh = await sim.post_message("general", "bob", "after the resume")
    received: discord.Message = await bot.next_event("message", since=mark)
    assert received.id == fresh.id


async def test_control_http_api_scripts_a_message(
    sim: DiscordSimulator, bot: RecordingClient
) -> None:
    mark = bot.mark()
    async with aiohttp.ClientSession(base_url=sim.base_url) as http:
        async with http.post(
            "/_sim/messages",
            json={"channel": "support", "author": "bob", "content": "help via control api"},
        ) as resp:
            assert resp.status == 201
            payload = await resp.json()
        async with http.get("/_sim/state") as resp:
            state = await resp.json()
    message: discord.Message = await bot.next_event("message", since=mark)
    assert str(message.id) == payload["id"]
    assert message.content == "help via control api"
    assert any(m["content"] == "help via control api" for m in state["messages"]["recent"])
    assert state["guilds"][0]["name"] == "Sandbox Community"


async def test_bot_dm_is_recorded(sim: DiscordSimulator, guild: discord.Guild) -> None:
    alice = guild.get_member(sim.world.member("alice"))
    assert alice is not None
    await alice.send("You were warned.")
    assert [m.content for m in sim.dm_messages("alice")] == ["You were warned."]


async def test_slowmode_via_channel_edit(sim: DiscordSimulator, guild: discord.Guild) -> None:
    support = text_channel(guild, sim.world.channel("support"))
    edited = await support.edit(slowmode_delay=30)
    assert edited is not None and edited.slowmode_delay == 30
    assert sim.world.channels[support.id].rate_limit_per_user == 30
    await sim.post_message("support", "carol", "first")
    with pytest.raises(DiscordAPIError) as info:
        await sim.post_message("support", "carol", "second")
    assert info.value.code == 20016
    await support.edit(slowmode_delay=0)


def test_an_anchored_seed_world_has_the_same_ids_every_time():
    from datetime import UTC, datetime

    from simulator import SimulatorConfig, World

    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    first = World(SimulatorConfig(seed_anchor=anchor)).ids()
    again = World(SimulatorConfig(seed_anchor=anchor)).ids()
    unanchored = World(SimulatorConfig()).ids()
    assert first == again
    assert first["guild_id"] != unanchored["guild_id"]
