"""The event workflow under time skipping, on the simulator and a real database: reminders at
their instants (time zones and daylight saving included), waitlist promotion, reschedule,
cancellation, reconciling with the post's reactions, rewards after the event, recurrence."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from support import eventually
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from activities.events import ReminderInput
from dcs.temporal import event_activities
from domain.events import (
    CANCELLED,
    COMPLETED,
    GOING,
    MAYBE,
    CancelRequest,
    EditRequest,
    EventSpec,
    EventView,
    ReminderSpec,
    RsvpAction,
    RsvpBatch,
)
from simulator import DiscordSimulator
from storage.events import get_event, list_rsvps
from storage.levels import get_member_level
from workflows.event import RSVP_SIGNAL, EventWorkflow
from workflows.event_control import (
    EventNotRunning,
    EventRejected,
    cancel_event,
    create_event,
    edit_event,
    event_view,
    rsvp,
)


class Fired:
    """The real reminder activity, wrapped to note the workflow-clock instant it ran at."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.at: dict[str, datetime] = {}

    def activity(self) -> Any:
        @activity.defn(name="send_event_reminder")
        async def send(inp: ReminderInput) -> int:
            at = activity.info().current_attempt_scheduled_time
            self.at[inp.key] = at.replace(microsecond=0)  # the timer plus a task's milliseconds
            return await self.real(inp)

        return send


@contextlib.asynccontextmanager
async def worker(
    client: Client, queue: str, sessions, sim: DiscordSimulator, fired: Fired | None = None
) -> AsyncIterator[Worker]:
    acts = event_activities(sessions, DiscordHttp(sim.api_base, "sandbox-token"))
    if fired is not None:
        real = next(a for a in acts if a.__name__ == "send_event_reminder")
        fired.real = real
        acts = [a for a in acts if a is not real] + [fired.activity()]
    async with Worker(client, task_queue=queue, workflows=[EventWorkflow], activities=acts) as w:
        yield w


def _spec(sim: DiscordSimulator, start: datetime, **kw: Any) -> EventSpec:
    base: dict[str, Any] = {
        "title": "Game night",
        "start": start,
        "timezone": "Europe/Berlin",
        "channel_id": sim.world.channel("events"),
    }
    return EventSpec(**(base | kw))


async def _create(env, sessions, queue, sim, spec: EventSpec) -> tuple[int, WorkflowHandle]:
    event_id = await create_event(
        env.client,
        sessions,
        queue,
        sim.world.guild_id,
        spec,
        sim.world.member("owner"),
        await _now(env),
    )
    handle = env.client.get_workflow_handle_for(
        EventWorkflow.run, f"event:{sim.world.guild_id}:{event_id}"
    )
    await eventually(lambda: _posted(env, sim, event_id))
    return event_id, handle


async def _run_out(env, handle: WorkflowHandle, until: datetime) -> Any:
    """Skip time past `until`, then the result (a handle we did not start does not skip)."""
    await env.sleep(until - await _now(env) + timedelta(minutes=1))
    return await handle.result()


async def _now(env) -> datetime:
    return await env.get_current_time()


async def _posted(env, sim, event_id: int) -> EventView | None:
    view = await event_view(env.client, sim.world.guild_id, event_id)
    return view if view.message_id else None


def _dms(sim: DiscordSimulator, name: str) -> list[str]:
    channel = sim.world.dm_channels.get(sim.world.member(name))
    return [m.content for m in sim.world.channel_messages(channel)] if channel else []


def _post(sim: DiscordSimulator, view: EventView):
    assert view.spec.channel_id is not None and view.message_id is not None
    return sim.world.get_message(view.spec.channel_id, view.message_id)


def _field(post, name: str) -> str:
    return next(f["value"] for f in post.embeds[0]["fields"] if f["name"] == name)


def _act(sim, name: str, choice: str | None, added: bool = True, **kw) -> RsvpAction:
    return RsvpAction(sim.world.member(name), choice, added, **kw)


async def test_reminders_fire_at_local_instants_across_dst(env, session_factory, sim, task_queue):
    # New York springs forward on 2027-03-14: the day-before reminder is 23 hours before
    start = datetime(2027, 3, 14, 23, 0, tzinfo=UTC)  # 19:00 EDT
    spec = _spec(
        sim,
        start,
        timezone="America/New_York",
        reminders=(ReminderSpec(24 * 60, "see you tomorrow"), ReminderSpec(60), ReminderSpec(0)),
    )
    fired = Fired(None)
    async with worker(env.client, task_queue, session_factory, sim, fired):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        await rsvp(
            env.client, sim.world.guild_id, event_id, _act(sim, "alice", GOING, source="button")
        )
        result = await _run_out(env, handle, spec.ends_at)
    assert fired.at == {
        "r1440": datetime(2027, 3, 14, 0, 0, tzinfo=UTC),  # 19:00 EST the day before
        "r60": datetime(2027, 3, 14, 22, 0, tzinfo=UTC),
        "r0": datetime(2027, 3, 14, 23, 0, tzinfo=UTC),
    }
    dms = _dms(sim, "alice")
    assert len(dms) == 3 and "see you tomorrow" in dms[0] and "starts now" in dms[2]
    channel = [m.content for m in sim.world.channel_messages(spec.channel_id)]
    assert sum("Game night" in c for c in channel) == 4  # the announcement and three reminders
    assert result.status == COMPLETED and result.attended == 1


