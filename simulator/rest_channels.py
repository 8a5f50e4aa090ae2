"""REST: edit/delete channels (slowmode etc.), permission overwrites, threads."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors, payloads
from .models import Channel, ChannelType, Overwrite
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    files,
    make_attachments,
    no_content,
    ok,
    require_channel_perm,
    sim_of,
    snowflake_param,
)
from .rest_messages import check_can_send, validate_message_body

routes = APIRoutes()

ARCHIVE_DURATIONS = {60, 1440, 4320, 10080}
THREAD_PARENTS = {ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM}


def _channel(request: web.Request) -> Channel:
    return sim_of(request).world.get_channel(snowflake_param(request, "channel_id"))


def _validate_channel_edit(data: dict[str, Any]) -> None:
    if "name" in data and not 1 <= len(str(data["name"] or "")) <= 100:
        raise errors.invalid_form("name", "Must be between 1 and 100 in length.")
    slowmode = data.get("rate_limit_per_user")
    if slowmode is not None and (not isinstance(slowmode, int) or not 0 <= slowmode <= 21600):
        raise errors.invalid_form("rate_limit_per_user", "int value should be between 0 and 21600.")
    duration = data.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_DURATIONS:
        raise errors.invalid_form(
            "auto_archive_duration", "Value must be one of (60, 1440, 4320, 10080)."
        )


@routes.patch("/channels/{channel_id}")
async def edit_channel(request: web.Request) -> web.Response:
    """Edit name/topic/slowmode/overwrites (or thread state); CHANNEL_UPDATE/THREAD_UPDATE."""
    sim = sim_of(request)
    channel = _channel(request)
    if channel.guild_id is None:
        raise errors.DiscordAPIError(403, 50003, "Cannot execute action on a DM channel")
    data = body(request)
    _validate_channel_edit(data)
    if channel.is_thread:
        own_archive = channel.owner_id == sim.world.bot_id and set(data) <= {"archived", "name"}
        if not own_archive:
            require_channel_perm(sim, channel, int(Perm.MANAGE_THREADS))
    else:
        require_channel_perm(sim, channel, int(Perm.MANAGE_CHANNELS))
        if "permission_overwrites" in data:
            require_channel_perm(sim, channel, int(Perm.MANAGE_ROLES))
    if data.get("rate_limit_per_user") is None:
        data.pop("rate_limit_per_user", None)
    sim.engine.update_channel(
        channel, data, actor_id=sim.world.bot_id, reason=audit_reason(request)
    )
    return ok(payloads.channel(sim.world, channel))


@routes.delete("/channels/{channel_id}")
async def delete_channel(request: web.Request) -> web.Response:
    """Delete a guild channel/thread (or close a DM); returns the channel."""
    sim = sim_of(request)
    channel = _channel(request)
    data = payloads.channel(sim.world, channel)
    if channel.type == ChannelType.DM:
        return ok(data)
    needed = Perm.MANAGE_THREADS if channel.is_thread else Perm.MANAGE_CHANNELS
    require_channel_perm(sim, channel, int(needed))
    sim.engine.delete_channel(channel, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return ok(data)


@routes.put("/channels/{channel_id}/permissions/{overwrite_id}")
async def put_overwrite(request: web.Request) -> web.Response:
    """Create/replace a permission overwrite; dispatches CHANNEL_UPDATE."""
    sim = sim_of(request)
    channel = _channel(request)
    if channel.guild_id is None or channel.is_thread:
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    require_channel_perm(sim, channel, int(Perm.MANAGE_ROLES))
    target = snowflake_param(request, "overwrite_id")
    data = body(request)
    kind = data.get("type")
    if kind not in (0, 1, "0", "1"):
        raise errors.invalid_form("type", "Value must be one of (0, 1).")
    guild = sim.world.guilds[channel.guild_id]
    if int(kind) == 0 and target not in guild.roles:
        raise errors.unknown("role")
    if int(kind) == 1 and target not in sim.world.users:
        raise errors.unknown("user")
    overwrite = Overwrite(
        target, int(kind), int(data.get("allow") or 0), int(data.get("deny") or 0)
    )
    sim.engine.set_overwrite(
        channel, overwrite, actor_id=sim.world.bot_id, reason=audit_reason(request)
    )
    return no_content()


@routes.delete("/channels/{channel_id}/permissions/{overwrite_id}")
async def delete_overwrite(request: web.Request) -> web.Response:
    """Remove a permission overwrite; dispatches CHANNEL_UPDATE."""
    sim = sim_of(request)
    channel = _channel(request)
    require_channel_perm(sim, channel, int(Perm.MANAGE_ROLES))
    target = snowflake_param(request, "overwrite_id")
    if not sim.engine.delete_overwrite(
        channel, target, actor_id=sim.world.bot_id, reason=audit_reason(request)
    ):
        raise errors.unknown("overwrite")
    return no_content()


# ----------------------------------------------------------------------------- threads


def _thread_options(data: dict[str, Any]) -> tuple[str, int, int]:
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise errors.invalid_form("name", "Must be between 1 and 100 in length.")
    duration = int(data.get("auto_archive_duration") or 1440)
    if duration not in ARCHIVE_DURATIONS:
        raise errors.invalid_form(
            "auto_archive_duration", "Value must be one of (60, 1440, 4320, 10080)."
        )
    slowmode = int(data.get("rate_limit_per_user") or 0)
    return name, duration, slowmode


def _thread_response(request: web.Request, thread: Channel) -> dict[str, Any]:
    sim = sim_of(request)
    data = payloads.channel(sim.world, thread)
    if sim.world.bot_id in thread.thread_members:
        data["member"] = payloads.thread_member(sim.world, thread, sim.world.bot_id)
    return data


@routes.post("/channels/{channel_id}/threads")
async def start_thread(request: web.Request) -> web.Response:
    """Start a thread without a message (or a forum post); dispatches THREAD_CREATE."""
    sim = sim_of(request)
    parent = _channel(request)
    if parent.type not in THREAD_PARENTS:
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    data = body(request)
    name, duration, slowmode = _thread_options(data)
    if parent.type == ChannelType.GUILD_FORUM:
        return _start_forum_post(request, parent, data, name, duration, slowmode)
    default = 10 if parent.type == ChannelType.GUILD_ANNOUNCEMENT else 12
    kind = int(data.get("type") or default)
    if kind not in (10, 11, 12):
        raise errors.invalid_form("type", "Value must be a thread type.")
    needed = Perm.CREATE_PRIVATE_THREADS if kind == 12 else Perm.CREATE_PUBLIC_THREADS
    require_channel_perm(sim, parent, int(needed | Perm.SEND_MESSAGES))
    thread = sim.engine.create_thread(
        parent,
        name=name,
        owner_id=sim.world.bot_id,
        thread_type=ChannelType(kind),
        auto_archive_duration=duration,
        rate_limit_per_user=slowmode,
        invitable=bool(data.get("invitable", True)),
        reason=audit_reason(request),
    )
    return ok(_thread_response(request, thread), status=201)


def _start_forum_post(
    request: web.Request,
    parent: Channel,
    data: dict[str, Any],
    name: str,
    duration: int,
    slowmode: int,
) -> web.Response:
    sim = sim_of(request)
    require_channel_perm(sim, parent, int(Perm.SEND_MESSAGES))
    message_data = data.get("message")
    if not isinstance(message_data, dict):
        raise errors.invalid_form("message", "This field is required", "BASE_TYPE_REQUIRED")
    validate_message_body(message_data, bool(files(request)))
    thread = sim.engine.create_thread(
        parent,
        name=name,
        owner_id=sim.world.bot_id,
        thread_type=ChannelType.PUBLIC_THREAD,
        auto_archive_duration=duration,
        rate_limit_per_user=slowmode,
        reason=audit_reason(request),
    )
    message = sim.engine.create_message(
        thread,
        sim.world.bot_id,
        content=str(message_data.get("content") or ""),
        embeds=message_data.get("embeds"),
        components=message_data.get("components"),
        attachments=make_attachments(sim, thread.id, request),
    )
    response = _thread_response(request, thread)
    response["message"] = payloads.message(sim.world, message)
    return ok(response, status=201)


@routes.post("/channels/{channel_id}/messages/{message_id}/threads")
async def start_thread_from_message(request: web.Request) -> web.Response:
    """Start a public thread on a message (thread id = message id); THREAD_CREATE."""
    sim = sim_of(request)
    parent = _channel(request)
    message = sim.world.get_message(parent.id, snowflake_param(request, "message_id"))
    if parent.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    if message.thread_id is not None:
        raise errors.bad_request(160004, "A thread has already been created for this message")
    require_channel_perm(sim, parent, int(Perm.CREATE_PUBLIC_THREADS | Perm.SEND_MESSAGES))
    name, duration, slowmode = _thread_options(body(request))
    kind = 10 if parent.type == ChannelType.GUILD_ANNOUNCEMENT else 11
    thread = sim.engine.create_thread(
        parent,
        name=name,
        owner_id=sim.world.bot_id,
        thread_type=ChannelType(kind),
        thread_id=message.id,
        auto_archive_duration=duration,
        rate_limit_per_user=slowmode,
        reason=audit_reason(request),
    )
    message.thread_id = thread.id
    return ok(_thread_response(request, thread), status=201)


def _thread(request: web.Request) -> Channel:
    channel = _channel(request)
    if not channel.is_thread:
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    return channel


def _thread_user(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    return sim_of(request).world.bot_id if raw == "@me" else snowflake_param(request, "user_id")


@routes.put("/channels/{channel_id}/thread-members/{user_id}")
async def add_thread_member(request: web.Request) -> web.Response:
    """Add a member to a thread; dispatches THREAD_MEMBERS_UPDATE."""
    sim = sim_of(request)
    thread = _thread(request)
    user_id = _thread_user(request)
    if thread.archived:
        raise errors.bad_request(50083, "Thread is archived")
    sim.world.get_member(thread.guild_id or 0, user_id)
    check_can_send(sim, thread)
    sim.engine.add_thread_member(thread, user_id)
    return no_content()


@routes.delete("/channels/{channel_id}/thread-members/{user_id}")
async def remove_thread_member(request: web.Request) -> web.Response:
    """Remove a member from a thread; dispatches THREAD_MEMBERS_UPDATE."""
    sim = sim_of(request)
    thread = _thread(request)
    user_id = _thread_user(request)
    if thread.archived:
        raise errors.bad_request(50083, "Thread is archived")
    if user_id != sim.world.bot_id and thread.owner_id != sim.world.bot_id:
        require_channel_perm(sim, thread, int(Perm.MANAGE_THREADS))
    if user_id not in thread.thread_members:
        raise errors.unknown("member")
    sim.engine.remove_thread_member(thread, user_id)
    return no_content()


@routes.get("/channels/{channel_id}/thread-members/{user_id}")
async def get_thread_member(request: web.Request) -> web.Response:
    """One thread member."""
    sim = sim_of(request)
    thread = _thread(request)
    user_id = _thread_user(request)
    if user_id not in thread.thread_members:
        raise errors.unknown("member")
    with_member = request.query.get("with_member", "false").lower() in ("1", "true")
    return ok(payloads.thread_member(sim.world, thread, user_id, with_member=with_member))


@routes.get("/channels/{channel_id}/thread-members")
async def list_thread_members(request: web.Request) -> web.Response:
    """All thread members."""
    sim = sim_of(request)
    thread = _thread(request)
    with_member = request.query.get("with_member", "false").lower() in ("1", "true")
    return ok(
        [
            payloads.thread_member(sim.world, thread, u, with_member=with_member)
            for u in sorted(thread.thread_members)
        ]
    )
