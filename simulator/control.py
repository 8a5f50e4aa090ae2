"""Control API under ``/_sim``: lets another process script and inspect the simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from . import errors, payloads
from .rest_common import SIM_KEY
from .snowflake import parse_iso

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, default=str))


def _guarded(handler: ControlHandler) -> ControlHandler:
    """Turn simulator errors and bad bodies into JSON error responses."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.DiscordAPIError as exc:
            return _json(exc.body(), status=exc.status)
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"code": 0, "message": f"bad request: {exc!r}"}, status=400)
        except TimeoutError:
            return _json({"code": 0, "message": "timed out"}, status=408)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


async def health(request: web.Request) -> web.StreamResponse:
    """Liveness probe."""
    sim = request.app[SIM_KEY]
    return _json({"ok": True, "base_url": sim.base_url, "gateway_url": sim.gateway_url})


async def world_ids(request: web.Request) -> web.StreamResponse:
    """Ids of the seed world by name."""
    return _json(request.app[SIM_KEY].world.ids())


async def state(request: web.Request) -> web.StreamResponse:
    """World summary."""
    return _json(request.app[SIM_KEY].state())


async def list_requests(request: web.Request) -> web.StreamResponse:
    """Recorded REST requests (?method=&route=&status=)."""
    sim = request.app[SIM_KEY]
    query = request.query
    status = int(query["status"]) if "status" in query else None
    found = sim.requests(query.get("method"), query.get("route"), status)
    return _json([r.to_dict() for r in found])


async def clear_requests(request: web.Request) -> web.StreamResponse:
    """Forget recorded requests."""
    request.app[SIM_KEY].clear_requests()
    return web.Response(status=204)


async def list_faults(request: web.Request) -> web.StreamResponse:
    """Armed fault rules."""
    return _json([r.describe() for r in request.app[SIM_KEY].faults.rules])


async def add_fault(request: web.Request) -> web.StreamResponse:
    """Arm a fault: {path, status, method?, count?, retry_after?, global?, code?, message?}."""
    data = await _body(request)
    rule = request.app[SIM_KEY].faults.add(
        str(data["path"]),
        int(data["status"]),
        method=data.get("method"),
        count=int(data.get("count", 1)),
        retry_after=float(data.get("retry_after", 1.0)),
        is_global=bool(data.get("global", False)),
        code=data.get("code"),
        message=data.get("message"),
        body=data.get("body"),
    )
    return _json(rule.describe(), status=201)


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """Disarm all faults."""
    request.app[SIM_KEY].clear_faults()
    return web.Response(status=204)


async def post_message(request: web.Request) -> web.StreamResponse:
    """A user posts: {channel, author, content, embeds?, reply_to?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    reply_to = data.get("reply_to")
    message = await sim.post_message(
        data["channel"],
        data["author"],
        str(data.get("content", "")),
        embeds=data.get("embeds"),
        reply_to=int(reply_to) if reply_to is not None else None,
    )
    return _json(payloads.message(sim.world, message), status=201)


async def post_dm(request: web.Request) -> web.StreamResponse:
    """A user DMs the bot: {author, content}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    message = await sim.send_dm(data["author"], str(data["content"]))
    return _json(payloads.message(sim.world, message), status=201)


