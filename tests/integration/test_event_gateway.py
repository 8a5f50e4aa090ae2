"""The gateway side of events through the simulator, the real discord.py bot and a real Temporal
dev server: reaction RSVPs batched in arrival order, RSVP buttons answered, a reaction burst with
a stray out-of-order remove ending with the right counts, /timezone and /event create. Both
databases."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import discord
from support import eventually, running_bot
from temporalio import workflow
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from domain.events import (
    CANCELLED,
    GOING,
    MAYBE,
    WAITLIST,
    EventSpec,
    EventView,
    RsvpBatch,
    RsvpCounts,
    RsvpOutcome,
)
from gateway.event_link import EventLink, button_id, outcome_text, parse_button, reaction_action
from simulator.models import ScheduledEvent
from storage.events import find_event_by_discord_id, get_event, get_member_timezone, list_events
from workflows.event import EventWorkflow
from workflows.event_control import create_event, event_view

# -- the link alone: batching and order, against a recorder on the event's workflow id ---------


@workflow.defn(name="RsvpRecorder", sandboxed=False)
class RsvpRecorder:
    """Stands in for an event: keeps every batch it is signalled."""

    def __init__(self) -> None:
        self.batches: list[RsvpBatch] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name="rsvp")
    def rsvp(self, batch: RsvpBatch) -> None:
        self.batches.append(batch)

    @workflow.query(name="batches")
    def seen(self) -> list[RsvpBatch]:
        return self.batches


class _Host:
    """What EventLink needs of a bot: a Temporal client, sessions, and its own user."""

    def __init__(self, temporal, sessions) -> None:
        self.temporal = temporal
        self.sessions = sessions
        self.user = None


def _payload(
    kind: str, message_id: int, user_id: int, emoji: str
) -> discord.RawReactionActionEvent:
    data = {"message_id": message_id, "channel_id": 5, "user_id": user_id, "guild_id": 7, "type": 0}
    return discord.RawReactionActionEvent(data, discord.PartialEmoji(name=emoji), kind)  # type: ignore[arg-type]


async def test_reactions_are_batched_per_event_in_arrival_order(temporal_env, session_factory):
    """Six reactions on two posts become one signal per event, each in the order they came."""
    queue = f"q-{uuid4()}"
    client = temporal_env.client
    link = EventLink(_Host(client, session_factory))
    link.remember(100, (7, 1))
    link.remember(200, (7, 2))
    async with Worker(client, task_queue=queue, workflows=[RsvpRecorder]):
        one = await client.start_workflow("RsvpRecorder", id="event:7:1", task_queue=queue)
        two = await client.start_workflow("RsvpRecorder", id="event:7:2", task_queue=queue)
        for kind, message, user, emoji in [
            ("REACTION_ADD", 100, 11, "✅"), ("REACTION_ADD", 200, 12, "🤔"),
            ("REACTION_REMOVE", 100, 11, "✅"), ("REACTION_ADD", 100, 11, "🤔"),
            ("REACTION_ADD", 100, 13, "👍"), ("REACTION_ADD", 300, 14, "✅"),
        ]:  # fmt: skip
            link.on_reaction(_payload(kind, message, user, emoji), added=kind == "REACTION_ADD")
        await link.flush()
        first = await one.query("batches", result_type=list[RsvpBatch])
        second = await two.query("batches", result_type=list[RsvpBatch])
        await one.terminate()
        await two.terminate()
    assert [[(a.user_id, a.choice, a.added) for a in b.actions] for b in first] == [
        [(11, GOING, True), (11, GOING, False), (11, MAYBE, True)]
    ]
    assert [[(a.user_id, a.choice) for a in b.actions] for b in second] == [[(12, MAYBE)]]
    assert link.signals_sent == 2  # 👍 is no RSVP; message 300 is no event post


def test_buttons_and_reactions_parse():
    """Custom ids, emoji and the replies a member sees."""
    assert parse_button(button_id(42, "going")) == (42, GOING)
    assert parse_button("event:42:leave") == (42, None)
    assert parse_button("event:x:going") is None
    assert parse_button("verify:42") is None
    action = reaction_action(_payload("REACTION_REMOVE", 1, 9, "🤔"), added=False)
    assert action is not None and (action.choice, action.added, action.roles_known) == (
        MAYBE,
        False,
        False,
    )
    assert reaction_action(_payload("REACTION_ADD", 1, 9, "🎉"), added=True) is None
    assert outcome_text(RsvpOutcome(1, WAITLIST, True, position=3)) == "You're #3 on the waitlist"
    assert outcome_text(RsvpOutcome(1, None, True)) == "You're no longer signed up"


# -- the whole path: simulator, SuiteBot, EventWorkflow ------------------------------------------


@contextlib.asynccontextmanager
async def stack(temporal_env, sessions, sim, config=None) -> AsyncIterator[tuple[object, str]]:
    from dcs.temporal import event_activities

    queue = f"q-{uuid4()}"
    acts = event_activities(sessions, DiscordHttp(sim.api_base, "sandbox-token"))
    client = temporal_env.client
    async with Worker(client, task_queue=queue, workflows=[EventWorkflow], activities=acts):
        async with running_bot(sim, client, queue, sessions, config=config) as bot:
            yield bot, queue


async def _event(temporal_env, sessions, sim, queue, **kw) -> tuple[int, EventView]:
    now = datetime.now(UTC)
    spec = EventSpec(
        title="Game night", start=now + timedelta(days=2), timezone="Europe/Berlin",
        channel_id=sim.world.channel("events"), **kw,
    )  # fmt: skip
    guild = sim.world.guild_id
    event_id = await create_event(
        temporal_env.client, sessions, queue, guild, spec, sim.world.member("owner"), now
    )

    async def posted():
        view = await event_view(temporal_env.client, guild, event_id)
        return view if view.message_id else None

    return event_id, await eventually(posted, timeout=30)


def _ids(sim, *names: str) -> tuple[int, ...]:
    return tuple(sim.world.member(n) for n in names)


async def _view_when(temporal_env, sim, event_id, check) -> EventView:
    async def probe():
        view = await event_view(temporal_env.client, sim.world.guild_id, event_id)
        return view if check(view) else None

    return await eventually(probe, timeout=30)


async def test_reactions_on_the_post_become_rsvps(temporal_env, session_factory, sim):
    """Members react on the announcement; the workflow's view shows each choice."""
    async with stack(temporal_env, session_factory, sim) as (_bot, queue):
        event_id, view = await _event(temporal_env, session_factory, sim, queue)
        post = view.message_id
        await sim.add_reaction("events", post, "alice", "✅")
        await sim.add_reaction("events", post, "bob", "✅")
        await sim.add_reaction("events", post, "carol", "🤔")
        await sim.add_reaction("events", post, "moderator", "❌")
        view = await _view_when(
            temporal_env, sim, event_id, lambda v: v.counts.going == 2 and v.counts.declined == 1
        )
        assert set(view.going) == set(_ids(sim, "alice", "bob"))
        assert view.maybe == _ids(sim, "carol")
        assert view.declined == _ids(sim, "moderator")


