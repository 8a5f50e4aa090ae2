"""Event endpoints: list, create, edit, cancel, RSVPs, and calendars (one event or a server feed).

Changes go through the event's workflow (`workflows.event_control`), which owns its state; lists,
RSVP pages and calendars read the rows the workflow saved. A time without a UTC offset is read in
the given zone or the server's `events.timezone`, and refused when neither is known: a silent
UTC guess would put the event hours off.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Caller, authenticate, hash_token
from api.deps import CallerDep, SessionDep, TemporalDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.ical import calendar_ics, event_ics
from dcs.server_config import EventsConfig, default_server_config, parse_server_config
from domain.events import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    SCHEDULED,
    CancelRequest,
    EditRequest,
    EventSpec,
    EventView,
    ReminderSpec,
    RsvpAction,
    RsvpCounts,
    RsvpOutcome,
    zone,
)
from storage import events as store
from storage.models import Event, EventRSVP, Server
from storage.servers import get_server_config
from workflows.event_control import (
    EventNotRunning,
    EventRejected,
    cancel_event,
    create_event,
    edit_event,
    event_view,
    rsvp,
)

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["events"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 409, 503),
)

Status = Literal["scheduled", "active", "completed", "cancelled"]
RsvpStatus = Literal["going", "waitlist", "maybe", "declined"]
Snowflake = Annotated[int, Field(gt=0, lt=2**64)]
FEED_DAYS_BACK = 90
FEED_LIMIT = 500


# --- models -----------------------------------------------------------------------------------


class ReminderIO(BaseModel):
    """A reminder: how many minutes before the start, and its own message."""

    model_config = ConfigDict(extra="forbid")

    minutes_before: Annotated[int, Field(ge=0, le=43_200)]
    message: Annotated[str, Field(max_length=500)] = ""


class CountsOut(BaseModel):
    """How many have each RSVP status."""

    going: int
    maybe: int
    declined: int
    waitlist: int


class EventOut(BaseModel):
    """An event; snowflakes go out as strings, times as UTC with their zone alongside."""

    id: int
    title: str
    description: str
    location: str
    timezone: str
    start: datetime
    end: datetime | None
    capacity: int | None
    channel_id: str | None
    ping_role_id: str | None
    message_id: str | None
    discord_event_id: str | None
    status: Status
    occurrence: int
    recurrence: str | None
    reminders: list[ReminderIO]
    signup_deadline: datetime | None
    allowed_role_ids: list[str]
    xp_reward: int
    discord_sync: bool
    counts: CountsOut
    cancel_reason: str | None
    live: bool = Field(description="True when read from the running workflow")

    @classmethod
    def of(cls, event_id: int, spec: EventSpec, state: dict[str, Any]) -> EventOut:
        """From a spec and the state around it (status, counts, ids)."""
        return cls(
            id=event_id,
            title=spec.title,
            description=spec.description,
            location=spec.location,
            timezone=spec.timezone,
            start=spec.start.astimezone(UTC),
            end=spec.end.astimezone(UTC) if spec.end else None,
            capacity=spec.capacity,
            channel_id=_sf(spec.channel_id),
            ping_role_id=_sf(spec.ping_role_id),
            recurrence=spec.recurrence,
            reminders=[
                ReminderIO(minutes_before=r.minutes_before, message=r.message)
                for r in spec.reminders
            ],
            signup_deadline=spec.signup_deadline.astimezone(UTC) if spec.signup_deadline else None,
            allowed_role_ids=[str(r) for r in spec.allowed_role_ids],
            xp_reward=spec.xp_reward,
            discord_sync=spec.discord_sync,
            **state,
        )

    @classmethod
    def of_row(cls, row: Event) -> EventOut:
        """From the row the workflow last saved."""
        counts = RsvpCounts(
            row.going_count, row.maybe_count, row.declined_count, row.waitlist_count
        )
        return cls.of(
            row.id,
            store.spec_from_json(row.spec),
            _state(
                row.status,
                row.occurrence,
                counts,
                row.message_id,
                row.discord_event_id,
                row.cancel_reason,
                live=False,
            ),
        )

    @classmethod
    def of_view(cls, view: EventView, cancel_reason: str | None) -> EventOut:
        """From the running workflow's view."""
        return cls.of(
            view.event_id,
            view.spec,
            _state(
                view.status,
                view.occurrence,
                view.counts,
                view.message_id,
                view.discord_event_id,
                cancel_reason,
                live=True,
            ),
        )


