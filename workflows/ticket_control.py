"""Client-side calls on a ticket, shared by the slash commands, the buttons and the API.

Each drives the ticket's workflow (`ticket:{guild}:{n}`); none changes the database behind its
back. Opening is the exception that proves it: the row is written first, only to number the
ticket and hold the per-member limit, and the workflow then owns it. A ticket whose workflow
has ended (closed longer than `KEEP_CLOSED`) is started again from its row to be reopened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import Priority, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from dcs.server_config import ServerConfig, TicketsConfig, parse_server_config
from domain.catalogue import text
from domain.priority import MEDIUM
from domain.tickets import (
    CLOSED,
    REOPEN,
    Clock,
    TicketAction,
    TicketCategory,
    TicketPolicy,
    TicketSpec,
    TicketView,
    open_problems,
)
from storage.servers import get_server_config
from storage.tickets import TooManyOpen, delete_ticket, get_ticket, insert_ticket
from workflows.running import gone_as
from workflows.ticket import (
    ACT_UPDATE,
    MESSAGES_SIGNAL,
    VIEW_QUERY,
    TicketInput,
    TicketMessages,
    TicketWorkflow,
    ticket_workflow_id,
)

__all__ = ["MESSAGES_SIGNAL", "ticket_workflow_id"]


class TicketRefused(ValueError):
    """A request the ticket rules refuse; `key` is a catalogue text, `problems` the details."""

    def __init__(self, key: str, problems: list[str] | None = None, **fields: Any) -> None:
        self.key = key
        self.fields = fields
        self.problems = problems or []
        super().__init__("; ".join(self.problems) or text(key, "en", **fields))

    def say(self, language: str) -> str:
        """The refusal in the server's language (details appended as they are)."""
        if self.problems:
            return "; ".join(self.problems)
        return text(self.key, language, **self.fields)


class TicketNotRunning(LookupError):
    """No workflow for that ticket: it never existed, or it ended long ago."""


def policy_of(config: ServerConfig) -> TicketPolicy:
    """A server's ticket settings as the plain values a ticket keeps for its life."""
    tickets: TicketsConfig = config.tickets
    return TicketPolicy(
        mode=tickets.mode,
        parent_channel_id=tickets.parent_channel_id,
        log_channel_id=tickets.log_channel_id,
        support_role_ids=tuple(tickets.support_role_ids),
        categories=tuple(
            TicketCategory(c.name, c.description, tuple(c.role_ids)) for c in tickets.categories
        ),
        max_open_per_member=tickets.max_open_per_member,
        staff_reminder_minutes=tickets.staff_reminder_minutes,
        auto_close_hours=tickets.auto_close_hours,
        warning_hours=tickets.warning_hours,
        ask_rating=tickets.ask_rating,
        language=config.language,
    )


async def server_config(sessions: async_sessionmaker[AsyncSession], guild_id: int) -> ServerConfig:
    """The guild's stored config (the defaults when it has none)."""
    async with sessions() as session:
        raw, _ = await get_server_config(session, guild_id)
    return parse_server_config(raw) if raw is not None else ServerConfig()


async def open_ticket(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    spec: TicketSpec,
    now: datetime | None = None,
) -> int:
    """Check the request and the member's limit, number the ticket, start its workflow.

    Raises TicketRefused (limit, disabled, bad subject or category); returns the number.
    """
    config = await server_config(sessions, spec.guild_id)
    if not config.tickets.enabled:
        raise TicketRefused("ticket.refused.disabled")
    policy = policy_of(config)
    found = open_problems(spec, policy)
    if found:
        raise TicketRefused("ticket.refused.unknown", found)
    at = now or datetime.now(UTC)
    try:
        async with sessions() as session, session.begin():
            number = await insert_ticket(session, spec, policy.max_open_per_member, at)
    except TooManyOpen as exc:
        raise TicketRefused("ticket.refused.limit", count=exc.open_count, limit=exc.limit) from exc
    try:
        await client.start_workflow(
            TicketWorkflow.run,
            TicketInput(spec=spec, number=number, policy=policy),
            id=ticket_workflow_id(spec.guild_id, number),
            task_queue=task_queue,
            priority=Priority(priority_key=MEDIUM),
        )
    except BaseException:
        async with sessions() as session, session.begin():
            await delete_ticket(session, spec.guild_id, number)  # never a row no workflow owns
        raise
    return number


def _handle(client: Client, guild_id: int, number: int) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(ticket_workflow_id(guild_id, number))


def _not_running(number: int) -> TicketNotRunning:
    return TicketNotRunning(f"ticket {number} is not running")


async def ticket_view(client: Client, guild_id: int, number: int) -> TicketView:
    """The running ticket, live from its workflow."""
    with gone_as(_not_running(number)):
        view: TicketView = await _handle(client, guild_id, number).query(
            VIEW_QUERY, result_type=TicketView
        )
    return view


async def act(
    client: Client,
    guild_id: int,
    number: int,
    action: TicketAction,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    task_queue: str | None = None,
) -> TicketView:
    """Claim, assign, close, reopen or rate; answered with the ticket after it.

    A reopen of a ticket whose workflow has ended starts it again from its row (with
    `sessions` and `task_queue`), closed, and reopens it.
    """
    try:
        return await _update(client, guild_id, number, action)
    except TicketNotRunning:
        if action.kind != REOPEN or sessions is None or task_queue is None:
            raise
    await _restart_closed(client, sessions, task_queue, guild_id, number)
    return await _update(client, guild_id, number, action)


async def _update(client: Client, guild_id: int, number: int, action: TicketAction) -> TicketView:
    with gone_as(_not_running(number)):
        try:
            view: TicketView = await _handle(client, guild_id, number).execute_update(
                ACT_UPDATE, action, result_type=TicketView
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == "TicketRejected":
                raise TicketRefused(cause.message) from exc
            raise
    return view


async def _restart_closed(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    guild_id: int,
    number: int,
) -> None:
    async with sessions() as session:
        row = await get_ticket(session, guild_id, number)
    if row is None or row.status != CLOSED:
        raise TicketNotRunning(f"ticket {number} does not exist")
    now = datetime.now(UTC)
    policy = policy_of(await server_config(sessions, guild_id))
    spec = TicketSpec(guild_id, row.user_id, row.subject, row.category, row.source)
    await client.start_workflow(
        TicketWorkflow.run,
        TicketInput(
            spec=spec,
            number=number,
            policy=policy,
            opened_at=row.created_at,
            status=CLOSED,
            channel_id=row.thread_id,
            claimed_by=row.claimed_by,
            assigned_to=row.assigned_to,
            close_reason=row.close_reason,
            closed_by=row.closed_by,
            closed_at=now,
            reopen_count=row.reopen_count,
            rating=row.rating,
            clock=Clock(now, None),
            closes=row.reopen_count + 1,
        ),
        id=ticket_workflow_id(guild_id, number),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        priority=Priority(priority_key=MEDIUM),
    )


async def signal_messages(client: Client, guild_id: int, number: int, user_ids: list[int]) -> None:
    """Hand a batch of message authors to the ticket (they reset its inactivity timer)."""
    with gone_as(_not_running(number)):
        await _handle(client, guild_id, number).signal(
            MESSAGES_SIGNAL, TicketMessages(tuple(user_ids))
        )
