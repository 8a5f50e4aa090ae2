"""Ticket endpoints: list, open, read, act on (claim/assign/close/reopen/rate), transcript.

Every change goes through the ticket's workflow (`workflows.ticket_control`), exactly as the
buttons and commands do; lists and transcripts read the rows the workflow saved. One ticket is
read live from its workflow while it runs. The API's token stands for staff: a moderator token
may claim, assign, close and reopen; a rating is recorded as the member's own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.deps import CallerDep, SessionDep, TemporalDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from domain.catalogue import text
from domain.tickets import (
    ASSIGN,
    CLAIM,
    DEFAULT_SUBJECT,
    OPEN,
    RATE,
    TicketAction,
    TicketSpec,
    TicketView,
)
from storage import tickets as store
from storage.models import SupportTicket
from workflows.ticket_control import TicketNotRunning, TicketRefused, act, open_ticket, ticket_view

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["tickets"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 409, 503),
)

Status = Literal["open", "closed"]
Snowflake = Annotated[int, Field(gt=0, lt=2**64)]


class TicketOut(BaseModel):
    """A ticket; snowflakes go out as strings."""

    id: int = Field(description="The ticket's number in its server")
    member_id: str
    subject: str
    category: str | None
    status: Status
    source: str
    channel_id: str | None = Field(description="The ticket's private thread or channel")
    claimed_by: str | None
    assigned_to: str | None
    close_reason: str | None
    closed_by: str | None
    closed_at: datetime | None
    reopen_count: int
    rating: int | None
    has_transcript: bool
    created_at: datetime | None
    live: bool = Field(description="True when read from the running workflow")

    @classmethod
    def of_row(cls, row: SupportTicket) -> TicketOut:
        """From the row the workflow last saved."""
        return cls(
            id=row.number,
            member_id=str(row.user_id),
            subject=row.subject,
            category=row.category,
            status=row.status,  # type: ignore[arg-type]
            source=row.source,
            channel_id=_sf(row.thread_id),
            claimed_by=_sf(row.claimed_by),
            assigned_to=_sf(row.assigned_to),
            close_reason=row.close_reason,
            closed_by=_sf(row.closed_by),
            closed_at=row.closed_at,
            reopen_count=row.reopen_count,
            rating=row.rating,
            has_transcript=row.transcript is not None,
            created_at=row.created_at,
            live=False,
        )

    @classmethod
    def of_view(cls, view: TicketView, row: SupportTicket | None) -> TicketOut:
        """From the running workflow's view (the transcript flag from the row)."""
        return cls(
            id=view.number,
            member_id=str(view.user_id),
            subject=view.subject,
            category=view.category,
            status=view.status,  # type: ignore[arg-type]
            source=view.source,
            channel_id=_sf(view.channel_id),
            claimed_by=_sf(view.claimed_by),
            assigned_to=_sf(view.assigned_to),
            close_reason=view.close_reason,
            closed_by=_sf(view.closed_by),
            closed_at=view.closed_at,
            reopen_count=view.reopen_count,
            rating=view.rating,
            has_transcript=row is not None and row.transcript is not None,
            created_at=view.opened_at,
            live=True,
        )


def _sf(value: int | None) -> str | None:
    return None if value is None else str(value)


class TicketPageOut(BaseModel):
    """Tickets newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[TicketOut]
    next_cursor: str | None


class TicketIn(BaseModel):
    """Open a ticket for a member (in the configured parent channel)."""

    model_config = ConfigDict(extra="forbid")

    member_id: Snowflake
    subject: Annotated[str, Field(min_length=1, max_length=200)] = DEFAULT_SUBJECT
    category: Annotated[str | None, Field(max_length=50)] = None


class TicketActionIn(BaseModel):
    """What to do with the ticket; `actor_id` is the staff member it is done as."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["claim", "assign", "close", "reopen", "rate"]
    actor_id: Snowflake | None = Field(
        default=None, description="Who claims, closes or reopens (required for claim)"
    )
    member_id: Snowflake | None = Field(default=None, description="assign: whom to")
    reason: Annotated[str, Field(max_length=1000)] = ""
    rating: Annotated[int | None, Field(ge=1, le=5)] = None


@contextlib.contextmanager
def _calling() -> Iterator[None]:
    """Turn the workflow client's failures into the API's answers."""
    try:
        yield
    except TicketRefused as exc:
        status = 409 if exc.key == "ticket.refused.limit" else 422
        raise ApiError(status, "ticket_refused", exc.say("en"), exc.problems or None) from exc
    except TicketNotRunning as exc:
        raise ApiError(409, "ticket_over", str(exc)) from exc
    except ApiError:
        raise
    except Exception as exc:
        log.warning("ticket workflow unreachable: %s", exc)
        raise ApiError(503, "unavailable", "The tickets service could not be reached.") from exc