def _sf(value: int | None) -> str | None:
    return None if value is None else str(value)


def _state(
    status: str,
    occurrence: int,
    counts: RsvpCounts,
    message_id: int | None,
    discord_event_id: int | None,
    cancel_reason: str | None,
    *,
    live: bool,
) -> dict[str, Any]:
    return {
        "status": status,
        "occurrence": occurrence,
        "counts": CountsOut(
            going=counts.going,
            maybe=counts.maybe,
            declined=counts.declined,
            waitlist=counts.waitlist,
        ),
        "message_id": _sf(message_id),
        "discord_event_id": _sf(discord_event_id),
        "cancel_reason": cancel_reason,
        "live": live,
    }


class EventPage(BaseModel):
    """Events by start time; pass `next_cursor` as `cursor` for the next page."""

    items: list[EventOut]
    next_cursor: str | None


class _EventFields(BaseModel):
    """Fields an organiser sets; times are ISO 8601 (an offset, or read in `timezone`)."""

    model_config = ConfigDict(extra="forbid")

    end: str | None = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    description: Annotated[str, Field(max_length=2000)] = ""
    location: Annotated[str, Field(max_length=200)] = ""
    capacity: Annotated[int | None, Field(ge=1, le=100_000)] = None
    channel_id: Snowflake | None = None
    ping_role_id: Snowflake | None = None
    reminders: Annotated[list[ReminderIO] | None, Field(max_length=10)] = None
    signup_deadline: str | None = None
    allowed_role_ids: Annotated[list[Snowflake] | None, Field(max_length=50)] = None
    recurrence: Annotated[str | None, Field(max_length=500)] = None
    xp_reward: Annotated[int | None, Field(ge=0, le=10_000)] = None
    discord_sync: bool | None = None


class EventIn(_EventFields):
    """A new event; unset channel, reminders, XP and Discord mirroring come from the config."""

    title: Annotated[str, Field(min_length=1, max_length=100)]
    start: str


class EventPatch(_EventFields):
    """Only the fields given change; null clears an optional one."""

    title: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    start: str | None = None
    description: Annotated[str | None, Field(max_length=2000)] = None  # type: ignore[assignment]
    location: Annotated[str | None, Field(max_length=200)] = None  # type: ignore[assignment]


class CancelIn(BaseModel):
    """Why the event is cancelled (told to everyone going)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=500)] = ""


class RsvpOut(BaseModel):
    """One member's saved RSVP."""

    user_id: str
    status: RsvpStatus
    choice: str
    seq: int
    source: str
    attended: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: EventRSVP) -> RsvpOut:
        """Snowflakes go out as strings."""
        return cls(
            user_id=str(row.user_id),
            status=row.status,  # type: ignore[arg-type]
            choice=row.choice,
            seq=row.seq,
            source=row.source,
            attended=row.attended,
            updated_at=row.updated_at,
        )


class RsvpPage(BaseModel):
    """RSVPs in the order they were made; pass `next_cursor` as `cursor` for the next page."""

    occurrence: int
    items: list[RsvpOut]
    next_cursor: str | None


class RsvpIn(BaseModel):
    """Set a member's RSVP; null withdraws it."""

    model_config = ConfigDict(extra="forbid")

    choice: Literal["going", "maybe", "declined"] | None


class RsvpResult(BaseModel):
    """What the RSVP did: the member's status, and who moved up from the waitlist."""

    user_id: str
    status: RsvpStatus | None
    changed: bool
    promoted: list[str]
    refused: str
    position: int = Field(description="Place on the waitlist (1 = next), 0 when not waiting")

    @classmethod
    def of(cls, outcome: RsvpOutcome) -> RsvpResult:
        """From the workflow's answer."""
        return cls(
            user_id=str(outcome.user_id),
            status=outcome.status,  # type: ignore[arg-type]
            changed=outcome.changed,
            promoted=[str(u) for u in outcome.promoted],
            refused=outcome.refused,
            position=outcome.position,
        )


