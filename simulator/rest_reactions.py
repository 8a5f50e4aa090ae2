"""REST: add/remove reactions, list reacting users, clear reactions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors, payloads
from .ops_messages import parse_emoji
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    int_query,
    no_content,
    ok,
    require_channel_perm,
    sim_of,
    snowflake_param,
)
from .rest_messages import get_message

routes = APIRoutes()

BASE = "/channels/{channel_id}/messages/{message_id}/reactions"
MAX_UNIQUE = 20


@routes.put(BASE + "/{emoji}/@me")
async def add_own(request: web.Request) -> web.Response:
    """Bot reacts; dispatches MESSAGE_REACTION_ADD."""
    sim = sim_of(request)
    channel, message = get_message(request)
    emoji = request.match_info["emoji"]
    key, _ = parse_emoji(emoji)
    needed = Perm.READ_MESSAGE_HISTORY
    if key not in message.reactions:
        needed |= Perm.ADD_REACTIONS
        if len(message.reactions) >= MAX_UNIQUE:
            raise errors.bad_request(30010, "Maximum number of reactions reached (20)")
    require_channel_perm(sim, channel, int(needed))
    sim.engine.add_reaction(message, sim.world.bot_id, emoji)
    return no_content()


@routes.delete(BASE + "/{emoji}/@me")
async def remove_own(request: web.Request) -> web.Response:
    """Bot removes its reaction; dispatches MESSAGE_REACTION_REMOVE."""
    sim = sim_of(request)
    _, message = get_message(request)
    sim.engine.remove_reaction(message, sim.world.bot_id, request.match_info["emoji"])
    return no_content()


@routes.delete(BASE + "/{emoji}/{user_id}")
async def remove_user(request: web.Request) -> web.Response:
    """Remove someone else's reaction (MANAGE_MESSAGES)."""
    sim = sim_of(request)
    channel, message = get_message(request)
    require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    user_id = snowflake_param(request, "user_id")
    sim.engine.remove_reaction(message, user_id, request.match_info["emoji"])
    return no_content()


@routes.get(BASE + "/{emoji}")
async def list_users(request: web.Request) -> web.Response:
    """Users who reacted with an emoji (limit/after)."""
    sim = sim_of(request)
    channel, message = get_message(request)
    require_channel_perm(sim, channel, int(Perm.READ_MESSAGE_HISTORY))
    key, _ = parse_emoji(request.match_info["emoji"])
    reaction = message.reactions.get(key)
    if reaction is None:
        raise errors.unknown("emoji")
    limit = int_query(request, "limit", 25, 1, 100)
    after = int(request.query.get("after", "0") or 0)
    ids = sorted(u for u in reaction.user_ids if u > after)[:limit]
    return ok([payloads.user(sim.world.users[u]) for u in ids])


@routes.delete(BASE + "/{emoji}")
async def clear_emoji(request: web.Request) -> web.Response:
    """Remove all reactions of one emoji; dispatches MESSAGE_REACTION_REMOVE_EMOJI."""
    sim = sim_of(request)
    channel, message = get_message(request)
    require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    key, emoji = parse_emoji(request.match_info["emoji"])
    if message.reactions.pop(key, None) is not None:
        data: dict[str, Any] = {
            "channel_id": str(channel.id),
            "message_id": str(message.id),
            "emoji": emoji,
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        sim.engine.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", data)
    return no_content()


@routes.delete(BASE)
async def clear_all(request: web.Request) -> web.Response:
    """Remove every reaction; dispatches MESSAGE_REACTION_REMOVE_ALL."""
    sim = sim_of(request)
    channel, message = get_message(request)
    require_channel_perm(sim, channel, int(Perm.MANAGE_MESSAGES))
    message.reactions.clear()
    data: dict[str, Any] = {"channel_id": str(channel.id), "message_id": str(message.id)}
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    sim.engine.dispatch("MESSAGE_REACTION_REMOVE_ALL", data)
    return no_content()
