"""Scheduled announcement endpoints: list, create, read, replace (and pause), delete.

Reads come from the database (a server's announcements are rows); writes go through
`workflows.announcement_control`, which keeps each row and its Temporal Schedule together. A
request that cannot be scheduled (bad cron, unknown zone, a one-off in the past...) is answered
422 with every problem in `details`, and nothing is created. Writes need the admin role: an
announcement speaks for the whole server, like Discord's Manage Server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Caller
from api.deps import CallerDep, SessionDep, TemporalDep, _temporal
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.server_config import stored_or_default
from domain.announcements import (
    COLOUR_DEFAULT,
    AnnouncementSpec,
    problems,
    schedule_id,
    zone_problem,
)
from storage import announcements as store
from storage.models import Announcement
from storage.servers import get_server_config
from workflows.announcement_control import (
    AnnouncementNotFound,
    AnnouncementRejected,
    create_announcement,
    delete_announcement,
    set_paused,
    timing,
    update_announcement,
)

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["announcements"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 503),
)

Snowflake = Annotated[int, Field(gt=0, lt=2**64)]


class AnnouncementIn(BaseModel):
    """What to post and when: exactly one of `cron`, `interval_seconds` and `at`.

    `at` without a UTC offset is wall time in `timezone`; `timezone` (an IANA name) defaults to
    the server's `events.timezone`, else UTC, and is the zone a cron expression's hours mean.
    """

    model_config = ConfigDict(extra="forbid")

    channel_id: Snowflake
    title: Annotated[str, Field(max_length=256)]
    body: Annotated[str, Field(max_length=4000)] = ""
    colour: int | str = COLOUR_DEFAULT
    role_id: Snowflake | None = None
    cron: Annotated[str | None, Field(max_length=120)] = None
    interval_seconds: int | None = None
    at: str | None = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    paused: bool | None = Field(
        default=None, description="PUT only: pause or resume (omitted: unchanged)"
    )

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: int | str) -> int | str:
        """`#RRGGBB` (or `RRGGBB`) as well as a number."""
        if isinstance(value, str):
            try:
                return int(value.removeprefix("#"), 16)
            except ValueError:
                raise ValueError("colour: use #RRGGBB or a number") from None
        return value


class AnnouncementOut(BaseModel):
    """An announcement; snowflakes as strings, times in UTC."""

    number: int
    schedule_id: str
    kind: Literal["cron", "interval", "once"]
    channel_id: str
    title: str
    body: str
    colour: int
    role_id: str | None
    cron: str | None
    interval_seconds: int | None
    at: datetime | None
    timezone: str
    paused: bool
    created_by: str
    created_at: datetime
    last_posted_at: datetime | None
    post_count: int
    next_runs: list[datetime] = Field(
        default_factory=list, description="From Temporal (one announcement's read only)"
    )

    @classmethod
    def of(cls, row: Announcement, next_runs: list[datetime] | None = None) -> AnnouncementOut:
        """From the row (and Temporal's next run times when known)."""
        spec = store.spec_of(row)
        return cls(
            number=row.number,
            schedule_id=schedule_id(row.guild_id, row.number),
            kind=spec.kind,  # type: ignore[arg-type] # one of the three
            channel_id=str(row.channel_id),
            title=row.title,
            body=row.body,
            colour=row.colour,
            role_id=str(row.role_id) if row.role_id else None,
            cron=row.cron,
            interval_seconds=row.interval_seconds,
            at=row.at,
            timezone=row.timezone,
            paused=row.paused,
            created_by=row.created_by,
            created_at=row.created_at,
            last_posted_at=row.last_posted_at,
            post_count=row.post_count,
            next_runs=next_runs or [],
        )


class AnnouncementList(BaseModel):
    """A server's announcements, by number."""

    items: list[AnnouncementOut]


def _admin(server_id: int, caller: CallerDep) -> Caller:
    """Check the role before Temporal is reached: a viewer gets 403, not a 503."""
    caller.require(server_id, "admin")
    return caller


AdminDep = Annotated[Caller, Depends(_admin)]


async def _server_zone(session: AsyncSession, guild_id: int) -> str:
    raw, _ = await get_server_config(session, guild_id)
    return stored_or_default(raw).events.timezone or "UTC"


def _spec_of(body: AnnouncementIn, default_zone: str) -> AnnouncementSpec:
    """The body as a spec; a time that cannot be read is one more problem, listed with the rest."""
    zone = body.timezone or default_zone
    unreadable = None
    at = None
    if body.at is not None:
        try:
            at = datetime.fromisoformat(body.at)
        except ValueError:
            unreadable = f"at: {body.at!r} is not an ISO 8601 date and time"
        else:
            if at.tzinfo is None and zone_problem(zone) is None:
                at = at.replace(tzinfo=ZoneInfo(zone))
    spec = AnnouncementSpec(
        channel_id=body.channel_id,
        title=body.title,
        body=body.body,
        colour=int(body.colour),
        role_id=body.role_id,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        at=at,
        timezone=zone,
    )
    if unreadable is not None:
        rest = problems(replace(spec, at=datetime.max.replace(tzinfo=UTC)), datetime.now(UTC))
        raise AnnouncementRejected([unreadable, *rest])
    return spec


@contextlib.contextmanager
def _calling() -> Iterator[None]:
    """Turn the control module's failures into the API's answers."""
    try:
        yield
    except AnnouncementRejected as exc:
        raise ApiError(
            422, "invalid_announcement", "The announcement cannot be scheduled.", exc.problems
        ) from exc
    except AnnouncementNotFound as exc:
        raise ApiError(404, "not_found", f"No announcement #{exc}.") from exc
    except ApiError:
        raise
    except Exception as exc:
        log.warning("announcement schedule unreachable: %s", exc)
        raise ApiError(
            503, "unavailable", "The scheduler (Temporal) could not be reached."
        ) from exc


async def _row(session: AsyncSession, guild_id: int, number: int) -> Announcement:
    row = await store.get_announcement(session, guild_id, number)
    if row is None:
        raise ApiError(404, "not_found", f"No announcement #{number}.")
    return row


@router.get("/announcements", response_model=AnnouncementList)
async def list_server_announcements(
    server_id: int, session: SessionDep, caller: CallerDep
) -> AnnouncementList:
    """The server's scheduled announcements (viewer)."""
    caller.require(server_id, "viewer")
    rows = await store.list_announcements(session, server_id)
    return AnnouncementList(items=[AnnouncementOut.of(r) for r in rows])


@router.post("/announcements", status_code=201, response_model=AnnouncementOut)
async def create_server_announcement(
    server_id: int,
    body: AnnouncementIn,
    request: Request,
    session: SessionDep,
    caller: AdminDep,
    temporal: TemporalDep,
) -> AnnouncementOut:
    """Schedule an announcement: `announce:{server}:{n}` (admin)."""
    zone = await _server_zone(session, server_id)
    await session.commit()  # end the read: on SQLite it would hold the lock the insert needs
    with _calling():
        number = await create_announcement(
            temporal.client,
            request.app.state.sessions,
            temporal.task_queue,
            server_id,
            _spec_of(body, zone),
            f"api:{caller.name}",
            datetime.now(UTC),
        )
    return AnnouncementOut.of(await _row(session, server_id, number))


@router.get("/announcements/{number}", response_model=AnnouncementOut)
async def get_server_announcement(
    server_id: int, number: int, request: Request, session: SessionDep, caller: CallerDep
) -> AnnouncementOut:
    """One announcement, with its next run times when Temporal answers (viewer)."""
    caller.require(server_id, "viewer")
    row = await _row(session, server_id, number)
    next_runs: list[datetime] = []
    with contextlib.suppress(Exception):  # a read never needs Temporal; the times are extra
        seen = await timing((await _temporal(request)).client, server_id, number)
        if seen is not None and not seen.paused:
            next_runs = list(seen.next_runs)
    return AnnouncementOut.of(row, next_runs)


@router.put("/announcements/{number}", response_model=AnnouncementOut)
async def replace_server_announcement(
    server_id: int,
    number: int,
    body: AnnouncementIn,
    request: Request,
    session: SessionDep,
    caller: AdminDep,
    temporal: TemporalDep,
) -> AnnouncementOut:
    """Replace what and when; `paused` pauses or resumes it (admin)."""
    zone = await _server_zone(session, server_id)
    await session.commit()
    sessions = request.app.state.sessions
    with _calling():
        spec = _spec_of(body, zone)
        await update_announcement(
            temporal.client,
            sessions,
            temporal.task_queue,
            server_id,
            number,
            spec,
            datetime.now(UTC),
        )
        if body.paused is not None:
            await set_paused(
                temporal.client, sessions, server_id, number, body.paused, f"api:{caller.name}"
            )
    session.expire_all()
    return AnnouncementOut.of(await _row(session, server_id, number))


@router.delete("/announcements/{number}", status_code=204, response_class=Response)
async def delete_server_announcement(
    server_id: int,
    number: int,
    request: Request,
    caller: AdminDep,
    temporal: TemporalDep,
) -> Response:
    """Delete the announcement and its schedule (admin)."""
    with _calling():
        await delete_announcement(temporal.client, request.app.state.sessions, server_id, number)
    return Response(status_code=204)