class FeedKeyOut(BaseModel):
    """The calendar subscription address; shown once (only its key's hash is kept)."""

    url: str


# --- helpers ----------------------------------------------------------------------------------

_NO_ZONE = (
    "{field} has no UTC offset and no time zone is known "
    "(give timezone or set the server's events.timezone)"
)


def _zone_name(name: str | None) -> str | None:
    """The zone if it is a real IANA one, else 422."""
    if name is None:
        return None
    try:
        zone(name)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"timezone: {exc}") from exc
    return name


def _instant(value: str, field: str, zone_name: str | None) -> datetime:
    """An ISO 8601 time as UTC; without an offset it is wall time in `zone_name`, never UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(
            422, "invalid_request", f"{field}: {value!r} is not an ISO 8601 date and time"
        ) from exc
    if parsed.tzinfo is None:
        if zone_name is None:
            raise ApiError(422, "no_timezone", _NO_ZONE.format(field=field))
        parsed = parsed.replace(tzinfo=zone(zone_name))
    return parsed.astimezone(UTC)


def _maybe_instant(value: str | None, field: str, zone_name: str | None) -> datetime | None:
    return None if value is None else _instant(value, field, zone_name)


async def _events_config(session: AsyncSession, guild_id: int) -> EventsConfig:
    raw, _ = await get_server_config(session, guild_id)
    return (parse_server_config(raw) if raw is not None else default_server_config()).events


def _spec_of(body: EventIn, config: EventsConfig) -> EventSpec:
    """A new event's spec: the body, with the server's defaults for what it leaves out."""
    known = _zone_name(body.timezone) or config.timezone
    reminders = (
        tuple(ReminderSpec(r.minutes_before, r.message) for r in body.reminders)
        if body.reminders is not None
        else tuple(ReminderSpec(m) for m in config.reminders_minutes)
    )
    return EventSpec(
        title=body.title,
        start=_instant(body.start, "start", known),
        timezone=known or "UTC",  # only reached when every time had an offset
        end=_maybe_instant(body.end, "end", known),
        description=body.description,
        location=body.location,
        capacity=body.capacity,
        channel_id=body.channel_id or config.channel_id,
        ping_role_id=body.ping_role_id or config.ping_role_id,
        reminders=reminders,
        signup_deadline=_maybe_instant(body.signup_deadline, "signup_deadline", known),
        allowed_role_ids=tuple(body.allowed_role_ids or ()),
        recurrence=body.recurrence or None,
        xp_reward=config.xp_reward if body.xp_reward is None else body.xp_reward,
        discord_sync=config.discord_sync if body.discord_sync is None else body.discord_sync,
    )


_PLAIN = ("capacity", "channel_id", "ping_role_id", "recurrence")


def _merged(spec: EventSpec, patch: EventPatch) -> EventSpec:
    """The current spec with the patch's given fields merged in."""
    given = patch.model_fields_set
    if "timezone" in given and patch.timezone is None:
        raise ApiError(422, "invalid_request", "timezone: an event's zone cannot be cleared")
    if "start" in given and patch.start is None:
        raise ApiError(422, "invalid_request", "start: an event's start cannot be cleared")
    tz = _zone_name(patch.timezone) or spec.timezone
    changes: dict[str, Any] = {name: getattr(patch, name) for name in _PLAIN if name in given}
    changes |= {
        name: getattr(patch, name) or ""
        for name in ("title", "description", "location")
        if name in given
    }
    for name in ("start", "end", "signup_deadline"):
        if name in given:
            changes[name] = _maybe_instant(getattr(patch, name), name, tz)
    if "reminders" in given:
        changes["reminders"] = tuple(
            ReminderSpec(r.minutes_before, r.message) for r in patch.reminders or ()
        )
    if "allowed_role_ids" in given:
        changes["allowed_role_ids"] = tuple(patch.allowed_role_ids or ())
    for name in ("xp_reward", "discord_sync"):
        if getattr(patch, name) is not None:
            changes[name] = getattr(patch, name)
    return replace(spec, timezone=tz, **changes)


