"""Client-side calls on an event, shared by the slash commands, the gateway and the API.

Each one drives the event's workflow (`event:{guild}:{id}`); none writes the database behind its
back. Creating is the exception that proves it: the row is inserted first only to number the
event, and the workflow then owns it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import Priority
from temporalio.exceptions import ApplicationError

from dcs.recurrence import rule_problem
from domain.catalogue import language_of
from domain.events import (
    CancelRequest,
    EditRequest,
    EventSpec,
    EventView,
    RsvpAction,
    RsvpBatch,
    RsvpOutcome,
    problems,
)
from domain.priority import MEDIUM
from storage.events import delete_event, insert_event
from storage.servers import get_server_config
from workflows.event import (
    CANCEL_UPDATE,
    EDIT_UPDATE,
    RSVP_SIGNAL,
    RSVP_UPDATE,
    VIEW_QUERY,
    EventInput,
    EventWorkflow,
    event_workflow_id,
)
from workflows.running import gone_as

__all__ = ["RSVP_SIGNAL", "event_workflow_id"]


class EventRejected(ValueError):
    """The spec is not acceptable; `problems` says why, each a sentence."""

    def __init__(self, found: list[str]) -> None:
        super().__init__("; ".join(found))
        self.problems = found


class EventNotRunning(LookupError):
    """No running workflow for that event: it is over, cancelled or never existed."""


def spec_problems(spec: EventSpec, now: datetime, *, creating: bool = True) -> list[str]:
    """Everything wrong with a spec, the recurrence rule included."""
    found = problems(spec, now, creating=creating)
    if not found and spec.recurrence:
        rule = rule_problem(spec.recurrence, spec.start, spec.timezone)
        found.extend([rule] if rule else [])
    return found


async def create_event(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    guild_id: int,
    spec: EventSpec,
    created_by: int,
    now: datetime,
    discord_event_id: int | None = None,
) -> int:
    """Validate, number the event with its row, and start its workflow; returns the event id.

    `discord_event_id` links an event imported from Discord's own scheduled events, so
    later edits there find it.
    """
    found = spec_problems(spec, now)
    if found:
        raise EventRejected(found)
    async with sessions() as session, session.begin():
        event_id = await insert_event(session, guild_id, spec, created_by or None, discord_event_id)
        raw_config, _ = await get_server_config(session, guild_id)
    try:
        await client.start_workflow(
            EventWorkflow.run,
            EventInput(
                guild_id=guild_id,
                event_id=event_id,
                spec=spec,
                created_by=created_by,
                discord_event_id=discord_event_id,
                language=language_of((raw_config or {}).get("language")),
            ),
            id=event_workflow_id(guild_id, event_id),
            task_queue=task_queue,
            priority=Priority(priority_key=MEDIUM),
        )
    except BaseException:
        async with sessions() as session, session.begin():
            await delete_event(session, event_id)  # never a row no workflow owns
        raise
    return event_id


def _handle(client: Client, guild_id: int, event_id: int) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(event_workflow_id(guild_id, event_id))


def _not_running(event_id: int) -> EventNotRunning:
    return EventNotRunning(f"event {event_id} is not running")


async def event_view(client: Client, guild_id: int, event_id: int) -> EventView:
    """The running event, live from its workflow."""
    with gone_as(_not_running(event_id)):
        view: EventView = await _handle(client, guild_id, event_id).query(
            VIEW_QUERY, result_type=EventView
        )
    return view


async def _update(
    client: Client, guild_id: int, event_id: int, name: str, arg: Any, kind: Any
) -> Any:
    """Run an update: a validator's refusal is EventRejected, a finished event EventNotRunning."""
    with gone_as(_not_running(event_id)):
        try:
            handle = _handle(client, guild_id, event_id)
            return await handle.execute_update(name, arg, result_type=kind)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == "EventRejected":
                raise EventRejected(list(cause.details) or [cause.message]) from exc
            if isinstance(cause, ApplicationError) and cause.type == "EventOver":
                raise EventNotRunning(cause.message) from exc
            raise


async def rsvp(client: Client, guild_id: int, event_id: int, action: RsvpAction) -> RsvpOutcome:
    """One member's RSVP (a button, the API), answered with their status."""
    outcome: RsvpOutcome = await _update(
        client, guild_id, event_id, RSVP_UPDATE, action, RsvpOutcome
    )
    return outcome


async def signal_rsvps(client: Client, guild_id: int, event_id: int, batch: RsvpBatch) -> None:
    """Hand a batch of reaction RSVPs to the event (no answer: reactions need none)."""
    with gone_as(_not_running(event_id)):
        await _handle(client, guild_id, event_id).signal(RSVP_SIGNAL, batch)


async def edit_event(
    client: Client, guild_id: int, event_id: int, request: EditRequest
) -> EventView:
    """Replace the spec; reminders move with the start."""
    view: EventView = await _update(client, guild_id, event_id, EDIT_UPDATE, request, EventView)
    return view


async def cancel_event(
    client: Client, guild_id: int, event_id: int, request: CancelRequest
) -> EventView:
    """Cancel; everyone going or waiting is told."""
    view: EventView = await _update(client, guild_id, event_id, CANCEL_UPDATE, request, EventView)
    return view