async def test_waitlist_promotion_is_told_and_recorded(env, session_factory, sim, task_queue):
    start = await _now(env) + timedelta(days=3)
    spec = _spec(sim, start, capacity=1, reminders=())
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        first = await rsvp(env.client, guild, event_id, _act(sim, "alice", GOING, source="button"))
        second = await rsvp(env.client, guild, event_id, _act(sim, "bob", GOING, source="button"))
        assert (first.status, second.status, second.position) == (GOING, "waitlist", 1)
        left = await rsvp(env.client, guild, event_id, _act(sim, "alice", None, source="button"))
        assert left.promoted == (sim.world.member("bob"),)
        await eventually(lambda: any("seat came free" in d for d in _dms(sim, "bob")))
        view = await event_view(env.client, guild, event_id)
        await eventually(lambda: _field(_post(sim, view), "✅ Going") == "1/1")
        bob_only = [(sim.world.member("bob"), GOING)]
        await eventually(lambda: _stored_is(session_factory, guild, event_id, bob_only))
        await cancel_event(env.client, guild, event_id, CancelRequest("test over"))
        await handle.result()


async def _stored_is(sessions, guild: int, event_id: int, expected: list) -> bool:
    async with sessions() as session:
        page = await list_rsvps(session, guild, event_id, 0)
    return [(r.user_id, r.status) for r in page.items] == expected


async def test_reschedule_moves_the_reminders_and_tells_people(
    env, session_factory, sim, task_queue
):
    start = (await _now(env) + timedelta(days=2)).replace(microsecond=0)
    spec = _spec(sim, start, reminders=(ReminderSpec(60),))
    fired = Fired(None)
    async with worker(env.client, task_queue, session_factory, sim, fired):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        await rsvp(env.client, guild, event_id, _act(sim, "carol", GOING, source="button"))
        later = replace(spec, start=start + timedelta(days=1))
        view = await edit_event(env.client, guild, event_id, EditRequest(later))
        assert view.spec.start == later.start
        await eventually(lambda: any("moved" in d for d in _dms(sim, "carol")))
        result = await _run_out(env, handle, later.ends_at)
    assert fired.at == {"r60": later.start - timedelta(hours=1)}
    assert result.attended == 1


async def test_a_bad_edit_changes_nothing(env, session_factory, sim, task_queue):
    spec = _spec(sim, await _now(env) + timedelta(days=2))
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        past = replace(spec, start=await _now(env) - timedelta(hours=1))
        try:
            await edit_event(env.client, guild, event_id, EditRequest(past))
        except EventRejected as exc:
            assert "future" in str(exc)
        else:
            raise AssertionError("a start in the past was accepted")
        assert (await event_view(env.client, guild, event_id)).spec == spec
        await cancel_event(env.client, guild, event_id, CancelRequest())
        await handle.result()


async def test_cancellation_tells_everyone_and_closes_the_post(
    env, session_factory, sim, task_queue
):
    spec = _spec(sim, await _now(env) + timedelta(days=5), capacity=1)
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        await rsvp(env.client, guild, event_id, _act(sim, "alice", GOING, source="button"))
        await rsvp(env.client, guild, event_id, _act(sim, "bob", GOING, source="button"))
        await rsvp(env.client, guild, event_id, _act(sim, "carol", MAYBE, source="button"))
        view = await cancel_event(env.client, guild, event_id, CancelRequest("venue closed", 1))
        assert view.status == CANCELLED
        result = await handle.result()
        try:
            await rsvp(env.client, guild, event_id, _act(sim, "carol", GOING, source="button"))
        except EventNotRunning:
            pass
        else:
            raise AssertionError("an RSVP reached a cancelled event")
    assert result.status == CANCELLED
    for name in ("alice", "bob"):  # going and waiting are told; maybe is not
        assert any("cancelled (venue closed)" in d for d in _dms(sim, name))
    assert not any("cancelled" in d for d in _dms(sim, "carol"))
    post = _post(sim, view)
    assert post.embeds[0]["title"] == "Cancelled: Game night"
    assert all(b["disabled"] for b in post.components[0]["components"])
    async with session_factory() as session:
        row = await get_event(session, guild, event_id)
    assert row is not None and row.status == CANCELLED and row.cancel_reason == "venue closed"


