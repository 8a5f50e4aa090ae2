"""Anti-nuke end to end: the simulator (a member acting as themselves), the real discord.py
gateway, a real Temporal dev server and a worker with the real activities (Telegram stand-ins).
A rogue admin is quarantined before the approval exists; approving restores what they deleted;
rejecting gives the roles back; the owner and a single deletion are left alone."""

import asyncio
import contextlib

import pytest
from moderation_harness import Helpers, approvals_of, index_of
from sqlalchemy import select
from support import eventually, running_bot
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from approvals.decisions import submit_decision
from dcs.server_config import default_server_config
from dcs.temporal import anti_nuke_activities, moderation_activities
from domain.approvals import ApprovalDecision
from simulator import DiscordSimulator
from simulator.config import ChannelSpec, MemberSpec, RoleSpec, SeedSpec, SimulatorConfig
from simulator.permissions import MODERATOR, Perm
from storage.models import AntiNukeIncident
from workflows.anti_nuke import AntiNukeWorkflow, anti_nuke_workflow_id
from workflows.moderation import ModerationWorkflow, moderation_workflow_id

DOOMED_CHANNELS = ["art", "memes", "music", "clips", "games"]
DOOMED_ROLES = ["Artists", "Gamers", "Helpers"]
MEMBER_PATCH = "/guilds/{guild_id}/members/{user_id}"
MESSAGES = "/channels/{channel_id}/messages"


def seed() -> SimulatorConfig:
    base = SeedSpec()
    roles = [
        *base.roles,
        RoleSpec("Artists", int(Perm.ATTACH_FILES), color=0xE91E63, hoist=True),
        RoleSpec("Gamers", 0, color=0x9B59B6, mentionable=True),
        RoleSpec("Helpers", int(MODERATOR), color=0x1ABC9C, hoist=True),
        RoleSpec("EvilBot", int(Perm.MANAGE_WEBHOOKS | Perm.BAN_MEMBERS | Perm.VIEW_CHANNEL)),
        RoleSpec("Admin", int(Perm.ADMINISTRATOR), color=0xE74C3C),
    ]
    channels = [
        *base.channels,
        ChannelSpec("art", topic="Show your art", category="Community", private_to=("Artists",)),
        ChannelSpec("memes", topic="Memes only", category="Community", slowmode=10),
        ChannelSpec("music", category="Community"),
        ChannelSpec("clips", topic="Game clips", category="Community", private_to=("Gamers",)),
        ChannelSpec("games", category="Community"),
    ]
    members = [
        *base.members,
        MemberSpec("rogue", "Rogue Admin", roles=("Admin", "Member", "Helpers")),
        MemberSpec("steady", "Steady Admin", roles=("Admin", "Member")),
        MemberSpec("evilbot", "Evil Bot", roles=("EvilBot",), bot=True),
    ]
    return SimulatorConfig(seed=SeedSpec(roles=roles, channels=channels, members=members))


def config(sim):
    data = default_server_config().model_dump(mode="json")
    data["mod_log_channel_id"] = sim.world.channel("mod-log")
    return data


@pytest.fixture
async def stack(temporal_env, session_factory, task_queue):
    """Simulator, gateway bot and a worker running the anti-nuke workflow."""
    helpers = Helpers()
    async with DiscordSimulator(seed()) as sim:
        integration = sim.world.get_role(sim.world.guild_id, sim.world.role("EvilBot"))
        integration.managed, integration.bot_id = True, sim.world.member("evilbot")
        http = DiscordHttp(sim.api_base, "sandbox-token")
        worker = Worker(
            temporal_env.client,
            task_queue=task_queue,
            workflows=[AntiNukeWorkflow, ModerationWorkflow],
            activities=[
                *moderation_activities(session_factory, http),
                *anti_nuke_activities(session_factory, http),
                *helpers.activities(session_factory),
            ],
        )
        async with (
            worker,
            running_bot(
                sim, temporal_env.client, task_queue, session_factory, config=config(sim)
            ) as bot,
        ):
            yield sim, bot, temporal_env.client, helpers
        await http.aclose()


def snapshot(sim):
    """Channels and roles by name, as the world holds them (ids aside)."""
    world = sim.world
    guild = world.guilds[world.guild_id]
    roles = {r.name: r for r in guild.roles.values()}
    channels = {c.name: c for c in world.guild_channels(guild.id) if not c.is_thread}
    return roles, channels


def roles_of(sim, username):
    guild = sim.world.guilds[sim.world.guild_id]
    names = {r.id: r.name for r in guild.roles.values()}
    return sorted(names.get(r, str(r)) for r in guild.members[sim.world.member(username)].roles)


