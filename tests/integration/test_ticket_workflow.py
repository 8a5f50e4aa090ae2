"""The ticket workflow under time skipping, on the Discord simulator and a real database: the
private thread, staff reminder, the member's warning and the auto-close at their instants, claim,
close with a reason, transcript kept and posted, rating, reopen, the per-member limit, a
disabled auto-close that never fires, and an auto-close that fires after a worker restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from support import eventually
from temporalio.client import Client
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from activities.tickets import SEND, VIEW
from dcs.temporal import ticket_activities
from domain.tickets import CLAIM, CLOSE, CLOSED, OPEN, RATE, REOPEN, TicketAction, TicketSpec
from simulator import DiscordSimulator
from simulator.errors import DiscordAPIError
from storage.servers import put_server_config
from storage.tickets import get_ticket, insert_ticket
from workflows.ticket import TicketInput, TicketWorkflow, ticket_workflow_id
from workflows.ticket_control import (
    TicketRefused,
    act,
    open_ticket,
    policy_of,
    server_config,
    signal_messages,
    ticket_view,
)


@contextlib.asynccontextmanager
async def worker(
    client: Client, queue: str, sessions, sim: DiscordSimulator, **options: Any
) -> AsyncIterator[Any]:
    acts = ticket_activities(sessions, DiscordHttp(sim.api_base, "sandbox-token"))
    async with Worker(
        client, task_queue=queue, workflows=[TicketWorkflow], activities=acts, **options
    ) as w:
        yield w


def tickets_config(sim: DiscordSimulator, **overrides: Any) -> dict[str, Any]:
    tickets = {
        "parent_channel_id": sim.world.channel("support"),
        "log_channel_id": sim.world.channel("mod-log"),
        "support_role_ids": [sim.world.role("Moderator")],
        "staff_reminder_minutes": 30,
        "auto_close_hours": 24,
        "warning_hours": 6,
    } | overrides
    return {"version": 1, "tickets": tickets}


async def configure(sessions, sim: DiscordSimulator, **overrides: Any) -> None:
    async with sessions() as session, session.begin():
        await put_server_config(
            session,
            sim.world.guild_id,
            tickets_config(sim, **overrides),
            expected_version=None,
            changed_by="test",
        )


async def open_for(env, sessions, queue, sim, name: str, subject: str = "Cannot log in") -> int:
    spec = TicketSpec(sim.world.guild_id, sim.world.member(name), subject)
    number = await open_ticket(env.client, sessions, queue, spec)
    await eventually(lambda: _has_space(env, sim, number))
    return number


async def _has_space(env, sim, number: int) -> bool:
    view = await ticket_view(env.client, sim.world.guild_id, number)
    return view.channel_id is not None and view.welcome_message_id is not None


def texts(sim: DiscordSimulator, channel_id: int) -> list[str]:
    return [m.content for m in sim.world.channel_messages(channel_id)]


def staff(sim: DiscordSimulator, name: str = "moderator", **kw: Any) -> TicketAction:
    return TicketAction(actor_id=sim.world.member(name), actor_is_staff=True, **kw)


async def row(sessions, sim, number: int):
    async with sessions() as session:
        return await get_ticket(session, sim.world.guild_id, number)


async def test_lifecycle_reminder_warning_auto_close_rating_reopen_close(
    env, session_factory, sim, task_queue
):
    await configure(session_factory, sim)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    async with worker(env.client, task_queue, session_factory, sim):
        number = await open_for(env, session_factory, task_queue, sim, "alice")
        view = await ticket_view(env.client, guild, number)
        thread = sim.world.get_channel(view.channel_id or 0)
        assert thread.type == 12 and thread.parent_id == sim.world.channel("support")
        assert {alice, sim.world.member("moderator")} <= set(thread.thread_members)
        with pytest.raises(DiscordAPIError):  # private: bob is not in it
            await sim.post_message(thread.id, "bob", "let me in")
        welcome = sim.world.get_message(thread.id, view.welcome_message_id or 0)
        buttons = [c["custom_id"] for c in welcome.components[0]["components"]]
        assert buttons == [f"ticket:claim:{number}", f"ticket:close:{number}"]

        await sim.post_message(thread.id, "alice", "I cannot log in", attachments=[("a.png", b"x")])
        await signal_messages(env.client, guild, number, [alice])
        await env.sleep(timedelta(minutes=29))
        assert not any("waiting" in t for t in texts(sim, thread.id))
        await env.sleep(timedelta(minutes=2))
        reminder = await eventually(
            lambda: next((t for t in texts(sim, thread.id) if "waiting" in t), None)
        )
        assert f"<@&{sim.world.role('Moderator')}>" in reminder

        claimed = await act(env.client, guild, number, staff(sim, kind=CLAIM))
        assert claimed.claimed_by == sim.world.member("moderator")
        await sim.post_message(thread.id, "moderator", "Try resetting your password")
        await signal_messages(env.client, guild, number, [sim.world.member("moderator")])
        await eventually(lambda: any("has taken this ticket" in t for t in texts(sim, thread.id)))

        # 24 h without a message: warned at 18 h, closed at 24 h
        await env.sleep(timedelta(hours=17, minutes=50))
        assert not any("closes" in t for t in texts(sim, thread.id))
        await env.sleep(timedelta(minutes=20))
        await eventually(lambda: any("closes <t:" in t for t in texts(sim, thread.id)))
        assert (await ticket_view(env.client, guild, number)).status == OPEN
        await env.sleep(timedelta(hours=6))
        closed = await eventually(lambda: _status(env, guild, number, CLOSED))
        assert closed.close_reason == "No activity" and closed.closed_by is None
        stored = await eventually(lambda: _with_transcript(session_factory, sim, number))
        assert "I cannot log in" in stored.transcript and "a.png" in stored.transcript
        assert stored.status == CLOSED
        log = await eventually(lambda: sim.world.channel_messages(sim.world.channel("mod-log")))
        assert log[-1].attachments[0].filename == f"ticket-{number}.md"
        await eventually(lambda: sim.world.get_channel(thread.id).archived)
        assert sim.world.get_channel(thread.id).locked
        dm = await eventually(lambda: sim.dm_messages("alice"))
        rate_ids = [c["custom_id"] for c in dm[-1].components[0]["components"]]
        assert rate_ids[3] == f"ticket:rate:{guild}:{number}:4"

        with pytest.raises(TicketRefused):  # someone else cannot rate it
            await act(env.client, guild, number, staff(sim, kind=RATE, rating=1))
        await act(env.client, guild, number, TicketAction(RATE, alice, rating=4))
        assert (await eventually(lambda: _rated(session_factory, sim, number))).rating == 4

        reopened = await act(env.client, guild, number, staff(sim, kind=REOPEN))
        assert reopened.status == OPEN and reopened.reopen_count == 1
        await eventually(lambda: not sim.world.get_channel(thread.id).archived)
        await eventually(lambda: any("reopened" in t for t in texts(sim, thread.id)))
        await sim.post_message(thread.id, "alice", "It happened again")
        await act(env.client, guild, number, staff(sim, kind=CLOSE, reason="Fixed in 2.1"))
        await eventually(lambda: _transcript_has(session_factory, sim, number, "Fixed in 2.1"))
        stored = await eventually(lambda: _closed_row(session_factory, sim, number))
        assert "It happened again" in stored.transcript and stored.close_reason == "Fixed in 2.1"
        assert stored.closed_by == sim.world.member("moderator") and stored.reopen_count == 1


async def _status(env, guild: int, number: int, status: str):
    view = await ticket_view(env.client, guild, number)
    return view if view.status == status else None


async def _with_transcript(sessions, sim, number: int):
    found = await row(sessions, sim, number)
    return found if found is not None and found.transcript else None


async def _transcript_has(sessions, sim, number: int, needle: str) -> bool:
    found = await row(sessions, sim, number)
    return found is not None and needle in (found.transcript or "")


async def _closed_row(sessions, sim, number: int):
    found = await row(sessions, sim, number)
    return found if found is not None and found.status == CLOSED else None


async def _rated(sessions, sim, number: int):
    found = await row(sessions, sim, number)
    return found if found is not None and found.rating else None


async def test_limit_per_member_and_disabled_auto_close(env, session_factory, sim, task_queue):
    await configure(session_factory, sim, auto_close_hours=0, staff_reminder_minutes=None)
    guild = sim.world.guild_id
    async with worker(env.client, task_queue, session_factory, sim):
        number = await open_for(env, session_factory, task_queue, sim, "bob")
        with pytest.raises(TicketRefused) as refused:
            await open_ticket(
                env.client,
                session_factory,
                task_queue,
                TicketSpec(guild, sim.world.member("bob"), "again"),
            )
        assert refused.value.key == "ticket.refused.limit"
        assert "1 open ticket(s)" in str(refused.value)
        await env.sleep(timedelta(days=30))
        view = await ticket_view(env.client, guild, number)
        assert view.status == OPEN
        thread = view.channel_id or 0
        assert texts(sim, thread)[1:] == []  # the welcome only: no reminder, warning or close
        with pytest.raises(TicketRefused):  # a member may not claim
            await act(env.client, guild, number, TicketAction(CLAIM, sim.world.member("bob")))
        await act(env.client, guild, number, TicketAction(CLOSE, sim.world.member("bob")))
        await eventually(lambda: _closed_row(session_factory, sim, number))
        second = await open_for(env, session_factory, task_queue, sim, "bob", "another")
        assert second == number + 1

        # two quick opens for one member: the guild row's lock lets exactly one through
        carol = TicketSpec(guild, sim.world.member("carol"), "double click")
        both = await asyncio.gather(
            open_ticket(env.client, session_factory, task_queue, carol),
            open_ticket(env.client, session_factory, task_queue, carol),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in both) == ["TicketRefused", "int"]


async def test_auto_close_fires_after_a_worker_restart(env, session_factory, sim, task_queue):
    await configure(session_factory, sim, warning_hours=0)
    guild = sim.world.guild_id
    # no workflow cache: the test server would keep routing to a dead worker's sticky queue
    async with worker(env.client, task_queue, session_factory, sim, max_cached_workflows=0):
        number = await open_for(env, session_factory, task_queue, sim, "carol")
        await env.sleep(timedelta(hours=10))
    # the worker is gone mid-wait; a new one (a new process in production) takes over
    await env.sleep(timedelta(hours=10))
    assert (await row(session_factory, sim, number)).status == OPEN
    async with worker(env.client, task_queue, session_factory, sim):
        await env.sleep(timedelta(hours=5))
        closed = await eventually(lambda: _closed_row(session_factory, sim, number), timeout=30)
        assert closed.close_reason == "No activity" and closed.closed_by is None
        await eventually(lambda: _with_transcript(session_factory, sim, number))
        assert (await ticket_view(env.client, guild, number)).status == CLOSED


async def test_channel_mode_makes_a_private_channel_and_closing_takes_the_send_right(
    env, session_factory, sim, task_queue
):
    category = sim.world.get_channel(sim.world.channel("support")).parent_id
    await configure(session_factory, sim, mode="channel", parent_channel_id=category)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    async with worker(env.client, task_queue, session_factory, sim):
        number = await open_for(env, session_factory, task_queue, sim, "alice")
        view = await ticket_view(env.client, guild, number)
        channel = sim.world.get_channel(view.channel_id or 0)
        assert channel.type == 0 and channel.parent_id == category
        assert channel.name == f"ticket-{number}"
        everyone = next(o for o in channel.overwrites if o.id == guild)
        assert everyone.deny & VIEW
        with pytest.raises(DiscordAPIError):  # bob cannot see it
            await sim.post_message(channel.id, "bob", "hello?")
        await sim.post_message(channel.id, "alice", "Where is my order?")
        await act(env.client, guild, number, staff(sim, kind=CLOSE, reason="Shipped"))
        await eventually(lambda: _transcript_has(session_factory, sim, number, "Where is my order"))

        def member_overwrite():
            found = next((o for o in channel.overwrites if o.id == alice), None)
            return found if found is not None and found.deny & SEND else None

        await eventually(member_overwrite)
        with pytest.raises(DiscordAPIError):  # read-only for the member once closed
            await sim.post_message(channel.id, "alice", "one more thing")


async def test_continue_as_new_keeps_the_ticket_and_its_timer(
    env, session_factory, sim, task_queue
):
    await configure(session_factory, sim, warning_hours=0)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    spec = TicketSpec(guild, alice, "Long one", origin_channel_id=None)
    async with session_factory() as session, session.begin():
        number = await insert_ticket(session, spec, 5, await env.get_current_time())
    policy = policy_of(await server_config(session_factory, guild))
    async with worker(env.client, task_queue, session_factory, sim):
        handle = await env.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(spec=spec, number=number, policy=policy, history_limit=40),
            id=ticket_workflow_id(guild, number),
            task_queue=task_queue,
        )
        first_run = handle.first_execution_run_id
        await eventually(lambda: _has_space(env, sim, number))
        await act(env.client, guild, number, staff(sim, kind=CLAIM))
        for _ in range(8):  # each batch is a few history events: past 40 it continues as new
            await signal_messages(env.client, guild, number, [alice])
            await asyncio.sleep(0.05)

        async def new_run():
            desc = await handle.describe()
            return desc.run_id != first_run

        await eventually(new_run, timeout=20)
        await eventually(lambda: _claimed_row(session_factory, sim, number))
        await env.sleep(timedelta(hours=23))
        assert (await row(session_factory, sim, number)).status == OPEN
        await env.sleep(timedelta(hours=2))
        closed = await eventually(lambda: _closed_row(session_factory, sim, number))
        assert closed.claimed_by == sim.world.member("moderator")
        assert closed.close_reason == "No activity"


async def _claimed_row(sessions, sim, number: int):
    found = await row(sessions, sim, number)
    return found if found is not None and found.claimed_by else None
