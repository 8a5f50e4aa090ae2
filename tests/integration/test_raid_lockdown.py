"""The raid lockdown workflow against the simulator, under time skipping, on both databases:
lock, quiet lift restoring everything exactly, removal only after approval (200 a call, leavers
skipped), the raiders' invite, reminders, unlock across a worker restart, a 429 storm."""

from datetime import UTC, datetime, timedelta

from moderation_harness import Helpers, approvals_of
from raid_harness import (
    BULK_BAN,
    GUILD,
    INCIDENT,
    PERMS,
    configure_raid,
    incident_rows,
    member_rows,
    running,
    server_state,
    start_lockdown,
    suspect,
)
from support import eventually

from approvals.decisions import submit_decision
from domain.approvals import ApprovalDecision
from domain.lockdown import LOCK_BITS, SEND_MESSAGES, RaidReport, UnlockRequest
from simulator.models import Overwrite
from workflows.raid import REPORT_SIGNAL, UNLOCK_SIGNAL, RaidLockdownWorkflow

PUBLIC = ("welcome", "general", "support", "events")


def _customise(sim) -> None:
    """Give the server overwrites and slowmode of its own, so 'restored exactly' means something."""
    guild_id = sim.world.guild_id
    general = sim.world.channels[sim.world.channel("general")]
    sim.engine.set_overwrite(
        general,
        Overwrite(guild_id, 0, allow=1 << 15, deny=1 << 14),
        actor_id=sim.world.owner_id,
        reason=None,
    )
    support = sim.world.channels[sim.world.channel("support")]
    sim.engine.update_channel(
        support, {"rate_limit_per_user": 5}, actor_id=sim.world.owner_id, reason=None
    )


def _everyone_can_send(sim, name: str) -> bool:
    channel = sim.world.channels[sim.world.channel(name)]
    return bool(sim.world.channel_permissions(channel, sim.world.member("alice")) & SEND_MESSAGES)


async def _status(handle):
    """The status once the lockdown is in place and recorded (None before)."""
    status = await handle.query(RaidLockdownWorkflow.status)
    return status if status.incident_number is not None else None


async def test_lockdown_locks_then_a_quiet_lift_restores_everything_exactly(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, slowmode_seconds=10, quiet_minutes=30)
    _customise(sim)
    before = server_state(sim)
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers):
        handle = await start_lockdown(env.client, task_queue, sim, reason="test raid")
        await eventually(lambda: server_state(sim)["invites_paused"] or None)
        await eventually(lambda: len(sim.requests("PUT", PERMS, status=204)) >= 4 or None)
        status = await eventually(lambda: _status(handle))
        locked = server_state(sim)
        assert locked["verification_level"] == 3
        assert not any(_everyone_can_send(sim, name) for name in PUBLIC)
        assert locked["channels"]["mod-log"] == before["channels"]["mod-log"]
        assert locked["channels"]["support"][1] == 10  # slowmode raised
        general_ow = next(o for o in locked["channels"]["general"][0] if o[0] == sim.world.guild_id)
        assert general_ow[2] == 1 << 15 and general_ow[3] == (1 << 14) | LOCK_BITS
        assert status.active and status.channels_locked == 4
        # the status shows the locks as soon as they are applied; the alert follows them
        await eventually(lambda: any("Raid lockdown #1 started" in a.text for a in helpers.alerts))
        await env.sleep(timedelta(minutes=20))
        assert (await _status(handle)).active  # not quiet long enough yet
        await env.sleep(timedelta(minutes=11))
        result = await handle.result()
    assert result.lifted_by == "auto"
    assert server_state(sim) == before
    (incident,) = await incident_rows(session_factory, sim.world.guild_id)
    assert incident.status == "lifted" and incident.lifted_by == "auto"
    assert incident.snapshot is not None and len(incident.snapshot["channels"]) == 4
    assert any("everything restored" in line["what"] for line in incident.log or [])
    assert any("lifted" in a.text for a in helpers.alerts)


async def test_raid_activity_postpones_the_lift(env, session_factory, sim, task_queue):
    await configure_raid(session_factory, sim, quiet_minutes=30)
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(env.client, task_queue, sim)
        await eventually(lambda: _status(handle))
        await env.sleep(timedelta(minutes=25))
        await handle.signal(REPORT_SIGNAL, RaidReport(datetime.now(UTC)))
        await env.sleep(timedelta(minutes=25))
        assert (await _status(handle)).active
        await env.sleep(timedelta(minutes=6))
        await handle.result()


