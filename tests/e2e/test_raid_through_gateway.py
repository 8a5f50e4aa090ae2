"""A raid through every real layer: simulator joins -> discord.py gateway -> raid detector ->
`raid:{guild}` on the Temporal dev server -> lockdown REST calls at the simulator -> /unlock
restores; and /lockdown, /raid and /unlock as a moderator types them."""

import asyncio
import contextlib
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from support import eventually, running_bot

from activities.discord_rest import DiscordHttp
from dcs.temporal import build_worker
from domain.lockdown import SEND_MESSAGES, UnlockRequest
from simulator import DiscordSimulator
from storage.models import RaidIncident
from workflows.raid import RaidLockdownWorkflow, raid_workflow_id
from workflows.raid_control import lockdown_status, unlock

pytestmark = pytest.mark.slow
PUBLIC = ("welcome", "general", "support", "events")


def _state(sim):
    guild = sim.world.guilds[sim.world.guild_id]
    channels = {
        sim.world.channels[c].name: sorted(
            (o.id, o.type, o.allow, o.deny) for o in sim.world.channels[c].overwrites
        )
        for c in guild.channel_ids
    }
    return guild.verification_level, channels


def _can_send(sim, name):
    channel = sim.world.channels[sim.world.channel(name)]
    return bool(sim.world.channel_permissions(channel, sim.world.member("alice")) & SEND_MESSAGES)


@contextlib.asynccontextmanager
async def suite(temporal_env, session_factory, task_queue):
    client = temporal_env.client
    async with DiscordSimulator() as sim:
        http = DiscordHttp(sim.api_base, "sandbox-token")
        try:
            async with (
                build_worker(client, task_queue, session_factory, http),
                running_bot(sim, client, task_queue, session_factory) as bot,
            ):
                yield sim, bot, client
        finally:
            with contextlib.suppress(Exception):  # one dev server serves every e2e test
                await client.get_workflow_handle(raid_workflow_id(sim.world.guild_id)).terminate()


async def test_a_mass_join_locks_the_server_down_and_unlock_restores_it(
    temporal_env, session_factory, task_queue
):
    async with suite(temporal_env, session_factory, task_queue) as (sim, bot, client):
        guild = sim.world.guild_id
        before = _state(sim)
        t0 = time.monotonic()
        await sim.mass_join(60, within=3.0, young_share=0.8, seed=7)
        await eventually(lambda: sim.requests("PATCH", "/guilds/{guild_id}", status=200))
        await eventually(lambda: not any(_can_send(sim, n) for n in PUBLIC), timeout=20)
        locked_after = time.monotonic() - t0
        status = await eventually(lambda: _with_suspects(client, guild, 40), timeout=20)
        assert status.active and status.trigger == "detected"
        assert sim.world.guilds[guild].verification_level == 3
        assert sim.world.guilds[guild].invites_disabled_until is not None
        assert sim.world.member("alice") not in _suspect_ids(bot)
        assert guild in bot.spam_guard.lockdowns and bot.spam_guard.raid_active(guild)
        lockdown_posts = [m for m in sim.messages("mod-log") if "Raid lockdown #" in m.content]
        assert lockdown_posts, "the staff were alerted in the mod-log"
        assert await unlock(client, guild, UnlockRequest("test"))
        handle = client.get_workflow_handle_for(RaidLockdownWorkflow.run, raid_workflow_id(guild))
        await eventually(lambda: _state(sim) == before, timeout=20)
        result = await handle.result()
    assert result.lifted_by == "test" and result.suspects >= 40
    assert locked_after < 15


async def _with_suspects(client, guild, count):
    """The lockdown once it is in place and recorded, with at least `count` suspects."""
    status = await lockdown_status(client, guild)
    if status is None or status.incident_number is None:
        return None
    return status if status.suspects >= count else None


def _suspect_ids(bot):
    return {s.user_id for signal in bot.spam_guard.raid_signals for s in signal.suspects}


async def test_lockdown_raid_and_unlock_commands(temporal_env, session_factory, task_queue):
    async with suite(temporal_env, session_factory, task_queue) as (sim, _bot, client):
        guild = sim.world.guild_id
        before = _state(sim)
        refused = await sim.invoke_slash_command("lockdown", "alice", options={"reason": "x"})
        await eventually(lambda: "Manage Server" in _reply(sim, refused), timeout=20)
        record = await sim.invoke_slash_command(
            "lockdown", sim.world.owner_id, options={"reason": "drill", "minutes": 30}
        )
        await eventually(lambda: "Lockdown started" in _reply(sim, record), timeout=20)
        await eventually(lambda: not any(_can_send(sim, n) for n in PUBLIC), timeout=20)
        status = await eventually(lambda: _with_suspects(client, guild, 0), timeout=20)
        assert status.trigger == "manual" and status.reason == "drill"
        shown = await sim.invoke_slash_command("raid", sim.world.owner_id)
        await eventually(lambda: "Lockdown #" in _reply(sim, shown), timeout=20)
        lifted = await sim.invoke_slash_command(
            "unlock", sim.world.owner_id, options={"reason": "drill over"}
        )
        await eventually(lambda: "Lifting the lockdown" in _reply(sim, lifted), timeout=20)
        await eventually(lambda: _state(sim) == before, timeout=20)


def _reply(sim, record) -> str:
    view = record.describe(sim.world)
    parts = [str(r["data"]) for r in view["responses"]]
    if view["original_message"]:
        parts.append(view["original_message"]["content"])
    parts += [m["content"] for m in view["followups"]]
    return " | ".join(parts)


async def test_the_raiders_invite_is_found_deleted_and_leavers_are_noted(
    temporal_env, session_factory, task_queue
):
    async with suite(temporal_env, session_factory, task_queue) as (sim, _bot, client):
        guild = sim.world.guild_id
        invite = sim.world.add_invite(guild, sim.world.channel("welcome"), sim.world.member("bob"))
        joined = []
        for i in range(16):
            try:
                member = await sim.member_join(
                    f"lurker{i:02d}", account_age=timedelta(hours=3), invite_code=invite.code
                )
            except Exception:  # invites paused by the lockdown: the rest cannot get in
                break
            joined.append(member.user_id)
            await asyncio.sleep(0.05)
        status = await eventually(lambda: _with_suspects(client, guild, 3), timeout=20)
        assert status.active
        await eventually(lambda: invite.code not in sim.world.guilds[guild].invites, timeout=20)
        gone = joined[-1]
        await sim.member_leave(gone)
        await eventually(lambda: _left(client, guild), timeout=20)
    async with session_factory() as session:
        row = await session.scalar(select(RaidIncident).where(RaidIncident.guild_id == guild))
    assert row is not None and row.raid_invite_code == invite.code
    assert row.raid_invite_creator_id == sim.world.member("bob") and row.invite_deleted


async def _left(client, guild):
    status = await lockdown_status(client, guild)
    return status if status is not None and status.left >= 1 else None