async def test_reactions_are_reconciled_with_the_post(env, session_factory, sim, task_queue):
    spec = _spec(sim, await _now(env) + timedelta(days=1), reminders=())
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        view = await event_view(env.client, guild, event_id)
        post = _post(sim, view)
        assert set(post.reactions) >= {"✅", "🤔", "❌"}  # the bot's own, to click on
        assert post.attachments[0].filename == f"event-{event_id}.ics"
        assert b"BEGIN:VEVENT" in post.attachments[0].data
        # on the post: bob going, carol maybe; the gateway's events arrive out of order and
        # one is missing: alice's remove came before her add, carol's never came
        sim.engine.add_reaction(post, sim.world.member("bob"), "✅")
        sim.engine.add_reaction(post, sim.world.member("carol"), "🤔")
        batch = RsvpBatch(
            (
                _act(sim, "alice", GOING, added=False),
                _act(sim, "alice", GOING),
                _act(sim, "bob", GOING),
            )
        )
        await handle.signal(RSVP_SIGNAL, batch)
        settled = await eventually(lambda: _counts_are(env, guild, event_id, going=1, maybe=1))
        assert settled.going == (sim.world.member("bob"),)
        assert settled.maybe == (sim.world.member("carol"),)
        await eventually(lambda: _field(_post(sim, view), "🤔 Maybe") == "1")
        await cancel_event(env.client, guild, event_id, CancelRequest())
        await handle.result()


async def _counts_are(env, guild: int, event_id: int, **counts: int) -> EventView | None:
    await env.sleep(timedelta(seconds=2))  # the quiet period before a reconcile
    view = await event_view(env.client, guild, event_id)
    ok = all(getattr(view.counts, k) == v for k, v in counts.items())
    return view if ok else None


async def test_attendance_pays_rewards_once_and_recurs_weekly(
    env, session_factory, sim, task_queue
):
    start = (await _now(env) + timedelta(days=2)).replace(microsecond=0)
    spec = _spec(
        sim,
        start,
        end=start + timedelta(hours=2),
        reminders=(),
        xp_reward=40,
        recurrence="FREQ=WEEKLY;COUNT=2",
    )
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        await rsvp(env.client, guild, event_id, _act(sim, "alice", GOING, source="button"))
        await env.sleep(timedelta(days=3))
        second = await eventually(lambda: _occurrence(env, guild, event_id, 1))
        assert second.spec.start == start + timedelta(days=7)
        assert second.counts.going == 0 and second.message_id != (await _first_post(sim, spec))
        await rsvp(env.client, guild, event_id, _act(sim, "alice", GOING, source="button"))
        await rsvp(env.client, guild, event_id, _act(sim, "bob", GOING, source="button"))
        result = await _run_out(env, handle, second.spec.ends_at)
    assert (result.status, result.occurrence, result.attended) == (COMPLETED, 1, 2)
    async with session_factory() as session:
        alice = await get_member_level(session, guild, sim.world.member("alice"))
        bob = await get_member_level(session, guild, sim.world.member("bob"))
        row = await get_event(session, guild, event_id)
    assert alice is not None and alice.events_attended == 2 and bob is not None
    assert bob.events_attended == 1
    assert alice.xp - bob.xp == 40  # one more event's XP (the first-event badge bonus on both)
    assert row is not None and row.status == COMPLETED and row.occurrence == 1


async def _occurrence(env, guild: int, event_id: int, n: int) -> EventView | None:
    try:
        view = await event_view(env.client, guild, event_id)
    except EventNotRunning:
        return None
    return view if view.occurrence == n and view.message_id else None


async def _first_post(sim: DiscordSimulator, spec: EventSpec) -> int:
    assert spec.channel_id is not None
    return min(m.id for m in sim.world.channel_messages(spec.channel_id))


async def test_discord_scheduled_event_follows(env, session_factory, sim, task_queue):
    spec = _spec(
        sim,
        await _now(env) + timedelta(days=1),
        reminders=(),
        discord_sync=True,
        location="Voice lounge",
    )
    async with worker(env.client, task_queue, session_factory, sim):
        event_id, handle = await _create(env, session_factory, task_queue, sim, spec)
        guild = sim.world.guild_id
        view = await eventually(lambda: _linked(env, guild, event_id))
        scheduled = sim.world.guilds[guild].scheduled_events[view.discord_event_id]
        assert scheduled.name == "Game night"
        await cancel_event(env.client, guild, event_id, CancelRequest())
        await handle.result()
    assert scheduled.status == 4


async def _linked(env, guild: int, event_id: int) -> EventView | None:
    view = await event_view(env.client, guild, event_id)
    return view if view.discord_event_id else None


async def test_a_bad_spec_is_refused_and_nothing_is_stored(env, session_factory, sim, task_queue):
    bad = _spec(sim, await _now(env) + timedelta(days=1), recurrence="FREQ=HOURLY", capacity=0)
    try:
        await create_event(
            env.client, session_factory, task_queue, sim.world.guild_id, bad, 1, await _now(env)
        )
    except EventRejected as exc:
        assert exc.problems == ["capacity: must be at least 1 (or unset for no limit)"]
    else:
        raise AssertionError("accepted")
    hourly = replace(bad, capacity=None)
    try:
        await create_event(
            env.client, session_factory, task_queue, sim.world.guild_id, hourly, 1, await _now(env)
        )
    except EventRejected as exc:
        assert "at most once a day" in str(exc)
    else:
        raise AssertionError("accepted")