def _moderator(server_id: int, caller: CallerDep) -> Caller:
    """Check the role before Temporal is reached: a viewer gets 403, not a 503."""
    caller.require(server_id, "moderator")
    return caller


ModeratorDep = Annotated[Caller, Depends(_moderator)]


async def _row(session: SessionDep, guild_id: int, number: int) -> SupportTicket:
    row = await store.get_ticket(session, guild_id, number)
    if row is None:
        raise ApiError(404, "not_found", f"no ticket {number} in this server")
    return row


@router.get("/tickets", response_model=TicketPageOut)
async def list_server_tickets(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    status: Status | None = None,
    category: Annotated[str | None, Query(max_length=50)] = None,
    member: Annotated[int | None, Query(gt=0, lt=2**64, description="The member's id")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TicketPageOut:
    """The server's tickets, newest first, as last saved (viewer)."""
    caller.require(server_id, "viewer")
    try:
        page = await store.list_tickets(
            session,
            server_id,
            status=status,
            category=category,
            user_id=member,
            cursor=cursor,
            limit=limit,
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return TicketPageOut(
        items=[TicketOut.of_row(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post("/tickets", status_code=201, response_model=TicketOut)
async def open_server_ticket(
    server_id: int,
    body: TicketIn,
    request: Request,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> TicketOut:
    """Open a ticket for a member; the per-member limit applies (409) (moderator)."""
    spec = TicketSpec(server_id, body.member_id, body.subject, body.category, "api")
    with _calling():
        number = await open_ticket(
            temporal.client, request.app.state.sessions, temporal.task_queue, spec
        )
    return TicketOut.of_row(await _row(session, server_id, number))


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_server_ticket(
    server_id: int, ticket_id: int, request: Request, session: SessionDep, caller: CallerDep
) -> TicketOut:
    """One ticket, live from its workflow while it runs (viewer)."""
    caller.require(server_id, "viewer")
    row = await _row(session, server_id, ticket_id)
    client = request.app.state.temporal
    if client is None:
        return TicketOut.of_row(row)
    try:
        view = await ticket_view(client, server_id, ticket_id)
    except Exception as exc:  # ended, or Temporal down: the saved row is the answer
        log.debug("ticket %s read from its row: %s", ticket_id, exc)
        return TicketOut.of_row(row)
    return TicketOut.of_view(view, row)


@router.put("/tickets/{ticket_id}", response_model=TicketOut)
async def act_on_server_ticket(
    server_id: int,
    ticket_id: int,
    body: TicketActionIn,
    request: Request,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> TicketOut:
    """Claim, assign, close (with a reason), reopen, or record the member's rating (moderator)."""
    row = await _row(session, server_id, ticket_id)
    if body.action == CLAIM and body.actor_id is None:
        raise ApiError(422, "invalid_request", "actor_id: required to claim")
    if body.action == ASSIGN and body.member_id is None:
        raise ApiError(422, "invalid_request", "member_id: required to assign")
    if body.action == RATE and body.rating is None:
        raise ApiError(422, "invalid_request", text("ticket.refused.rating"))
    actor = row.user_id if body.action == RATE else (body.actor_id or 0)
    action = TicketAction(
        kind=body.action,
        actor_id=actor,
        actor_is_staff=body.action != RATE,
        target_id=body.member_id,
        reason=body.reason,
        rating=body.rating,
        source="api",
    )
    await session.commit()  # end the read: on SQLite it would hold the lock a save needs
    with _calling():
        view = await act(
            temporal.client,
            server_id,
            ticket_id,
            action,
            sessions=request.app.state.sessions,
            task_queue=temporal.task_queue,
        )
    return TicketOut.of_view(view, await store.get_ticket(session, server_id, ticket_id))


@router.get(
    "/tickets/{ticket_id}/transcript",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}}},
)
async def ticket_transcript(
    server_id: int, ticket_id: int, session: SessionDep, caller: CallerDep
) -> Response:
    """The Markdown transcript of the ticket's last close (viewer); 404 before any close."""
    caller.require(server_id, "viewer")
    row = await _row(session, server_id, ticket_id)
    if row.transcript is None:
        detail = "still open" if row.status == OPEN else "being written"
        raise ApiError(404, "not_found", f"ticket {ticket_id} has no transcript yet ({detail})")
    headers = {"Content-Disposition": f'inline; filename="ticket-{ticket_id}.md"'}
    return Response(row.transcript, media_type="text/markdown", headers=headers)
