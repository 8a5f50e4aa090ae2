"""REST: guild scheduled events (list, create, fetch, edit/status changes, delete, users)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from . import errors, payloads
from .models import ChannelType, Guild, ScheduledEvent
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    int_query,
    no_content,
    ok,
    require_guild_perm,
    sim_of,
    snowflake_param,
)
from .snowflake import parse_iso, utcnow

routes = APIRoutes()

STAGE, VOICE, EXTERNAL = 1, 2, 3
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
_TRANSITIONS = {SCHEDULED: {ACTIVE, CANCELED}, ACTIVE: {COMPLETED}}
BASE = "/guilds/{guild_id}/scheduled-events"


def _guild(request: web.Request) -> Guild:
    return sim_of(request).world.get_guild(snowflake_param(request, "guild_id"))


def _event(request: web.Request, guild: Guild) -> ScheduledEvent:
    event = guild.scheduled_events.get(snowflake_param(request, "event_id"))
    if event is None:
        raise errors.unknown("guild scheduled event")
    return event


def _time(data: dict[str, Any], key: str) -> datetime | None:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        return parse_iso(str(raw))
    except ValueError:
        raise errors.invalid_form(
            key, "Could not parse timestamp.", "DATE_TIME_TYPE_PARSE"
        ) from None


def _validate(request: web.Request, guild: Guild, fields: dict[str, Any], creating: bool) -> None:
    sim = sim_of(request)
    name = fields.get("name")
    if (creating or "name" in fields) and (not isinstance(name, str) or not 1 <= len(name) <= 100):
        raise errors.invalid_form("name", "Must be between 1 and 100 in length.")
    entity_type = fields.get("entity_type")
    if entity_type not in (STAGE, VOICE, EXTERNAL):
        raise errors.invalid_form("entity_type", "Value must be one of (1, 2, 3).")
    start = fields.get("scheduled_start_time")
    if start is None:
        raise errors.invalid_form(
            "scheduled_start_time", "This field is required", "BASE_TYPE_REQUIRED"
        )
    if creating and start < utcnow():
        raise errors.invalid_form(
            "scheduled_start_time",
            "Cannot schedule event in the past.",
            "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
        )
    end = fields.get("scheduled_end_time")
    if entity_type == EXTERNAL:
        if not fields.get("location") or end is None:
            raise errors.invalid_form(
                "entity_metadata", "External events need a location and an end time."
            )
    else:
        channel = sim.world.channels.get(int(fields.get("channel_id") or 0))
        wanted = ChannelType.GUILD_STAGE_VOICE if entity_type == STAGE else ChannelType.GUILD_VOICE
        if channel is None or channel.guild_id != guild.id or channel.type != wanted:
            raise errors.invalid_form(
                "channel_id", "Voice or stage channel required.", "CHANNEL_INVALID"
            )
    if end is not None and end <= start:
        raise errors.invalid_form("scheduled_end_time", "End must be after start.")


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("name", "description", "entity_type", "privacy_level", "image", "recurrence_rule"):
        if key in data:
            fields[key] = data[key]
    if "channel_id" in data:
        fields["channel_id"] = int(data["channel_id"]) if data["channel_id"] is not None else None
    for key in ("scheduled_start_time", "scheduled_end_time"):
        if key in data:
            fields[key] = _time(data, key)
    if "entity_metadata" in data:
        fields["location"] = (data["entity_metadata"] or {}).get("location")
    if "status" in data:
        fields["status"] = data["status"]
    return fields


@routes.get(BASE)
async def list_events(request: web.Request) -> web.Response:
    """All scheduled events (``with_user_count`` adds interested counts)."""
    sim = sim_of(request)
    guild = _guild(request)
    counts = request.query.get("with_user_count", "false").lower() in ("1", "true")
    return ok(
        [
            payloads.scheduled_event(sim.world, e, user_count=counts)
            for e in guild.scheduled_events.values()
        ]
    )


@routes.post(BASE)
async def create_event(request: web.Request) -> web.Response:
    """Create an event; dispatches GUILD_SCHEDULED_EVENT_CREATE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.CREATE_EVENTS))
    data = body(request)
    fields = _fields(data)
    fields.setdefault("privacy_level", 2)
    _validate(request, guild, fields, creating=True)
    if fields["privacy_level"] != 2:
        raise errors.invalid_form("privacy_level", "Value must be 2 (GUILD_ONLY).")
    event = ScheduledEvent(
        id=sim.world.new_id(),
        guild_id=guild.id,
        name=fields["name"],
        scheduled_start_time=fields["scheduled_start_time"],
        scheduled_end_time=fields.get("scheduled_end_time"),
        entity_type=fields["entity_type"],
        creator_id=sim.world.bot_id,
        description=fields.get("description"),
        channel_id=fields.get("channel_id") if fields["entity_type"] != EXTERNAL else None,
        location=fields.get("location"),
        image=fields.get("image"),
        recurrence_rule=fields.get("recurrence_rule"),
    )
    sim.engine.create_event(guild, event, reason=audit_reason(request))
    return ok(payloads.scheduled_event(sim.world, event))