async def test_a_burst_with_an_out_of_order_remove_ends_right(temporal_env, session_factory, sim):
    """Quick changes keep their order; a stray remove for a reaction still on the post is
    undone once the workflow checks the post's reactions (the member rejoins at the back)."""
    async with stack(temporal_env, session_factory, sim) as (_bot, queue):
        event_id, view = await _event(temporal_env, session_factory, sim, queue, capacity=2)
        post = view.message_id
        for name, emoji, add in [
            ("alice", "✅", True), ("bob", "✅", True), ("alice", "✅", False),
            ("alice", "✅", True), ("carol", "✅", True), ("bob", "✅", False),
            ("moderator", "🤔", True), ("moderator", "🤔", False), ("moderator", "✅", True),
        ]:  # fmt: skip
            act = sim.add_reaction if add else sim.remove_reaction
            await act("events", post, name, emoji)
        message = sim.world.get_message(sim.world.channel("events"), post)
        sim.engine.dispatch(  # Discord delivers a remove that did not happen (a reconnect)
            "MESSAGE_REACTION_REMOVE",
            {
                "user_id": str(sim.world.member("carol")), "channel_id": str(message.channel_id),
                "message_id": str(post), "guild_id": str(sim.world.guild_id),
                "emoji": {"id": None, "name": "✅"}, "burst": False, "type": 0,
            },
        )  # fmt: skip
        signed = set(_ids(sim, "alice", "carol", "moderator"))
        view = await _view_when(
            temporal_env, sim, event_id,
            lambda v: v.counts == RsvpCounts(going=2, waitlist=1)
            and set(v.going + v.waitlist) == signed,
        )  # fmt: skip
        assert view.going[0] == sim.world.member("alice")  # kept her place through the burst