async def test_removal_waits_for_approval_then_bans_200_a_call_skipping_leavers(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, quiet_minutes=600)
    ids = [
        (await sim.member_join(f"raider{i:04d}", account_age=timedelta(hours=2))).user_id
        for i in range(450)
    ]
    suspects = tuple(suspect(sim, u) for u in ids)
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers):
        handle = await start_lockdown(env.client, task_queue, sim, suspects[:300])
        await eventually(lambda: _status(handle))
        await handle.signal(REPORT_SIGNAL, RaidReport(datetime.now(UTC), suspects[300:]))
        for user_id in ids[:2]:
            await sim.member_leave(user_id)
        await handle.signal(
            REPORT_SIGNAL, RaidReport(datetime.now(UTC), left_user_ids=tuple(ids[:2]))
        )
        await env.sleep(timedelta(seconds=25))
        (row,) = await eventually(lambda: approvals_of(session_factory, handle.id))
        assert row.action == "ban" and row.target_user_id is None
        assert "448 accounts" in row.reason  # the two who left before are not proposed
        assert not sim.requests("POST", BULK_BAN)  # nothing before a person decides
        assert helpers.sent and helpers.sent[0].user_id is None
        await sim.member_leave(ids[2])  # leaves while the moderators decide
        await handle.signal(
            REPORT_SIGNAL, RaidReport(datetime.now(UTC), left_user_ids=tuple(ids[2:3]))
        )
        outcome = await submit_decision(
            session_factory,
            env.client,
            ApprovalDecision(row.id, "approve", "telegram:42", "telegram"),
        )
        assert outcome.workflow_id == handle.id
        await eventually(lambda: _removed(handle, 447))
        await eventually(lambda: helpers.outcomes and helpers.outcomes[-1].status == "approved")
    calls = sim.requests("POST", BULK_BAN, status=200)
    assert [len(c.json["user_ids"]) for c in calls] == [200, 200, 47]
    bans = sim.world.guilds[sim.world.guild_id].bans
    assert all(u in bans for u in ids[3:]) and not any(u in bans for u in ids[:3])
    members = await member_rows(session_factory, sim.world.guild_id)
    outcomes = {m.user_id: m.outcome for m in members}
    assert len(members) == 450
    assert [outcomes[u] for u in ids[:3]] == ["left", "left", "left"]
    assert {outcomes[u] for u in ids[3:]} == {"banned"}
    assert helpers.outcomes[-1].status == "approved"


async def _removed(handle, count: int):
    status = await handle.query(RaidLockdownWorkflow.status)
    return status if status.removed >= count else None


async def test_a_rejected_removal_removes_nobody(env, session_factory, sim, task_queue):
    await configure_raid(session_factory, sim, quiet_minutes=600)
    ids = [
        (await sim.member_join(f"r{i}", account_age=timedelta(hours=1))).user_id for i in range(5)
    ]
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(
            env.client, task_queue, sim, tuple(suspect(sim, u) for u in ids)
        )
        await eventually(lambda: _status(handle))
        await env.sleep(timedelta(seconds=25))
        (row,) = await eventually(lambda: approvals_of(session_factory, handle.id))
        await submit_decision(
            session_factory, env.client, ApprovalDecision(row.id, "reject", "api:1", "api")
        )
        members = await eventually(lambda: _all_outcome(session_factory, sim, "kept"))
    assert len(members) == 5
    assert not sim.requests("POST", BULK_BAN)
    assert not sim.world.guilds[sim.world.guild_id].bans


async def _all_outcome(sessions, sim, outcome: str):
    members = await member_rows(sessions, sim.world.guild_id)
    return members if members and all(m.outcome == outcome for m in members) else None


async def test_the_raiders_invite_is_deleted_and_its_creator_logged(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, quiet_minutes=600, propose_removal=False)
    guild = sim.world.guilds[sim.world.guild_id]
    alice = sim.world.member("alice")
    invite = sim.world.add_invite(guild.id, sim.world.channel("welcome"), alice)
    ids = [
        (await sim.member_join(f"inv{i}", account_age=timedelta(hours=1))).user_id for i in range(4)
    ]
    suspects = tuple(suspect(sim, u, invite=invite.code) for u in ids)
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(env.client, task_queue, sim, suspects)
        await eventually(lambda: sim.requests("DELETE", "/invites/{invite_code}", status=200))
        await eventually(lambda: _invite_logged(session_factory, sim))
        await handle.signal(UNLOCK_SIGNAL, UnlockRequest("discord:1", "done"))
        await handle.result()
    assert invite.code not in guild.invites
    (incident,) = await incident_rows(session_factory, guild.id)
    assert incident.raid_invite_code == invite.code
    assert incident.raid_invite_creator_id == alice
    assert incident.invite_deleted
    members = await member_rows(session_factory, guild.id)
    assert {m.invite_code for m in members} == {invite.code}