@routes.get(BASE + "/{event_id}")
async def get_event(request: web.Request) -> web.Response:
    """One scheduled event."""
    sim = sim_of(request)
    guild = _guild(request)
    counts = request.query.get("with_user_count", "false").lower() in ("1", "true")
    return ok(payloads.scheduled_event(sim.world, _event(request, guild), user_count=counts))


@routes.patch(BASE + "/{event_id}")
async def edit_event(request: web.Request) -> web.Response:
    """Edit or change status (scheduled->active->completed, scheduled->canceled)."""
    sim = sim_of(request)
    guild = _guild(request)
    event = _event(request, guild)
    require_guild_perm(sim, guild, int(Perm.MANAGE_EVENTS))
    fields = _fields(body(request))
    if "status" in fields and fields["status"] != event.status:
        if fields["status"] not in _TRANSITIONS.get(event.status, set()):
            raise errors.invalid_form("status", "Invalid scheduled event status transition.")
    elif event.status in (COMPLETED, CANCELED):
        raise errors.bad_request(180000, "Cannot update a finished event")
    merged = {
        "name": event.name,
        "entity_type": event.entity_type,
        "scheduled_start_time": event.scheduled_start_time,
        "scheduled_end_time": event.scheduled_end_time,
        "channel_id": event.channel_id,
        "location": event.location,
        **fields,
    }
    _validate(request, guild, merged, creating=False)
    if merged["entity_type"] == EXTERNAL:
        fields["channel_id"] = None
    sim.engine.update_event(
        guild, event, fields, actor_id=sim.world.bot_id, reason=audit_reason(request)
    )
    return ok(payloads.scheduled_event(sim.world, event))


@routes.delete(BASE + "/{event_id}")
async def delete_event(request: web.Request) -> web.Response:
    """Delete an event; dispatches GUILD_SCHEDULED_EVENT_DELETE."""
    sim = sim_of(request)
    guild = _guild(request)
    event = _event(request, guild)
    require_guild_perm(sim, guild, int(Perm.MANAGE_EVENTS))
    sim.engine.delete_event(guild, event, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return no_content()


@routes.get(BASE + "/{event_id}/users")
async def event_users(request: web.Request) -> web.Response:
    """Users interested in an event (``with_member`` adds member objects)."""
    sim = sim_of(request)
    guild = _guild(request)
    event = _event(request, guild)
    limit = int_query(request, "limit", 100, 1, 100)
    with_member = request.query.get("with_member", "false").lower() in ("1", "true")
    result = []
    for user_id in sorted(event.subscriber_ids)[:limit]:
        entry: dict[str, Any] = {
            "guild_scheduled_event_id": str(event.id),
            "user": payloads.user(sim.world.users[user_id]),
        }
        if with_member and user_id in guild.members:
            entry["member"] = payloads.member(sim.world, guild.members[user_id], with_user=False)
        result.append(entry)
    return ok(result)
