"""Helpers shared by REST handlers: route tables, body access, permission checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from . import errors
from .models import Attachment, Channel, Guild
from .permissions import Perm

if TYPE_CHECKING:
    from .server import DiscordSimulator

SIM_KEY: web.AppKey[DiscordSimulator] = web.AppKey("discord_simulator")
API_PREFIX = "/api/v10"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RequestState:
    """Per-request data shared by the middleware and handlers (one asyncio task each)."""

    json: Any = None
    files: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    payload: Any = None


_STATE: ContextVar[RequestState] = ContextVar("simulator_request_state")


def request_state() -> RequestState:
    """State of the REST request being handled in this task."""
    try:
        return _STATE.get()
    except LookupError:
        state = RequestState()
        _STATE.set(state)
        return state


def new_request_state() -> RequestState:
    """Start fresh state for a new request (called by the middleware)."""
    state = RequestState()
    _STATE.set(state)
    return state


@dataclass(frozen=True)
class APIRoute:
    """One REST endpoint (path relative to ``/api/v10``)."""

    method: str
    path: str
    handler: Handler


class APIRoutes:
    """A per-module table of REST endpoints, registered with decorators."""

    def __init__(self) -> None:
        self.routes: list[APIRoute] = []

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method path``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(APIRoute(method, path, handler))
            return handler

        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        """Register a GET endpoint."""
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        """Register a POST endpoint."""
        return self.route("POST", path)

    def put(self, path: str) -> Callable[[Handler], Handler]:
        """Register a PUT endpoint."""
        return self.route("PUT", path)

    def patch(self, path: str) -> Callable[[Handler], Handler]:
        """Register a PATCH endpoint."""
        return self.route("PATCH", path)

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        """Register a DELETE endpoint."""
        return self.route("DELETE", path)


def sim_of(request: web.Request) -> DiscordSimulator:
    """The simulator serving this request."""
    return request.app[SIM_KEY]


def discord_json(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON response with Discord's exact ``Content-Type: application/json``.

    discord.py only decodes bodies whose content type is exactly that (no charset).
    The payload is kept on the response for the request recorder.
    """
    request_state().payload = data
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def ok(data: Any, status: int = 200) -> web.Response:
    """Successful JSON response."""
    return discord_json(data, status)


def no_content() -> web.Response:
    """204 No Content."""
    return web.Response(status=204)


def body(request: web.Request) -> dict[str, Any]:
    """The parsed JSON (or multipart ``payload_json``) body; must be an object."""
    data = request_state().json
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise errors.bad_request(50109, "The request body contains invalid JSON.")
    return data


def body_any(request: web.Request) -> Any:
    """The parsed JSON body, whatever its type (lists for bulk endpoints)."""
    return request_state().json


def files(request: web.Request) -> list[tuple[str, str | None, bytes]]:
    """Files uploaded in a multipart body as (filename, content type, bytes)."""
    return list(request_state().files)


def snowflake_param(request: web.Request, name: str) -> int:
    """A path snowflake; non-numeric values are 404 like Discord's router."""
    raw = request.match_info[name]
    if not raw.isdigit():
        raise errors.not_found_route()
    return int(raw)


def audit_reason(request: web.Request) -> str | None:
    """The decoded ``X-Audit-Log-Reason`` header."""
    raw = request.headers.get("X-Audit-Log-Reason")
    return unquote(raw) if raw else None


def int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter validated like Discord does."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_form(name, "Value is not int.", "NUMBER_TYPE_COERCE") from None
    if not lo <= value <= hi:
        raise errors.invalid_form(
            name, f"int value should be between {lo} and {hi}.", "NUMBER_TYPE_MAX"
        )
    return value


def require_guild_perm(sim: DiscordSimulator, guild: Guild, perm: int) -> None:
    """403 50013 unless the bot has ``perm`` guild-wide."""
    if not sim.config.enforce_permissions:
        return
    if guild.id not in sim.world.guilds or sim.world.bot_id not in guild.members:
        raise errors.unknown("guild")
    if sim.world.base_permissions(guild, sim.world.bot_id) & perm != perm:
        raise errors.missing_permissions()


def require_channel_perm(sim: DiscordSimulator, channel: Channel, perm: int) -> None:
    """403 50001 if the bot can't see the channel, 50013 if it lacks ``perm`` there."""
    if not sim.config.enforce_permissions or channel.guild_id is None:
        return
    perms = sim.world.channel_permissions(channel, sim.world.bot_id)
    if not perms & Perm.VIEW_CHANNEL:
        raise errors.missing_access()
    if perms & perm != perm:
        raise errors.missing_permissions()


def require_above(sim: DiscordSimulator, guild: Guild, target_id: int) -> None:
    """403 50013 unless the bot outranks the target in the role hierarchy."""
    if not sim.config.enforce_permissions:
        return
    if target_id in guild.members and not sim.world.can_moderate(
        guild, sim.world.bot_id, target_id
    ):
        raise errors.missing_permissions()


def make_attachments(
    sim: DiscordSimulator, channel_id: int, request: web.Request
) -> list[Attachment]:
    """Store uploaded files as attachments served back by the simulator."""
    stored = []
    for filename, content_type, data in files(request):
        attachment_id = sim.world.new_id()
        url = f"{sim.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = Attachment(attachment_id, filename, content_type, data, url)
        sim.attachments[attachment_id] = attachment
        stored.append(attachment)
    return stored