async def incident_workflow_exists(temporal, sim, username) -> bool:
    handle = temporal.get_workflow_handle(
        anti_nuke_workflow_id(sim.world.guild_id, sim.world.member(username))
    )
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def approval_posted(sessions, sim, username):
    workflow_id = anti_nuke_workflow_id(sim.world.guild_id, sim.world.member(username))
    rows = await approvals_of(sessions, workflow_id)
    return rows[0] if rows and rows[0].discord_message_id else None


async def incident(sessions, sim, username):
    async with sessions() as session:
        return await session.scalar(
            select(AntiNukeIncident).where(AntiNukeIncident.actor_id == sim.world.member(username))
        )


async def test_a_rogue_admin_is_quarantined_at_once_and_approve_restores_everything(
    stack, session_factory
):
    sim, _bot, temporal, helpers = stack
    roles_before, channels_before = snapshot(sim)
    for name in DOOMED_CHANNELS:
        await sim.delete_channel_as(name, by="rogue")
    for name in DOOMED_ROLES:
        await sim.delete_role_as(name, by="rogue")
    roles_gone, channels_gone = snapshot(sim)
    assert not set(DOOMED_CHANNELS) & set(channels_gone)
    assert not set(DOOMED_ROLES) & set(roles_gone)

    # held at once: every role the bot may remove is swapped for the quarantine role
    await eventually(lambda: roles_of(sim, "rogue") == ["Quarantine"])
    assert snapshot(sim)[0]["Quarantine"].permissions == 0
    row = await eventually(lambda: approval_posted(session_factory, sim, "rogue"))
    assert row.action == "antinuke" and row.status == "pending"
    [hold] = [i for i in index_of(sim, "PATCH", MEMBER_PATCH)]
    approval_post = index_of(sim, "POST", MESSAGES)[-1]
    assert hold < approval_post  # quarantined before the approval was asked for

    handle = temporal.get_workflow_handle_for(AntiNukeWorkflow.run, row.workflow_id)
    keys = await eventually(
        lambda: _keys_at_least(handle, len(DOOMED_CHANNELS) + len(DOOMED_ROLES))
    )
    assert sorted(k.split(":")[0] for k in keys) == ["channel_delete"] * 5 + ["role_delete"] * 3
    alert = await eventually(lambda: helpers.alerts)
    assert "Anti-nuke" in alert[0].text and "quarantine" in alert[0].text
    assert not sim.requests("POST", "/guilds/{guild_id}/channels")  # nothing before a decision

    await submit_decision(
        session_factory,
        temporal,
        ApprovalDecision(row.id, "approve", "discord:1", "discord"),
    )
    result = await handle.result()
    assert result.status == "restored", result.report
    roles_after, channels_after = snapshot(sim)
    for name in DOOMED_ROLES:
        old, new = roles_before[name], roles_after[name]
        assert new.id != old.id
        assert (new.permissions, new.color, new.hoist, new.mentionable) == (
            old.permissions,
            old.color,
            old.hoist,
            old.mentionable,
        )
    new_id = {roles_before[n].id: roles_after[n].id for n in roles_before if n in roles_after}
    for name in DOOMED_CHANNELS:
        old, new = channels_before[name], channels_after[name]
        assert (new.type, new.topic, new.parent_id, new.rate_limit_per_user) == (
            old.type,
            old.topic,
            old.parent_id,
            old.rate_limit_per_user,
        )
        expected = {(new_id.get(o.id, o.id), o.type, o.allow, o.deny) for o in old.overwrites}
        assert {(o.id, o.type, o.allow, o.deny) for o in new.overwrites} == expected
    art = channels_after["art"]
    assert any(o.id == roles_after["Artists"].id for o in art.overwrites)  # mapped to the new role
    assert roles_of(sim, "rogue") == ["Quarantine"]  # approve keeps the actor held
    stored = await incident(session_factory, sim, "rogue")
    assert stored.status == "restored" and stored.mitigation == "quarantined"
    assert len(stored.evidence) == 8 and stored.decided_by == "discord:1"
    # Helpers was one of the roles they deleted: it was gone before the quarantine
    assert sorted(int(r) for r in stored.removed_role_ids) == sorted(
        roles_before[n].id for n in ("Admin", "Member")
    )
    edited = await eventually(lambda: sim.requests("PATCH", MESSAGES + "/{message_id}"))
    assert edited[-1].json["embeds"][0]["title"] == "Anti-nuke approved"


async def _keys_at_least(handle, n):
    keys = await handle.query(AntiNukeWorkflow.evidence_keys)
    return keys if len(keys) >= n else None


