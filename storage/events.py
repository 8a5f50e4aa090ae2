"""Events as their workflows save them: the event row, RSVPs per occurrence, member time zones.

The workflow owns an event's live state; these rows are what it last saved, for the API's lists,
the gateway's lookups (which event is this message?) and calendars. Pages use opaque keyset
cursors, so a deep page costs the same as the first.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import DEFAULT_REMINDERS, SCHEDULED, EventSpec, ReminderSpec, RsvpCounts
from storage.models import Event, EventFeedKey, EventRSVP, MemberTimezone
from storage.servers import ensure_server_exists
from storage.types import utcnow
from storage.upsert import insert

T = TypeVar("T")
_CHUNK = 500
"""Ids per IN (...) list: well under SQLite's bound-parameter limit."""


# --- the spec as JSON -------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def spec_to_json(spec: EventSpec) -> dict[str, Any]:
    """The whole spec as JSON: datetimes as ISO strings with their offset."""
    return {
        "title": spec.title,
        "start": _when(spec.start),
        "timezone": spec.timezone,
        "end": _when(spec.end),
        "description": spec.description,
        "location": spec.location,
        "capacity": spec.capacity,
        "channel_id": spec.channel_id,
        "ping_role_id": spec.ping_role_id,
        "reminders": [
            {"minutes_before": r.minutes_before, "message": r.message} for r in spec.reminders
        ],
        "signup_deadline": _when(spec.signup_deadline),
        "allowed_role_ids": list(spec.allowed_role_ids),
        "recurrence": spec.recurrence,
        "xp_reward": spec.xp_reward,
        "discord_sync": spec.discord_sync,
    }


def spec_from_json(data: dict[str, Any]) -> EventSpec:
    """The spec `spec_to_json` wrote (missing keys take the spec's defaults)."""
    reminders = data.get("reminders")
    return EventSpec(
        title=data["title"],
        start=datetime.fromisoformat(data["start"]),
        timezone=data["timezone"],
        end=_parse(data.get("end")),
        description=data.get("description", ""),
        location=data.get("location", ""),
        capacity=data.get("capacity"),
        channel_id=data.get("channel_id"),
        ping_role_id=data.get("ping_role_id"),
        reminders=DEFAULT_REMINDERS
        if reminders is None
        else tuple(ReminderSpec(int(r["minutes_before"]), r.get("message", "")) for r in reminders),
        signup_deadline=_parse(data.get("signup_deadline")),
        allowed_role_ids=tuple(int(r) for r in data.get("allowed_role_ids", ())),
        recurrence=data.get("recurrence"),
        xp_reward=int(data.get("xp_reward", 50)),
        discord_sync=bool(data.get("discord_sync", False)),
    )


def _spec_columns(spec: EventSpec) -> dict[str, Any]:
    """The columns queries use, copied out of the spec."""
    return {
        "title": spec.title[:100],
        "description": spec.description,
        "location": spec.location[:200],
        "timezone": spec.timezone,
        "start_at": spec.start,
        "end_at": spec.end,
        "capacity": spec.capacity,
        "channel_id": spec.channel_id,
        "ping_role_id": spec.ping_role_id,
        "recurrence": spec.recurrence,
        "spec": spec_to_json(spec),
    }


# --- events -----------------------------------------------------------------------------------


async def insert_event(
    session: AsyncSession,
    guild_id: int,
    spec: EventSpec,
    created_by: int | None,
    discord_event_id: int | None = None,
) -> int:
    """A new scheduled event's row; its id numbers the event (and its workflow)."""
    await ensure_server_exists(session, guild_id)
    row = Event(
        guild_id=guild_id,
        status=SCHEDULED,
        created_by=created_by,
        discord_event_id=discord_event_id,
        **_spec_columns(spec),
    )
    session.add(row)
    await session.flush()
    return row.id


async def delete_event(session: AsyncSession, event_id: int) -> None:
    """Remove an event no workflow owns (its start failed); RSVPs go with it."""
    await session.execute(delete(Event).where(Event.id == event_id))