async def _invite_logged(sessions, sim):
    rows = await incident_rows(sessions, sim.world.guild_id)
    return rows if rows and rows[0].invite_deleted else None


async def test_hourly_reminders_renew_the_invite_pause(env, session_factory, sim, task_queue):
    await configure_raid(session_factory, sim, quiet_minutes=300, reminder_minutes=60)
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers):
        handle = await start_lockdown(env.client, task_queue, sim)
        await eventually(lambda: _status(handle))
        pauses = len(sim.requests("PUT", INCIDENT))
        await env.sleep(timedelta(minutes=125))
        await eventually(lambda: len(_reminders(helpers)) >= 2 or None)
        assert len(sim.requests("PUT", INCIDENT)) >= pauses + 2
        await handle.signal(UNLOCK_SIGNAL, UnlockRequest("api:token:1"))
        result = await handle.result()
    assert result.lifted_by == "api:token:1"
    assert "still active after 60 min" in _reminders(helpers)[0]


def _reminders(helpers) -> list[str]:
    return [a.text for a in helpers.alerts if "still active" in a.text]


async def test_unlock_after_a_worker_restart_restores_the_server(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, quiet_minutes=600)
    _customise(sim)
    before = server_state(sim)
    # no workflow cache: the test server would keep routing to a dead worker's sticky queue
    first = running(env.client, task_queue, session_factory, sim, Helpers(), max_cached_workflows=0)
    async with first:
        handle = await start_lockdown(env.client, task_queue, sim)
        await eventually(lambda: _status(handle))
        await eventually(lambda: server_state(sim)["verification_level"] == 3 or None)
    # the first worker is gone; the lockdown stands; a new worker picks it up
    assert server_state(sim) != before
    await handle.signal(UNLOCK_SIGNAL, UnlockRequest("command:7", "all clear"))
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        result = await handle.result()
    assert result.lifted_by == "command:7"
    assert server_state(sim) == before


async def test_a_429_storm_delays_the_lockdown_but_loses_no_change(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, quiet_minutes=600)
    sim.inject_fault(r"/channels/\d+/permissions/\d+", 429, method="PUT", count=6, retry_after=0.2)
    sim.inject_fault(r"/guilds/\d+$", 429, method="PATCH", count=2, retry_after=0.3)
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(env.client, task_queue, sim)
        await eventually(lambda: _locked(sim), timeout=30)
        await handle.signal(UNLOCK_SIGNAL, UnlockRequest("api:1"))
        await handle.result()
    assert len(sim.requests("PUT", PERMS, status=429)) == 6
    assert len(sim.requests("PATCH", GUILD, status=429)) == 2
    assert all(_everyone_can_send(sim, name) for name in PUBLIC)


def _locked(sim):
    done = server_state(sim)["verification_level"] == 3
    return (done and not any(_everyone_can_send(sim, name) for name in PUBLIC)) or None


async def test_a_429_storm_on_bulk_ban_delays_the_removal_but_bans_everyone(
    env, session_factory, sim, task_queue
):
    await configure_raid(session_factory, sim, quiet_minutes=600)
    ids = [
        (await sim.member_join(f"storm{i:03d}", account_age=timedelta(hours=2))).user_id
        for i in range(250)
    ]
    sim.inject_fault(r"/guilds/\d+/bulk-ban", 429, method="POST", count=3, retry_after=0.2)
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(
            env.client, task_queue, sim, tuple(suspect(sim, u) for u in ids)
        )
        await eventually(lambda: _status(handle))
        await env.sleep(timedelta(seconds=25))
        (row,) = await eventually(lambda: approvals_of(session_factory, handle.id))
        await submit_decision(
            session_factory, env.client, ApprovalDecision(row.id, "approve", "api:1", "api")
        )
        await eventually(lambda: _removed(handle, 250), timeout=30)
    assert len(sim.requests("POST", BULK_BAN, status=429)) == 3
    assert [len(c.json["user_ids"]) for c in sim.requests("POST", BULK_BAN, status=200)] == [
        200,
        50,
    ]
    assert all(u in sim.world.guilds[sim.world.guild_id].bans for u in ids)