async def member_join(request: web.Request) -> web.StreamResponse:
    """A user joins: {username, global_name?, created_at?|account_age_seconds?, avatar?, ...}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    age = data.get("account_age_seconds")
    member = await sim.member_join(
        str(data["username"]),
        global_name=data.get("global_name"),
        created_at=parse_iso(data.get("created_at")),
        account_age=timedelta(seconds=float(age)) if age is not None else None,
        avatar=data.get("avatar"),
        bot=bool(data.get("bot", False)),
        dms_open=bool(data.get("dms_open", True)),
        invite_code=data.get("invite_code"),
    )
    return _json(payloads.member(sim.world, member), status=201)


async def member_leave(request: web.Request) -> web.StreamResponse:
    """A member leaves: DELETE /_sim/members/{user}."""
    await request.app[SIM_KEY].member_leave(request.match_info["user"])
    return web.Response(status=204)


async def raid(request: web.Request) -> web.StreamResponse:
    """N joins over T seconds: {count, seconds, young_share?, name_prefix?, seed?, wait?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    job = sim.mass_join(
        int(data["count"]),
        float(data.get("seconds", 0)),
        young_share=float(data.get("young_share", 0.0)),
        name_prefix=str(data.get("name_prefix", "raider")),
        seed=data.get("seed"),
    )
    if not data.get("wait", True):
        task = asyncio.ensure_future(job)
        sim.background.add(task)
        task.add_done_callback(sim.background.discard)
        return _json({"scheduled": int(data["count"])}, status=202)
    members = await job
    return _json({"members": [payloads.member(sim.world, m) for m in members]}, status=201)


async def reaction(request: web.Request) -> web.StreamResponse:
    """Add (POST) or remove (DELETE) a reaction: {channel, message_id, user, emoji}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    args = (data["channel"], int(data["message_id"]), data["user"], str(data["emoji"]))
    if request.method == "POST":
        changed = await sim.add_reaction(*args)
    else:
        changed = await sim.remove_reaction(*args)
    return _json({"changed": changed})


async def slash_command(request: web.Request) -> web.StreamResponse:
    """Invoke a slash command: {name, user, channel?, options?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    record = await sim.invoke_slash_command(
        str(data["name"]), data["user"], data.get("channel", "general"), data.get("options")
    )
    return _json({"id": str(record.id), "token": record.token}, status=201)


async def component(request: web.Request) -> web.StreamResponse:
    """Click a component: {custom_id, user, message_id, component_type?, values?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    record = await sim.click_component(
        str(data["custom_id"]),
        data["user"],
        int(data["message_id"]),
        component_type=int(data.get("component_type", 2)),
        values=data.get("values"),
    )
    return _json({"id": str(record.id), "token": record.token}, status=201)


async def get_interaction(request: web.Request) -> web.StreamResponse:
    """Interaction state; ``?wait=S`` blocks until the bot has responded."""
    sim = request.app[SIM_KEY]
    record = sim.interactions.by_id.get(int(request.match_info["interaction_id"]))
    if record is None:
        raise errors.unknown("interaction")
    wait = float(request.query.get("wait", 0))
    if wait > 0:
        await record.wait_response(wait)
    return _json(record.describe(sim.world))


async def event_interest(request: web.Request) -> web.StreamResponse:
    """Mark interest in a scheduled event: {user, interested?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    changed = await sim.set_event_interest(
        int(request.match_info["event_id"]), data["user"], bool(data.get("interested", True))
    )
    return _json({"changed": changed})


async def gateway_sessions(request: web.Request) -> web.StreamResponse:
    """Gateway sessions and the opcodes clients sent."""
    sim = request.app[SIM_KEY]
    ops: dict[str, int] = {}
    for received in sim.gateway_ops():
        ops[str(received.op)] = ops.get(str(received.op), 0) + 1
    return _json({"sessions": sim.state()["gateway"]["sessions"], "ops_received": ops})


async def gateway_action(request: web.Request) -> web.StreamResponse:
    """Disconnect {session_id?, code?} | reconnect {session_id?} | invalidate {resumable?}."""
    sim = request.app[SIM_KEY]
    data = await _body(request)
    action = request.match_info["action"]
    session_id = data.get("session_id")
    if action == "disconnect":
        count = sim.gateway.disconnect(session_id, int(data.get("code", 4000)))
    elif action == "reconnect":
        count = sim.gateway.request_reconnect(session_id)
    elif action == "invalidate":
        count = sim.gateway.invalidate(session_id, bool(data.get("resumable", False)))
    else:
        raise KeyError(action)
    return _json({"affected": count})


def register(app: web.Application) -> None:
    """Add the ``/_sim`` routes to the app."""
    routes: list[tuple[str, str, ControlHandler]] = [
        ("GET", "/_sim/health", health),
        ("GET", "/_sim/world", world_ids),
        ("GET", "/_sim/state", state),
        ("GET", "/_sim/requests", list_requests),
        ("DELETE", "/_sim/requests", clear_requests),
        ("GET", "/_sim/faults", list_faults),
        ("POST", "/_sim/faults", add_fault),
        ("DELETE", "/_sim/faults", clear_faults),
        ("POST", "/_sim/messages", post_message),
        ("POST", "/_sim/dms", post_dm),
        ("POST", "/_sim/members", member_join),
        ("DELETE", "/_sim/members/{user}", member_leave),
        ("POST", "/_sim/raids", raid),
        ("POST", "/_sim/reactions", reaction),
        ("DELETE", "/_sim/reactions", reaction),
        ("POST", "/_sim/interactions/commands", slash_command),
        ("POST", "/_sim/interactions/components", component),
        ("GET", "/_sim/interactions/{interaction_id}", get_interaction),
        ("POST", "/_sim/scheduled-events/{event_id}/interest", event_interest),
        ("GET", "/_sim/gateway", gateway_sessions),
        ("POST", "/_sim/gateway/{action}", gateway_action),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guarded(handler))