@dataclass(frozen=True)
class EventState:
    """What the workflow saves after each change."""

    spec: EventSpec
    status: str
    occurrence: int
    counts: RsvpCounts
    message_id: int | None
    discord_event_id: int | None
    cancel_reason: str | None = None


async def save_event_state(session: AsyncSession, event_id: int, state: EventState) -> None:
    """Overwrite the event's row with the workflow's state."""
    values = _spec_columns(state.spec) | {
        "status": state.status,
        "occurrence": state.occurrence,
        "going_count": state.counts.going,
        "maybe_count": state.counts.maybe,
        "declined_count": state.counts.declined,
        "waitlist_count": state.counts.waitlist,
        "message_id": state.message_id,
        "discord_event_id": state.discord_event_id,
        "cancel_reason": state.cancel_reason,
        "updated_at": utcnow(),
    }
    await session.execute(update(Event).where(Event.id == event_id).values(**values))


async def get_event(session: AsyncSession, guild_id: int, event_id: int) -> Event | None:
    """One event of this guild (another guild's id is not found)."""
    return await session.scalar(
        select(Event).where(Event.id == event_id, Event.guild_id == guild_id)
    )


async def find_event_by_message(session: AsyncSession, message_id: int) -> tuple[int, int] | None:
    """(guild_id, event_id) of the event announced in this message, for reaction RSVPs."""
    row = (
        await session.execute(
            select(Event.guild_id, Event.id).where(Event.message_id == message_id).limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


async def find_event_by_discord_id(
    session: AsyncSession, guild_id: int, discord_event_id: int
) -> int | None:
    """Our event mirrored as this Discord scheduled event, if any."""
    found = await session.scalar(
        select(Event.id)
        .where(Event.guild_id == guild_id, Event.discord_event_id == discord_event_id)
        .limit(1)
    )
    return None if found is None else int(found)


# --- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows in order; pass `next_cursor` back for the next page (None: this was the last)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


def _encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    """The key inside a cursor; ValueError for one this module did not make."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise ValueError("the cursor is not one this API gave out") from exc
    if not isinstance(key, list) or len(key) != size:
        raise ValueError("the cursor is not one this API gave out")
    return key


def _after_event(query: Select[Any], cursor: str) -> Select[Any]:
    when_raw, last_id = _decode(cursor, 2)
    try:
        when = datetime.fromisoformat(when_raw)
        last = int(last_id)
    except (TypeError, ValueError) as exc:
        raise ValueError("the cursor is not one this API gave out") from exc
    return query.where(or_(Event.start_at > when, and_(Event.start_at == when, Event.id > last)))


async def list_events(
    session: AsyncSession,
    guild_id: int,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Event]:
    """The guild's events by start time (then id); `since`/`until` bound the start."""
    query = select(Event).where(Event.guild_id == guild_id)
    if status is not None:
        query = query.where(Event.status == status)
    if since is not None:
        query = query.where(Event.start_at >= since)
    if until is not None:
        query = query.where(Event.start_at < until)
    if cursor:
        query = _after_event(query, cursor)
    rows = list(
        (await session.scalars(query.order_by(Event.start_at, Event.id).limit(limit + 1))).all()
    )
    page = rows[:limit]
    more = len(rows) > limit
    nxt = _encode([page[-1].start_at.isoformat(), page[-1].id]) if more else None
    return Page(page, nxt)


@dataclass(frozen=True)
class RsvpRow:
    """One member's saved RSVP: their status now, their choice, its order and where it came from."""

    user_id: int
    status: str
    choice: str
    seq: int
    source: str


async def list_rsvps(
    session: AsyncSession,
    guild_id: int,
    event_id: int,
    occurrence: int,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[EventRSVP]:
    """One occurrence's RSVPs in the order they were made (the waitlist's queue order)."""
    query = select(EventRSVP).where(
        EventRSVP.event_id == event_id,
        EventRSVP.occurrence == occurrence,
        EventRSVP.guild_id == guild_id,
    )
    if status is not None:
        query = query.where(EventRSVP.status == status)
    if cursor:
        seq, user = _decode(cursor, 2)
        if not isinstance(seq, int) or not isinstance(user, int):
            raise ValueError("the cursor is not one this API gave out")
        query = query.where(
            or_(EventRSVP.seq > seq, and_(EventRSVP.seq == seq, EventRSVP.user_id > user))
        )
    query = query.order_by(EventRSVP.seq, EventRSVP.user_id).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    nxt = _encode([page[-1].seq, page[-1].user_id]) if len(rows) > limit else None
    return Page(page, nxt)


async def apply_rsvp_changes(
    session: AsyncSession,
    guild_id: int,
    event_id: int,
    occurrence: int,
    upserts: Sequence[RsvpRow],
    removed: Sequence[int],
) -> None:
    """Write the RSVPs that changed and delete the withdrawn, in a few batched statements."""
    now = utcnow()
    if upserts:
        stmt = insert(session, EventRSVP)
        stmt = stmt.on_conflict_do_update(
            index_elements=[EventRSVP.event_id, EventRSVP.occurrence, EventRSVP.user_id],
            set_={
                name: stmt.excluded[name]
                for name in ("status", "choice", "seq", "source", "updated_at")
            },
        )
        params = [
            {
                "event_id": event_id,
                "occurrence": occurrence,
                "user_id": r.user_id,
                "guild_id": guild_id,
                "status": r.status,
                "choice": r.choice,
                "seq": r.seq,
                "source": r.source,
                "attended": False,
                "updated_at": now,
            }
            for r in upserts
        ]
        await session.execute(stmt, params)
    ids = list(removed)
    for i in range(0, len(ids), _CHUNK):
        await session.execute(
            delete(EventRSVP).where(
                EventRSVP.event_id == event_id,
                EventRSVP.occurrence == occurrence,
                EventRSVP.user_id.in_(ids[i : i + _CHUNK]),
            )
        )


async def mark_attended(
    session: AsyncSession, event_id: int, occurrence: int, user_ids: Sequence[int]
) -> int:
    """Record who attended this occurrence; returns how many RSVPs it marked."""
    ids = list(user_ids)
    marked = 0
    for i in range(0, len(ids), _CHUNK):
        result = await session.execute(
            update(EventRSVP)
            .where(
                EventRSVP.event_id == event_id,
                EventRSVP.occurrence == occurrence,
                EventRSVP.user_id.in_(ids[i : i + _CHUNK]),
            )
            .values(attended=True)
        )
        marked += int(getattr(result, "rowcount", 0) or 0)
    return marked


# --- member time zones and calendar keys ------------------------------------------------------


async def get_member_timezone(session: AsyncSession, user_id: int) -> str | None:
    """The zone a member set for themselves, if any."""
    row = await session.get(MemberTimezone, user_id)
    return None if row is None else row.timezone


async def set_member_timezone(session: AsyncSession, user_id: int, timezone: str | None) -> None:
    """Set (or with None clear) a member's own time zone."""
    if timezone is None:
        await session.execute(delete(MemberTimezone).where(MemberTimezone.user_id == user_id))
        return
    now = utcnow()
    stmt = insert(session, MemberTimezone).values(
        user_id=user_id, timezone=timezone, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[MemberTimezone.user_id],
            set_={"timezone": timezone, "updated_at": now},
        )
    )


async def set_feed_key(session: AsyncSession, guild_id: int, token_hash: str) -> None:
    """Store the hash of the guild's new calendar key; the older key stops working."""
    await ensure_server_exists(session, guild_id)
    now = utcnow()
    stmt = insert(session, EventFeedKey).values(
        guild_id=guild_id, token_hash=token_hash, created_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[EventFeedKey.guild_id],
            set_={"token_hash": token_hash, "created_at": now},
        )
    )


async def get_feed_key_hash(session: AsyncSession, guild_id: int) -> str | None:
    """The hash of the guild's calendar key, if one was made."""
    row = await session.get(EventFeedKey, guild_id)
    return None if row is None else row.token_hash
