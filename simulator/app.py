"""Assemble the aiohttp application: REST, gateway, control API and attachments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import (
    control,
    rest_channels,
    rest_commands,
    rest_events,
    rest_guilds,
    rest_interactions,
    rest_members,
    rest_messages,
    rest_oauth,
    rest_reactions,
    rest_roles,
    rest_users,
)
from .middleware import api_middleware
from .rest_common import API_PREFIX, SIM_KEY, APIRoutes

if TYPE_CHECKING:
    from .server import DiscordSimulator

# Order matters where literal segments compete with parameters (bulk-delete, @me, search).
REST_MODULES: tuple[APIRoutes, ...] = (
    rest_users.routes,
    rest_messages.routes,
    rest_reactions.routes,
    rest_members.routes,
    rest_guilds.routes,
    rest_roles.routes,
    rest_channels.routes,
    rest_interactions.routes,
    rest_commands.routes,
    rest_events.routes,
    rest_oauth.routes,
)


def _literal_first(paths: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Sort so that for equal prefixes, literal segments beat ``{param}`` segments."""

    def key(item: tuple[str, str]) -> tuple[tuple[int, str], ...]:
        return tuple((1 if seg.startswith("{") else 0, seg) for seg in item[1].split("/"))

    return sorted(paths, key=key)


async def attachment(request: web.Request) -> web.StreamResponse:
    """Serve an uploaded attachment's bytes (the attachment ``url``)."""
    sim = request.app[SIM_KEY]
    found = sim.attachments.get(int(request.match_info["attachment_id"]))
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=found.data, content_type=found.content_type or "application/octet-stream"
    )


def build_app(sim: DiscordSimulator) -> web.Application:
    """Create the aiohttp app serving everything for one simulator."""
    app = web.Application(middlewares=[api_middleware], client_max_size=64 * 1024 * 1024)
    app[SIM_KEY] = sim
    handlers = {}
    for table in REST_MODULES:
        for route in table.routes:
            handlers[(route.method, route.path)] = route.handler
    for method, path in _literal_first(list(handlers)):
        app.router.add_route(method, API_PREFIX + path, handlers[(method, path)])
    app.router.add_get("/gateway", sim.gateway.handle)
    app.router.add_get("/gateway/", sim.gateway.handle)
    app.router.add_get("/oauth2/authorize", rest_oauth.authorize)  # the consent page
    app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", attachment)
    control.register(app)
    return app