def _reply(sim, record) -> str:
    described = record.describe(sim.world)
    parts = [m["content"] for m in described["followups"]]
    if described["original_message"]:
        parts.append(described["original_message"]["content"])
    parts += [str(r["data"].get("content", "")) for r in described["responses"] if r["data"]]
    return " | ".join(p for p in parts if p)


async def _answer(sim, record, contains: str) -> str:
    return await eventually(lambda: (t := _reply(sim, record)) and contains in t and t, timeout=20)


async def test_buttons_answer_each_member(temporal_env, session_factory, sim):
    """Going, the waitlist with its place, maybe, and leaving, each answered ephemerally."""
    async with stack(temporal_env, session_factory, sim) as (_bot, queue):
        event_id, view = await _event(temporal_env, session_factory, sim, queue, capacity=1)
        post = view.message_id
        click = sim.click_button
        await _answer(sim, await click(button_id(event_id, "going"), "alice", post), "going")
        await _answer(
            sim, await click(button_id(event_id, "going"), "bob", post), "#1 on the waitlist"
        )
        await _answer(sim, await click(button_id(event_id, "maybe"), "carol", post), "maybe")
        await _answer(
            sim, await click(button_id(event_id, "leave"), "alice", post), "no longer signed up"
        )
        view = await event_view(temporal_env.client, sim.world.guild_id, event_id)
        assert view.going == _ids(sim, "bob")  # promoted when alice left
        assert view.maybe == _ids(sim, "carol")


async def test_timezone_then_event_create(temporal_env, session_factory, sim):
    """Without a zone nothing is created; with /timezone set, 'friday 8pm' is read in it."""
    async with stack(temporal_env, session_factory, sim) as (_bot, _queue):
        first = await sim.invoke_slash_command(
            "event create", "owner", "events", options={"title": "Quiz", "when": "friday 8pm"}
        )
        await _answer(sim, first, "/timezone set")
        bad = await sim.invoke_slash_command("timezone set", "owner", options={"zone": "Mars/Base"})
        await _answer(sim, bad, "unknown time zone")
        ok = await sim.invoke_slash_command(
            "timezone set", "owner", options={"zone": "America/New_York"}
        )
        await _answer(sim, ok, "America/New_York")
        async with session_factory() as session:
            assert await get_member_timezone(session, sim.world.member("owner")) == (
                "America/New_York"
            )
        made = await sim.invoke_slash_command(
            "event create", "owner", "events", options={"title": "Quiz", "when": "friday 8pm"}
        )
        text = await _answer(sim, made, "<t:")
        async with session_factory() as session:
            page = await list_events(session, sim.world.guild_id)
        assert [row.title for row in page.items] == ["Quiz"]
        start = page.items[0].start_at
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        assert f"<t:{int(start.timestamp())}:F>" in text
        local = start.astimezone(ZoneInfo("America/New_York"))
        assert (local.weekday(), local.hour, local.minute) == (4, 20, 0)
        alice = await sim.invoke_slash_command(
            "event cancel", "alice", "events", options={"event_id": page.items[0].id}
        )
        await _answer(sim, alice, "Manage Events")