async def test_reject_is_a_false_alarm_and_gives_the_roles_back(stack, session_factory):
    sim, _bot, temporal, _helpers = stack
    for name in DOOMED_CHANNELS[:3]:
        await sim.delete_channel_as(name, by="rogue")
    await eventually(lambda: roles_of(sim, "rogue") == ["Quarantine"])
    row = await eventually(lambda: approval_posted(session_factory, sim, "rogue"))
    await submit_decision(
        session_factory, temporal, ApprovalDecision(row.id, "reject", "discord:1", "discord")
    )
    handle = temporal.get_workflow_handle_for(AntiNukeWorkflow.run, row.workflow_id)
    result = await handle.result()
    assert result.status == "released"
    assert roles_of(sim, "rogue") == ["Admin", "Helpers", "Member"]
    assert not set(DOOMED_CHANNELS[:3]) & set(snapshot(sim)[1])  # nothing restored


async def test_a_rogue_bot_loses_its_dangerous_permissions_and_modify_bans_it(
    stack, session_factory
):
    sim, _bot, temporal, _helpers = stack
    world = sim.world
    hooks = [await sim.create_webhook_as("general", "evilbot", f"spam-{i}") for i in range(4)]
    managed = world.get_role(world.guild_id, world.role("EvilBot"))
    await eventually(lambda: managed.permissions == int(Perm.VIEW_CHANNEL))
    row = await eventually(lambda: approval_posted(session_factory, sim, "evilbot"))
    stored = await incident(session_factory, sim, "evilbot")
    assert stored.mitigation == "bot_stripped" and stored.trigger == "webhook_create"
    assert world.guilds[world.guild_id].webhooks  # nothing undone before the decision
    await submit_decision(
        session_factory,
        temporal,
        ApprovalDecision(row.id, "modify", "discord:1", "discord", action="ban"),
    )
    handle = temporal.get_workflow_handle_for(AntiNukeWorkflow.run, row.workflow_id)
    result = await handle.result()
    assert result.status == "banned"
    assert not world.guilds[world.guild_id].webhooks
    assert {f"webhook {h.id}: deleted" for h in hooks} <= set(result.report)
    assert world.member("evilbot") in world.guilds[world.guild_id].bans


async def test_a_ban_wave_is_undone_and_the_members_moderation_records_the_lift(
    stack, session_factory
):
    sim, _bot, temporal, _helpers = stack
    world = sim.world
    victims = ["moderator", "alice", "bob", "carol", "steady"]
    for name in victims:
        await sim.ban_as(name, "rogue", reason="bye")
    await eventually(lambda: roles_of(sim, "rogue") == ["Quarantine"])
    row = await eventually(lambda: approval_posted(session_factory, sim, "rogue"))
    alice = world.member("alice")
    member_process = temporal.get_workflow_handle_for(
        ModerationWorkflow.run, moderation_workflow_id(world.guild_id, alice)
    )
    await eventually(lambda: _standing_banned(member_process, True))
    await submit_decision(
        session_factory, temporal, ApprovalDecision(row.id, "approve", "discord:1", "discord")
    )
    handle = temporal.get_workflow_handle_for(AntiNukeWorkflow.run, row.workflow_id)
    result = await handle.result()
    assert result.status == "restored"
    assert not world.guilds[world.guild_id].bans
    assert {f"<@{world.member(n)}> unbanned" for n in victims} <= set(result.report)
    await eventually(lambda: _standing_banned(member_process, False))  # a rejoin stays allowed
    for name in victims:  # the members' moderation processes would idle for 30 days
        with contextlib.suppress(RPCError):
            await temporal.get_workflow_handle(
                moderation_workflow_id(world.guild_id, world.member(name))
            ).terminate()


async def _standing_banned(handle, banned):
    try:
        standing = await handle.query(ModerationWorkflow.standing)
    except RPCError:
        return False
    return standing.banned == banned and not standing.busy


async def test_the_owner_and_a_single_deletion_are_untouched(stack):
    sim, bot, temporal, _helpers = stack
    for name in DOOMED_CHANNELS:
        await sim.delete_channel_as(name, by="owner")
    await sim.delete_channel_as("support", by="steady")
    steady = sim.world.member("steady")
    await eventually(lambda: bot.anti_nuke.watch.sizes()[2] == 1)  # steady's one action counted
    await asyncio.sleep(0.3)
    assert not bot.anti_nuke.watch.tripped(sim.world.guild_id, steady)
    assert roles_of(sim, "steady") == ["Admin", "Member"]
    assert roles_of(sim, "owner") == []
    assert not sim.requests("PATCH", MEMBER_PATCH)
    assert "Quarantine" not in snapshot(sim)[0]
    assert not await incident_workflow_exists(temporal, sim, "owner")
    assert not await incident_workflow_exists(temporal, sim, "steady")