@contextlib.contextmanager
def _calling() -> Iterator[None]:
    """Turn the workflow client's failures into the API's answers."""
    try:
        yield
    except EventRejected as exc:
        raise ApiError(422, "invalid_event", str(exc), exc.problems) from exc
    except EventNotRunning as exc:
        raise ApiError(409, "event_over", "The event is over or cancelled.") from exc
    except ApiError:
        raise
    except Exception as exc:
        log.warning("event workflow unreachable: %s", exc)
        raise ApiError(503, "unavailable", "The events service could not be reached.") from exc


async def _row(session: AsyncSession, guild_id: int, event_id: int) -> Event:
    row = await store.get_event(session, guild_id, event_id)
    if row is None:
        raise ApiError(404, "not_found", f"no event {event_id} in this server")
    return row


async def _live(request: Request, guild_id: int, row: Event) -> EventOut:
    """The running workflow's view when there is one and Temporal answers, else the row."""
    client = request.app.state.temporal
    if client is None or row.status not in (SCHEDULED, ACTIVE):
        return EventOut.of_row(row)
    try:
        view = await event_view(client, guild_id, row.id)
    except Exception as exc:  # over, or Temporal down: the saved row is the answer
        log.debug("event %s read from its row: %s", row.id, exc)
        return EventOut.of_row(row)
    return EventOut.of_view(view, row.cancel_reason)


# --- endpoints --------------------------------------------------------------------------------


def _moderator(server_id: int, caller: CallerDep) -> Caller:
    """Check the role before Temporal is reached: a viewer gets 403, not a 503."""
    caller.require(server_id, "moderator")
    return caller


ModeratorDep = Annotated[Caller, Depends(_moderator)]