async def test_a_discord_scheduled_event_becomes_ours_and_follows_discord(
    temporal_env, session_factory, sim
):
    """With discord_sync on: a member's Discord event is imported, interest is going, an edit
    there moves ours, and cancelling there cancels ours."""
    config = default_server_config().model_dump(mode="json")
    config["events"] = {
        "discord_sync": True, "timezone": "Europe/Berlin",
        "channel_id": sim.world.channel("events"),
    }  # fmt: skip
    guild = sim.world.guilds[sim.world.guild_id]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    async with stack(temporal_env, session_factory, sim, config) as (_bot, _queue):
        discord_event = ScheduledEvent(
            id=sim.world.new_id(), guild_id=guild.id, name="Movie night",
            scheduled_start_time=start, scheduled_end_time=start + timedelta(hours=2),
            entity_type=3, creator_id=sim.world.member("owner"), location="Cinema",
        )  # fmt: skip
        sim.engine.create_event(guild, discord_event, reason=None)

        async def linked():
            async with session_factory() as session:
                return await find_event_by_discord_id(session, guild.id, discord_event.id)

        event_id = await eventually(linked, timeout=20)
        view = await _view_when(temporal_env, sim, event_id, lambda v: v.message_id is not None)
        assert (view.spec.title, view.spec.location, view.spec.start) == (
            "Movie night", "Cinema", start,
        )  # fmt: skip
        assert len(guild.scheduled_events) == 1  # linked, not mirrored a second time

        await sim.set_event_interest(discord_event.id, "alice")
        await _view_when(temporal_env, sim, event_id, lambda v: v.going == _ids(sim, "alice"))

        later = start + timedelta(days=1)
        sim.engine.update_event(
            guild, discord_event,
            {"name": "Movie marathon", "scheduled_start_time": later,
             "scheduled_end_time": later + timedelta(hours=5)},
            actor_id=sim.world.member("owner"), reason=None,
        )  # fmt: skip
        view = await _view_when(
            temporal_env, sim, event_id, lambda v: v.spec.title == "Movie marathon"
        )
        assert view.spec.start == later and view.spec.end == later + timedelta(hours=5)

        sim.engine.update_event(
            guild, discord_event, {"status": 4}, actor_id=sim.world.member("owner"), reason=None
        )

        async def cancelled():
            async with session_factory() as session:
                row = await get_event(session, guild.id, event_id)
            return row is not None and row.status == CANCELLED

        await eventually(cancelled, timeout=20)


async def test_event_commands_edit_list_info_and_cancel(temporal_env, session_factory, sim):
    """A manager edits, lists, reads and cancels through slash commands; bad input creates
    nothing."""
    async with stack(temporal_env, session_factory, sim) as (_bot, _queue):
        slash = sim.invoke_slash_command
        past = await slash(
            "event create", "owner", "events",
            options={"title": "Old", "when": "2020-01-01 10:00", "timezone": "Europe/Berlin"},
        )  # fmt: skip
        await _answer(sim, past, "in the past")
        made = await slash(
            "event create", "owner", "events",
            options={
                "title": "Raid night", "when": "tomorrow 20:00", "timezone": "Europe/Berlin",
                "capacity": 5, "reminders": "1h,0", "duration": "2h", "members_of": "Member",
            },
        )  # fmt: skip
        await _answer(sim, made, "is scheduled for")
        async with session_factory() as session:
            (row,) = (await list_events(session, sim.world.guild_id)).items
        view = await _view_when(temporal_env, sim, row.id, lambda v: v.message_id is not None)
        assert view.spec.capacity == 5 and view.spec.end == view.spec.start + timedelta(hours=2)
        assert [r.minutes_before for r in view.spec.reminders] == [60, 0]
        assert view.spec.allowed_role_ids == (sim.world.role("Member"),)
        going = button_id(row.id, GOING)
        owner = await sim.click_button(going, "owner", view.message_id)
        await _answer(sim, owner, "certain roles only")  # the owner lacks Member
        await _answer(sim, await sim.click_button(going, "alice", view.message_id), "going")

        edited = await slash(
            "event edit", "owner", "events",
            options={
                "event_id": row.id, "title": "Raid night II", "capacity": 8,
                "members_of": "@everyone",
            },
        )  # fmt: skip
        await _answer(sim, edited, "Raid night II")
        view = await _view_when(temporal_env, sim, row.id, lambda v: v.spec.capacity == 8)
        assert view.spec.allowed_role_ids == ()

        async def saved():  # the list reads the rows the workflow saves
            async with session_factory() as session:
                saved_row = await get_event(session, sim.world.guild_id, row.id)
            return saved_row is not None and saved_row.title == "Raid night II"

        await eventually(saved, timeout=20)
        listed = await slash("event list", "alice", "events")
        await _answer(sim, listed, f"#{row.id} **Raid night II**")
        info = await slash("event info", "alice", "events", options={"event_id": row.id})
        await _answer(sim, info, "1 of 8 going")
        gone = await slash("event cancel", "owner", "events", options={"event_id": row.id})
        await _answer(sim, gone, "is cancelled")
        again = await slash("event info", "alice", "events", options={"event_id": row.id})
        await _answer(sim, again, "(cancelled)")
