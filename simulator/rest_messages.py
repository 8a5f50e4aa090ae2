"""REST: send, fetch, edit, delete and bulk-delete messages; channel history; typing."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors, payloads
from .models import MESSAGEABLE_TYPES, Channel, ChannelType, Message
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    files,
    int_query,
    make_attachments,
    no_content,
    ok,
    require_channel_perm,
    sim_of,
    snowflake_param,
)
from .snowflake import snowflake_time, utcnow

if TYPE_CHECKING:
    from .server import DiscordSimulator as Sim

routes = APIRoutes()

MAX_CONTENT = 2000
EPHEMERAL = 64
MAX_EMBEDS = 10


def _channel(request: web.Request) -> Channel:
    return sim_of(request).world.get_channel(snowflake_param(request, "channel_id"))


def check_can_send(sim: Sim, channel: Channel) -> None:
    """Validate the bot may post in ``channel`` (type, DM reachability, permissions)."""
    world = sim.world
    if channel.type not in MESSAGEABLE_TYPES:
        raise errors.bad_request(50008, "Cannot send messages in a non-text channel")
    if channel.type == ChannelType.DM:
        recipient = world.users[channel.recipient_ids[0]]
        shares_guild = any(recipient.id in g.members for g in world.guilds.values())
        if recipient.bot or not recipient.dms_open or not shares_guild:
            raise errors.DiscordAPIError(403, 50007, "Cannot send messages to this user")
        return
    needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
    require_channel_perm(sim, channel, int(needed))
    if channel.is_thread and channel.archived:
        if channel.locked:
            raise errors.bad_request(50083, "Thread is locked")
        sim.engine.update_channel(channel, {"archived": False}, actor_id=None, reason=None)


def validate_message_body(data: dict[str, Any], has_files: bool) -> None:
    """Discord's basic message body validation (length, embeds, emptiness)."""
    content = data.get("content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    if content is not None and len(content) > MAX_CONTENT:
        raise errors.invalid_form(
            "content", f"Must be {MAX_CONTENT} or fewer in length.", "BASE_TYPE_MAX_LENGTH"
        )
    embeds = data.get("embeds")
    if embeds is not None and (not isinstance(embeds, list) or len(embeds) > MAX_EMBEDS):
        raise errors.invalid_form(
            "embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
        )
    if not (
        content
        or embeds
        or data.get("components")
        or data.get("sticker_ids")
        or data.get("poll")
        or has_files
    ):
        raise errors.bad_request(50006, "Cannot send an empty message")


def resolve_reference(sim: Sim, channel: Channel, data: dict[str, Any]) -> dict[str, Any] | None:
    """Validate ``message_reference`` and return the stored reference object."""
    ref = data.get("message_reference")
    if not ref:
        return None
    if not isinstance(ref, dict) or "message_id" not in ref:
        raise errors.invalid_form("message_reference", "Invalid message reference")
    ref_channel_id = int(ref.get("channel_id") or channel.id)
    found = sim.world.messages.get(ref_channel_id, {}).get(int(ref["message_id"]))
    if found is None:
        if ref.get("fail_if_not_exists", True):
            raise errors.invalid_form(
                "message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
            )
        return None
    reference: dict[str, Any] = {
        "type": int(ref.get("type", 0)),
        "message_id": str(found.id),
        "channel_id": str(ref_channel_id),
    }
    if channel.guild_id is not None:
        reference["guild_id"] = str(channel.guild_id)
    return reference


@routes.post("/channels/{channel_id}/messages")
async def create_message(request: web.Request) -> web.Response:
    """Post a message as the bot; dispatches MESSAGE_CREATE."""
    sim = sim_of(request)
    channel = _channel(request)
    data = body(request)
    check_can_send(sim, channel)
    validate_message_body(data, bool(files(request)))
    message = sim.engine.create_message(
        channel,
        sim.world.bot_id,
        content=str(data.get("content") or ""),
        embeds=data.get("embeds"),
        components=data.get("components"),
        reference=resolve_reference(sim, channel, data),
        attachments=make_attachments(sim, channel.id, request),
        allowed_mentions=data.get("allowed_mentions"),
        nonce=data.get("nonce"),
        tts=bool(data.get("tts", False)),
        flags=int(data.get("flags") or 0) & 0x1004,
        poll=data.get("poll"),
    )
    return ok(payloads.message(sim.world, message))


@routes.get("/channels/{channel_id}/messages")
async def history(request: web.Request) -> web.Response:
    """Channel history, newest first, with limit/before/after/around."""
    sim = sim_of(request)
    channel = _channel(request)
    require_channel_perm(sim, channel, int(Perm.READ_MESSAGE_HISTORY))
    limit = int_query(request, "limit", 50, 1, 100)
    messages = [m for m in sim.world.channel_messages(channel.id) if not m.flags & EPHEMERAL]
    before, after, around = (request.query.get(k) for k in ("before", "after", "around"))
    if around:
        pivot = int(around)
        older = [m for m in messages if m.id <= pivot][-((limit + 1) // 2) :]
        newer = [m for m in messages if m.id > pivot][: limit // 2]
        selected = older + newer
    elif after:
        selected = [m for m in messages if m.id > int(after)][:limit]
    else:
        if before:
            messages = [m for m in messages if m.id < int(before)]
        selected = messages[-limit:]
    return ok([payloads.message(sim.world, m) for m in reversed(selected)])


def get_message(request: web.Request) -> tuple[Channel, Message]:
    """The channel and message named by the route (ephemeral ones are invisible)."""
    sim = sim_of(request)
    channel = _channel(request)
    message = sim.world.get_message(channel.id, snowflake_param(request, "message_id"))
    if message.flags & EPHEMERAL:
        raise errors.unknown("message")
    return channel, message


@routes.get("/channels/{channel_id}/messages/{message_id}")
async def fetch_message(request: web.Request) -> web.Response:
    """One message."""
    sim = sim_of(request)
    channel, message = get_message(request)
    require_channel_perm(sim, channel, int(Perm.READ_MESSAGE_HISTORY))
    return ok(payloads.message(sim.world, message))


@routes.patch("/channels/{channel_id}/messages/{message_id}")
async def edit_message(request: web.Request) -> web.Response:
    """Edit one of the bot's messages; dispatches MESSAGE_UPDATE."""
    sim = sim_of(request)
    channel, message = get_message(request)
    data = body(request)
    if message.author_id != sim.world.bot_id:
        if set(data) - {"flags"}:
            raise errors.DiscordAPIError(
                403, 50005, "Cannot edit a message authored by another user"
            )
        require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    content = data.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        raise errors.invalid_form("content", "Must be 2000 or fewer in length.")
    sim.engine.edit_message(message, data, attachments=make_attachments(sim, channel.id, request))
    return ok(payloads.message(sim.world, message))


@routes.delete("/channels/{channel_id}/messages/{message_id}")
async def delete_message(request: web.Request) -> web.Response:
    """Delete a message (others' need MANAGE_MESSAGES); dispatches MESSAGE_DELETE."""
    sim = sim_of(request)
    channel, message = get_message(request)
    if message.author_id != sim.world.bot_id:
        if channel.guild_id is None:
            raise errors.DiscordAPIError(403, 50003, "Cannot execute action on a DM channel")
        require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    sim.engine.delete_message(message, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return no_content()


@routes.post("/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(request: web.Request) -> web.Response:
    """Delete 2-100 messages younger than 14 days; dispatches MESSAGE_DELETE_BULK."""
    sim = sim_of(request)
    channel = _channel(request)
    if channel.guild_id is None:
        raise errors.DiscordAPIError(403, 50003, "Cannot execute action on a DM channel")
    require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    ids = body(request).get("messages")
    if not isinstance(ids, list) or not 2 <= len(ids) <= 100:
        raise errors.bad_request(
            50016, "You must provide at least 2 and fewer than 100 messages to delete."
        )
    try:
        wanted = list(dict.fromkeys(int(i) for i in ids))
    except (TypeError, ValueError):
        raise errors.invalid_form(
            "messages", "Value is not snowflake.", "NUMBER_TYPE_COERCE"
        ) from None
    cutoff = utcnow() - timedelta(days=14)
    if any(snowflake_time(i) < cutoff for i in wanted):
        raise errors.bad_request(
            50034, "You can only bulk delete messages that are under 14 days old."
        )
    existing = [i for i in wanted if i in sim.world.messages.get(channel.id, {})]
    if existing:
        sim.engine.bulk_delete(
            channel, existing, actor_id=sim.world.bot_id, reason=audit_reason(request)
        )
    return no_content()


@routes.post("/channels/{channel_id}/typing")
async def typing(request: web.Request) -> web.Response:
    """Trigger the typing indicator; dispatches TYPING_START."""
    sim = sim_of(request)
    channel = _channel(request)
    check_can_send(sim, channel)
    data: dict[str, Any] = {
        "channel_id": str(channel.id),
        "user_id": str(sim.world.bot_id),
        "timestamp": int(utcnow().timestamp()),
    }
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
        member = sim.world.guilds[channel.guild_id].members[sim.world.bot_id]
        data["member"] = payloads.member(sim.world, member)
    sim.engine.dispatch("TYPING_START", data)
    return no_content()


@routes.get("/channels/{channel_id}")
async def get_channel(request: web.Request) -> web.Response:
    """One channel."""
    sim = sim_of(request)
    channel = _channel(request)
    require_channel_perm(sim, channel, 0)
    return ok(payloads.channel(sim.world, channel))