@router.get("/events", response_model=EventPage)
async def list_server_events(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    status: Status | None = None,
    since: Annotated[datetime | None, Query(alias="from", description="Starts at or after")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Starts before")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> EventPage:
    """The server's events by start time, as last saved (viewer)."""
    caller.require(server_id, "viewer")
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, "invalid_request", f"{name}: give a UTC offset (e.g. Z)")
    try:
        page = await store.list_events(
            session, server_id, status=status, since=since, until=until, cursor=cursor, limit=limit
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return EventPage(items=[EventOut.of_row(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/events", status_code=201, response_model=EventOut)
async def create_server_event(
    server_id: int,
    body: EventIn,
    request: Request,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> EventOut:
    """Schedule an event; it is announced in its channel (moderator)."""
    spec = _spec_of(body, await _events_config(session, server_id))
    await session.commit()  # end the read: on SQLite it would hold the lock the insert needs
    with _calling():
        event_id = await create_event(
            temporal.client,
            request.app.state.sessions,
            temporal.task_queue,
            server_id,
            spec,
            0,
            datetime.now(UTC),
        )
    return EventOut.of_row(await _row(session, server_id, event_id))


@router.get(
    "/events.ics", response_class=Response, responses={200: {"content": {"text/calendar": {}}}}
)
async def server_calendar(
    server_id: int,
    request: Request,
    session: SessionDep,
    key: Annotated[str | None, Query(max_length=200, description="The calendar key")] = None,
) -> Response:
    """The server's events as a calendar feed: a viewer token, or `?key=` for calendar apps."""
    if key is None:
        (await authenticate(request)).require(server_id, "viewer")
    else:
        stored = await store.get_feed_key_hash(session, server_id)
        if stored is None or not secrets.compare_digest(stored, hash_token(key)):
            raise ApiError(401, "unauthorized", "The calendar key is unknown or was replaced.")
    since = datetime.now(UTC) - timedelta(days=FEED_DAYS_BACK)
    page = await store.list_events(session, server_id, since=since, limit=FEED_LIMIT)
    name = await session.scalar(select(Server.name).where(Server.id == server_id))
    entries = [(server_id, r.id, store.spec_from_json(r.spec), r.status) for r in page.items]
    return Response(calendar_ics(name or "", entries), media_type="text/calendar")


@router.post("/events/feed-key", status_code=201, response_model=FeedKeyOut)
async def new_feed_key(
    server_id: int, request: Request, session: SessionDep, caller: CallerDep
) -> FeedKeyOut:
    """A new calendar key; the previous one stops working (admin)."""
    caller.require(server_id, "admin")
    key = secrets.token_urlsafe(32)
    async with session.begin():
        await store.set_feed_key(session, server_id, hash_token(key))
    url = request.url_for("server_calendar", server_id=server_id).include_query_params(key=key)
    return FeedKeyOut(url=str(url))


@router.get(
    "/events/{event_id}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def event_calendar(
    server_id: int, event_id: int, session: SessionDep, caller: CallerDep
) -> Response:
    """One event as a calendar file to import (viewer)."""
    caller.require(server_id, "viewer")
    row = await _row(session, server_id, event_id)
    data = event_ics(server_id, row.id, store.spec_from_json(row.spec), row.status)
    headers = {"Content-Disposition": f'attachment; filename="event-{row.id}.ics"'}
    return Response(data, media_type="text/calendar", headers=headers)


@router.get("/events/{event_id}", response_model=EventOut)
async def get_server_event(
    server_id: int, event_id: int, request: Request, session: SessionDep, caller: CallerDep
) -> EventOut:
    """One event, live from its workflow while it runs (viewer)."""
    caller.require(server_id, "viewer")
    return await _live(request, server_id, await _row(session, server_id, event_id))


@router.patch("/events/{event_id}", response_model=EventOut)
async def edit_server_event(
    server_id: int,
    event_id: int,
    body: EventPatch,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> EventOut:
    """Change some fields; reminders move with the start (moderator)."""
    row = await _row(session, server_id, event_id)
    await session.commit()  # the workflow's activities write this database
    with _calling():
        current = await event_view(temporal.client, server_id, event_id)
        view = await edit_event(
            temporal.client,
            server_id,
            event_id,
            EditRequest(_merged(current.spec, body), by=0, source="api"),
        )
    return EventOut.of_view(view, row.cancel_reason)


@router.post("/events/{event_id}/cancel", response_model=EventOut)
async def cancel_server_event(
    server_id: int,
    event_id: int,
    body: CancelIn,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> EventOut:
    """Cancel; everyone going or waiting is told (moderator). 409 when already over."""
    row = await _row(session, server_id, event_id)
    await session.commit()  # the workflow's activities write this database
    if row.status in (COMPLETED, CANCELLED):
        raise ApiError(409, "event_over", "The event is over or cancelled.")
    with _calling():
        view = await cancel_event(
            temporal.client, server_id, event_id, CancelRequest(body.reason, 0)
        )
    return EventOut.of_view(view, body.reason or None)


@router.get("/events/{event_id}/rsvps", response_model=RsvpPage)
async def list_event_rsvps(
    server_id: int,
    event_id: int,
    session: SessionDep,
    caller: CallerDep,
    status: RsvpStatus | None = None,
    occurrence: Annotated[int | None, Query(ge=0, description="Default: the current")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> RsvpPage:
    """RSVPs of one occurrence in the order they were made (viewer)."""
    caller.require(server_id, "viewer")
    row = await _row(session, server_id, event_id)
    which = row.occurrence if occurrence is None else occurrence
    try:
        page = await store.list_rsvps(
            session, server_id, event_id, which, status=status, cursor=cursor, limit=limit
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    items = [RsvpOut.of(r) for r in page.items]
    return RsvpPage(occurrence=which, items=items, next_cursor=page.next_cursor)


@router.put("/events/{event_id}/rsvps/{user_id}", response_model=RsvpResult)
async def set_event_rsvp(
    server_id: int,
    event_id: int,
    user_id: Annotated[int, Path(gt=0, lt=2**64)],
    body: RsvpIn,
    session: SessionDep,
    caller: ModeratorDep,
    temporal: TemporalDep,
) -> RsvpResult:
    """Set or withdraw a member's RSVP, as the member's button would (moderator)."""
    await _row(session, server_id, event_id)
    await session.commit()  # the workflow's activities write this database
    action = RsvpAction(user_id, body.choice, source="api", roles_known=False)
    with _calling():
        outcome = await rsvp(temporal.client, server_id, event_id, action)
    return RsvpResult.of(outcome)
