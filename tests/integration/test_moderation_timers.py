"""Durable timers: a temporary ban lifts after its duration, also across a worker restart and
continue-as-new; a permanent ban meanwhile is never undone; a rejoin re-applies a timeout.
Each test gets its own time-skipping server; both databases."""

from datetime import UTC, datetime, timedelta

from moderation_harness import (
    Helpers,
    cases_of,
    configure,
    make_worker,
    offence,
    running,
    settled,
)
from support import eventually
from temporalio.api.enums.v1 import EventType

from domain.cases import LiftRequest, MemberRejoined
from workflows.moderation import ModerationWorkflow

MEMBER = "/guilds/{guild_id}/members/{user_id}"
BAN = "/guilds/{guild_id}/bans/{user_id}"


def ban(sim, key, minutes=None, **kw):
    return offence(
        sim,
        key,
        source="command",
        action="ban",
        explicit=True,
        duration_minutes=minutes,
        points=0,
        moderator_id=sim.world.owner_id,
        reason="raid",
        **kw,
    )


async def test_a_temporary_ban_lifts_after_its_duration(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    alice = sim.world.member("alice")
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, ban(sim, "tb", minutes=60))
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        standing = await eventually(lambda: settled(handle, 1))
        assert standing.banned and standing.ban_until is not None
        await env.sleep(timedelta(minutes=30))
        assert not sim.requests("DELETE", BAN)
        await env.sleep(timedelta(minutes=31))
        await eventually(lambda: sim.requests("DELETE", BAN, status=204))
        standing = await eventually(lambda: settled(handle, 2))
    assert alice not in sim.world.guilds[sim.world.guild_id].bans
    assert not standing.banned
    cases = await cases_of(session_factory, sim.world.guild_id)
    assert [(c.action, c.source, c.duration_seconds) for c in cases] == [
        ("ban", "command", 3600),
        ("unban", "timer", None),
    ]


