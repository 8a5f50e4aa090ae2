"""Durability drills (issue #9): real `dcs worker` and `dcs gateway` processes against a
file-backed Temporal dev server and the Discord simulator. Each drill kills something (SIGKILL,
no goodbye) in the middle of durable work, starts it again, and checks on the simulator and in
the database that the work was done exactly once: not lost, not done twice.

The raid lockdown drill (worker SIGKILLed mid-lockdown, removal approved and carried out, the
server restored exactly) is tests/e2e/test_raid_drill.py; it is not repeated here.

What each drill proves and how to run them: docs/durability.md.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drill_harness import Suite, running_suite, wait_for

from dcs.server_config import default_server_config
from domain.cases import Violation
from domain.events import EventSpec, ReminderSpec
from domain.tickets import CLOSE, CLOSED, TicketAction, TicketSpec
from simulator.gateway import IDENTIFY, RESUME
from simulator.world import World
from storage import outbox
from storage.models import PendingApproval
from storage.tickets import get_ticket
from workflows.event import event_workflow_id
from workflows.event_control import create_event, event_view
from workflows.moderation import (
    ModerationInput,
    ModerationWorkflow,
    moderation_workflow_id,
)
from workflows.ticket import ticket_workflow_id
from workflows.ticket_control import act, open_ticket, ticket_view

pytestmark = pytest.mark.slow

SETTLE = 1.5
"""After the expected effect shows, how long nothing more may happen (a duplicate would)."""
REMINDER_AHEAD = 8.0
"""Seconds from scheduling a reminder to its time: enough to post the event and kill the worker
(the reminder then falls due while the new worker starts, or just after)."""
REMINDER_TOLERANCE = 13.0
"""How late a reminder may be, counted from its time or from the new worker's first poll,
whichever is later. The timer's workflow task goes first to the dead worker's sticky queue and
waits out the sticky schedule-to-start timeout (10 s, the Python SDK's default), then runs on
the normal queue: one workflow task and one REST call, given 3 s on two busy cores."""


@pytest.fixture(scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    async with running_suite(tmp_path_factory.mktemp("drills"), guild_config) as s:
        yield s


def guild_config(world: World) -> dict[str, Any]:
    """The defaults, with a mod-log, one blocked term, and tickets as threads under #support."""
    config: dict[str, Any] = default_server_config().model_dump(mode="json")
    config["mod_log_channel_id"] = world.channel("mod-log")
    config["automod"]["blocked_terms"] = ["idiot"]
    config["tickets"].update(
        parent_channel_id=world.channel("support"),
        log_channel_id=world.channel("mod-log"),
        support_role_ids=[world.role("Moderator")],
    )
    return config


def ban_request(s: Suite, member: str) -> Violation:
    world = s.sim.world
    return Violation(
        guild_id=s.guild,
        user_id=world.member(member),
        source_key=f"drill:{uuid.uuid4()}",
        source="command",
        action="ban",
        reason="drill: scam links",
        occurred_at=datetime.now(UTC),
        moderator_id=world.member("moderator"),
        explicit=True,
    )


async def ask_to_ban(s: Suite, member: str) -> PendingApproval:
    """A moderator's /ban that waits for approval; returns its pending row."""
    violation = ban_request(s, member)
    await s.client.start_workflow(
        ModerationWorkflow.run,
        ModerationInput(s.guild, violation.user_id),
        id=moderation_workflow_id(s.guild, violation.user_id),
        task_queue=s.queue,
        start_signal="report",
        start_signal_args=[violation],
    )

    async def pending() -> PendingApproval | None:
        async with s.sessions() as session:
            rows = await session.scalars(
                select(PendingApproval).where(
                    PendingApproval.target_user_id == violation.user_id,
                    PendingApproval.status == "pending",
                )
            )
            return rows.first()

    row: PendingApproval = await wait_for(pending, 30)
    await s.idle(row.workflow_id)  # the request is posted: now it only waits for a person
    return row


async def approve(s: Suite, row: PendingApproval) -> Any:
    return await s.api.post(
        f"/api/servers/{s.guild}/moderation/pending/{row.id}",
        json={"decision": "approve"},
        headers=s.headers,
    )


async def banned_once(s: Suite, user: int) -> None:
    await wait_for(lambda: s.bans_of(user) >= 1, 60)
    assert await s.stays(lambda: s.bans_of(user) == 1, SETTLE), "banned twice"
    assert user in s.sim.world.guilds[s.guild].bans


def sent_at(message_id: int) -> float:
    """When the simulator created a message (its snowflake's timestamp, seconds)."""
    return ((message_id >> 22) + 1420070400000) / 1000


async def schedule_reminder(s: Suite, ahead: float) -> tuple[str, datetime]:
    """An event in the events channel starting `ahead` seconds from now, reminded at its start."""
    tag = f"drill-reminder-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    start = now + timedelta(seconds=ahead)
    spec = EventSpec(
        title="Drill night",
        start=start,
        timezone="UTC",
        channel_id=s.sim.world.channel("events"),
        reminders=(ReminderSpec(0, tag),),
    )
    event_id = await create_event(
        s.client, s.sessions, s.queue, s.guild, spec, s.sim.world.member("moderator"), now
    )

    async def announced() -> bool:
        return (await event_view(s.client, s.guild, event_id)).message_id is not None

    await wait_for(announced, 30)
    await s.idle(event_workflow_id(s.guild, event_id))  # posted and saved: only timers left
    return tag, start


async def reminded_once(s: Suite, tag: str, start: datetime, back: float) -> float:
    """Wait for the reminder: posted once, not before its time, and within REMINDER_TOLERANCE
    of its time or of `back` (when the worker or the server was back), whichever is later.
    Returns how late it was after its own time."""
    events = s.sim.world.channel("events")
    [message] = await wait_for(lambda: s.messages_containing(events, tag), 60)
    assert await s.stays(lambda: len(s.messages_containing(events, tag)) == 1, SETTLE)
    at = sent_at(message.id)
    assert at >= start.timestamp() - 0.05, "reminded before its time"
    due = max(start.timestamp(), back)
    assert at - due <= REMINDER_TOLERANCE, f"reminder {at - due:.1f}s after it could be sent"
    return at - start.timestamp()


# -- 1-3. the worker is SIGKILLed with an approval waiting, a ticket open and a reminder ahead --


@dataclass
class Staged:
    """What was in flight when the worker died."""

    approval: PendingApproval
    ticket: int
    thread: int
    reminder: tuple[str, datetime]
    worker_back: float
    """When the new worker began polling (epoch seconds)."""


async def open_a_ticket(s: Suite) -> tuple[int, int]:
    """Alice's ticket, its thread and one message in it; returns (number, thread)."""
    alice = s.sim.world.member("alice")
    number = await open_ticket(s.client, s.sessions, s.queue, TicketSpec(s.guild, alice, "Drill"))

    async def has_space() -> Any:
        view = await ticket_view(s.client, s.guild, number)
        return view if view.channel_id and view.welcome_message_id else None

    thread: int = (await wait_for(has_space, 30)).channel_id
    await s.sim.post_message(thread, "alice", "drill: my password reset mail never arrives")
    await s.idle(ticket_workflow_id(s.guild, number))
    return number, thread


@pytest.fixture(scope="module")
async def staged(suite: Suite) -> Staged:
    """One SIGKILL for the three drills, as one real crash would find them all in flight."""
    s = suite
    row, (number, thread) = await asyncio.gather(ask_to_ban(s, "bob"), open_a_ticket(s))
    reminder = await schedule_reminder(s, ahead=REMINDER_AHEAD)  # last: its clock is running
    s.kill_worker()
    decided = await approve(s, row)  # decided while no worker runs: the signal waits in Temporal
    assert decided.status_code == 200, decided.text
    bob, events = s.sim.world.member("bob"), s.sim.world.channel("events")
    assert await s.stays(lambda: s.bans_of(bob) == 0, 0.3)  # nobody to carry it out
    assert s.messages_containing(events, reminder[0]) == []
    s.start_worker()
    return Staged(row, number, thread, reminder, await s.worker_ready())


async def test_worker_killed_during_an_approval_wait_bans_exactly_once(
    suite: Suite, staged: Staged
) -> None:
    s = suite
    bob = s.sim.world.member("bob")
    await banned_once(s, bob)
    again = await approve(s, staged.approval)
    assert again.status_code == 409  # a second press changes nothing
    assert s.bans_of(bob) == 1


async def test_worker_killed_with_a_ticket_open_closes_it_exactly_once(
    suite: Suite, staged: Staged
) -> None:
    s = suite
    world = s.sim.world
    number, thread = staged.ticket, staged.thread
    reason = f"drill close {uuid.uuid4().hex[:6]}"
    action = TicketAction(CLOSE, world.member("moderator"), True, reason=reason)
    closed = await act(s.client, s.guild, number, action)
    assert closed.status == CLOSED

    mod_log = world.channel("mod-log")
    name = f"ticket-{number}.md"

    def effects() -> tuple[int, int, int]:
        """Transcripts posted to the log, close notices in the thread, rating requests."""
        return (
            sum(
                1
                for m in world.channel_messages(mod_log)
                if any(a.filename == name for a in m.attachments)
            ),
            len(s.messages_containing(thread, reason)),
            sum(1 for m in s.sim.dm_messages("alice") if m.components),
        )

    await wait_for(lambda: effects() == (1, 1, 1), 60)
    await wait_for(lambda: world.get_channel(thread).archived, 30)
    assert await s.stays(lambda: effects() == (1, 1, 1), SETTLE), effects()
    async with s.sessions() as session:
        stored = await get_ticket(session, s.guild, number)
    assert stored is not None and stored.status == CLOSED
    assert "password reset mail" in (stored.transcript or "")


async def test_worker_killed_before_a_reminder_is_due_reminds_exactly_once(
    suite: Suite, staged: Staged
) -> None:
    tag, start = staged.reminder
    late = await reminded_once(suite, tag, start, staged.worker_back)
    after = start.timestamp() + late - staged.worker_back
    suite.log.append(
        f"reminder after a worker SIGKILL: {late:.2f}s after its time, "
        f"{after:.2f}s after the new worker's first poll"
    )


# -- 4. the Temporal dev server restarts --


async def test_temporal_dev_server_killed_and_restarted_loses_nothing(suite: Suite) -> None:
    s = suite
    carol = s.sim.world.member("carol")
    row, (tag, start) = await asyncio.gather(
        ask_to_ban(s, "carol"), schedule_reminder(s, ahead=REMINDER_AHEAD)
    )
    worker = s.procs.worker
    assert worker is not None
    s.temporal.kill()  # SIGKILL: the server's state is only what its SQLite file holds
    await s.temporal.start()  # same --db-filename, same port
    back = time.time()
    decided = await wait_for(lambda: _approved(s, row), 30, step=0.5)
    assert decided.status_code == 200, decided.text
    await banned_once(s, carol)
    late = await reminded_once(s, tag, start, back)
    assert worker.poll() is None and s.procs.worker is worker  # the same worker reconnected
    s.log.append(f"reminder after a dev server restart: {late:.2f}s after its time")


async def _approved(s: Suite, row: PendingApproval) -> Any:
    """Approve once the API can reach Temporal again (503 while the server starts)."""
    response = await approve(s, row)
    return response if response.status_code != 503 else None


# -- 5. the gateway --


INSULT = "you idiot, number {i}"


async def test_gateway_resumes_and_handles_the_gap_exactly_once(suite: Suite) -> None:
    """The simulator closes the socket with 4000 (resumable): discord.py RESUMEs, and the
    messages dispatched while it was away are replayed and handled once each."""
    s = suite
    posted, resume, seq_before_gap = await _gap(
        s, "gap", lambda: s.sim.disconnect_gateway(code=4000)
    )
    assert resume.data["seq"] <= seq_before_gap  # so the gap's messages came by replay
    await _handled_once(s, posted)


async def test_gateway_reconnect_request_resumes_exactly_once(suite: Suite) -> None:
    """Op 7 RECONNECT: discord.py closes, RESUMEs, and nothing is handled twice or lost."""
    s = suite
    posted, _, _ = await _gap(s, "recon", s.sim.gateway.request_reconnect)
    await _handled_once(s, posted)


async def _gap(s: Suite, prefix: str, interrupt: Callable[[], int]) -> tuple[list[Any], Any, int]:
    """Interrupt the gateway's session and post insults at once; returns the messages, the
    client's RESUME and the session's last sequence number before them."""
    [(session_id, session)] = s.sim.gateway.sessions.items()  # one gateway, one session
    resumes, identified = session.resumes, s.identifies()
    members = [s.add_member(f"{prefix}{i}") for i in range(4)]
    assert interrupt() == 1
    seq_before_gap = session.seq
    posted = [
        await s.sim.post_message("general", user, INSULT.format(i=f"{prefix}{i}"))
        for i, user in enumerate(members)
    ]
    await wait_for(lambda: session.resumes == resumes + 1, 30)
    resume = [op for op in s.sim.gateway_ops(RESUME) if op.data.get("session_id") == session_id]
    assert len(resume) == resumes + 1
    assert s.identifies() == identified  # resumed, not identified afresh
    assert list(s.sim.gateway.sessions) == [session_id]
    return posted, resume[-1], seq_before_gap


async def _handled_once(s: Suite, posted: list[Any]) -> None:
    """Each message deleted once (one successful DELETE) and one case recorded for it."""

    def deleted_once() -> bool:
        return all(s.deletes_of(m.id) == 1 for m in posted)

    await wait_for(deleted_once, 30)
    await wait_for(lambda: _each_one_case(s, posted), 60)
    assert await s.stays(deleted_once, SETTLE)
    for m in posted:
        assert await s.cases_for(f"automod:{m.id}") == 1
        assert m.id not in {x.id for x in s.sim.messages("general")}


async def _each_one_case(s: Suite, messages: list[Any]) -> bool:
    for m in messages:
        if not await _one_case(s, f"automod:{m.id}"):
            return False
    return True


async def _one_case(s: Suite, source_key: str) -> bool:
    return await s.cases_for(source_key) == 1


async def test_gateway_killed_and_restarted_drains_its_outbox_exactly_once(suite: Suite) -> None:
    s = suite
    identified = s.identifies()
    s.kill_gateway()
    # What a gateway leaves behind when it is killed with reports in its outbox (kept while
    # Temporal was unreachable): one report never handed over, and one handed over but not
    # yet marked done (killed between signal-with-start and outbox.done).
    kept_user, sent_user = s.add_member("kept"), s.add_member("sent")
    kept = await s.keep_report(kept_user, "drill:kept")
    sent = await s.keep_report(sent_user, "drill:sent")
    await s.client.start_workflow(
        ModerationWorkflow.run,
        ModerationInput(s.guild, sent_user),
        id=moderation_workflow_id(s.guild, sent_user),
        task_queue=s.queue,
        start_signal="report",
        start_signal_args=[sent],
    )
    await wait_for(lambda: _one_case(s, sent.source_key), 30)
    await s.start_gateway()
    assert s.identifies() == identified + 1  # a new session: IDENTIFY, not RESUME

    async def drained() -> bool:
        async with s.sessions() as session:
            return await outbox.oldest(session) == []

    await wait_for(drained, 30)
    await wait_for(lambda: _one_case(s, kept.source_key), 30)
    assert await s.stays(lambda: _both_once(s, kept, sent), SETTLE)
    # and the new gateway handles live traffic
    fresh = s.add_member("fresh")
    message = await s.sim.post_message("general", fresh, INSULT.format(i="fresh"))
    await wait_for(lambda: s.deletes_of(message.id) == 1, 30)
    await wait_for(lambda: _one_case(s, f"automod:{message.id}"), 60)
    assert len(s.sim.gateway_ops(IDENTIFY)) == identified + 1
    print("\n".join(s.log))


async def _both_once(s: Suite, *violations: Violation) -> bool:
    for v in violations:
        if await s.cases_for(v.source_key) != 1:
            return False
    return True