async def test_the_unban_happens_even_when_the_worker_was_replaced_mid_wait(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    # no workflow cache: the test server would keep routing to a dead worker's sticky queue
    first = make_worker(
        env.client, task_queue, session_factory, sim, Helpers(), max_cached_workflows=0
    )
    async with first:
        handle = await started.start(env.client, task_queue, ban(sim, "tb2", minutes=120))
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        await eventually(lambda: settled(handle, 1))
    # no worker at all for the first hour of the ban (the time-skipping server cannot skip
    # past the timer's end without one: the workflow task it schedules holds the clock)
    await env.sleep(timedelta(minutes=60))
    assert not sim.requests("DELETE", BAN)
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        # a new worker, with no memory of the old one: all it has is Temporal's history
        await env.sleep(timedelta(minutes=61))
        await eventually(lambda: sim.requests("DELETE", BAN, status=204))
        await eventually(lambda: settled(handle, 2))
    assert sim.world.member("alice") not in sim.world.guilds[sim.world.guild_id].bans


async def test_a_permanent_ban_meanwhile_is_not_undone_by_the_old_expiry(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, ban(sim, "t1", minutes=60))
        await eventually(lambda: settled(handle, 1))
        await handle.signal(ModerationWorkflow.report, ban(sim, "p1"))  # permanent
        await eventually(lambda: settled(handle, 2))
        await env.sleep(timedelta(hours=3))
        standing = await eventually(lambda: settled(handle, 2))
    assert len(sim.requests("PUT", BAN, status=204)) == 2
    assert not sim.requests("DELETE", BAN)
    assert standing.banned and standing.ban_until is None
    assert sim.world.member("alice") in sim.world.guilds[sim.world.guild_id].bans


async def test_a_running_ban_survives_continue_as_new_and_still_lifts(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    guild = sim.world.guild_id
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(
            env.client, task_queue, ban(sim, "c1", minutes=90), continue_after=2
        )
        first_run = (await handle.describe()).run_id
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        # the second event makes it continue as new. No queries until the new run is settled:
        # on the time-skipping test server a query racing continue-as-new can hang and then
        # hold its clock for good.
        await handle.signal(ModerationWorkflow.report, offence(sim, "c-report", points=0))
        await eventually(lambda: _has_cases(session_factory, guild, 2))
        await eventually(lambda: _new_run_waiting(handle, first_run))
        standing = await handle.query(ModerationWorkflow.standing)
        assert standing.banned and standing.ban_until is not None
        assert standing.cases_recorded == 2 and len(standing.strikes) == 2
        await env.sleep(timedelta(minutes=91))
        await eventually(lambda: sim.requests("DELETE", BAN, status=204))
    cases = await cases_of(session_factory, guild)
    assert [(c.action, c.source) for c in cases][-1] == ("unban", "timer")


async def _has_cases(sessions, guild, n):
    return len(await cases_of(sessions, guild)) >= n


async def _new_run_waiting(handle, first_run):
    """The workflow continued as new and its new run sleeps on its timer."""
    desc = await handle.describe()
    if desc.run_id == first_run:
        return False
    events = [e.event_type async for e in handle.fetch_history_events()]
    return EventType.EVENT_TYPE_TIMER_STARTED in events


async def test_a_rejoin_reapplies_the_rest_of_a_timeout_and_a_lift_ends_it(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    timeout = offence(
        sim, "to1", source="command", action="timeout", explicit=True, duration_minutes=60
    )
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, timeout)
        await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
        await eventually(lambda: settled(handle, 1))
        await env.sleep(timedelta(minutes=20))
        await sim.member_leave("alice")
        await sim.member_join("alice")
        assert sim.world.get_member(guild, alice).communication_disabled_until is None  # fresh
        await handle.signal(
            ModerationWorkflow.member_rejoined, MemberRejoined(guild, alice, datetime.now(UTC))
        )
        patches = await eventually(
            lambda: (
                len(sim.requests("PATCH", MEMBER, status=200)) == 2
                and sim.requests("PATCH", MEMBER, status=200)
            )
        )
        await eventually(lambda: settled(handle, 1))
        until = datetime.fromisoformat(patches[1].json["communication_disabled_until"])
        # 40 of the 60 minutes are left (the simulator's clock is not skipped, the workflow's is)
        assert timedelta(minutes=39) < until - datetime.now(UTC) <= timedelta(minutes=40)
        assert sim.world.get_member(guild, alice).communication_disabled_until is not None

        lift = LiftRequest(guild, alice, "timeout", "calmed down", "lift:1", datetime.now(UTC))
        await handle.signal(ModerationWorkflow.lift, lift)
        standing = await eventually(lambda: settled(handle, 2))
    patches = sim.requests("PATCH", MEMBER, status=200)
    assert patches[-1].json == {"communication_disabled_until": None}
    assert sim.world.get_member(guild, alice).communication_disabled_until is None
    assert standing.timeout_until is None
    cases = await cases_of(session_factory, guild)
    assert [(c.action, c.source) for c in cases] == [("timeout", "command"), ("untimeout", "lift")]


async def test_a_timeout_longer_than_28_days_is_applied_in_chunks(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    forty_days = offence(
        sim, "long", source="command", action="timeout", explicit=True, duration_minutes=40 * 1440
    )
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, forty_days)
        [first] = await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
        await eventually(lambda: settled(handle, 1))
        await env.sleep(timedelta(days=28, minutes=1))
        patches = await eventually(
            lambda: (
                len(sim.requests("PATCH", MEMBER, status=200)) == 2
                and sim.requests("PATCH", MEMBER, status=200)
            )
        )
        standing = await eventually(lambda: settled(handle, 1))
    now = datetime.now(UTC)
    first_until = datetime.fromisoformat(first.json["communication_disabled_until"])
    second_until = datetime.fromisoformat(patches[1].json["communication_disabled_until"])
    assert timedelta(days=27, hours=23) < first_until - now <= timedelta(days=28)
    # the rest: 40 - 28 days (the simulator's clock did not move, the workflow's did)
    assert timedelta(days=11, hours=23) < second_until - now <= timedelta(days=12)
    assert standing.timeout_until is not None
