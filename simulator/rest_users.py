"""REST: the bot's identity, its application, gateway discovery and DM channels."""

from __future__ import annotations

from aiohttp import web

from . import errors, payloads, rest_oauth
from .rest_common import APIRoutes, body, ok, sim_of, snowflake_param

routes = APIRoutes()


@routes.get("/users/@me")
async def get_me(request: web.Request) -> web.Response:
    """Current bot user (discord.py's static login), or the user of an OAuth2 bearer token."""
    if (user_id := rest_oauth.bearer_user(request)) is not None:
        return rest_oauth.user_me(request, user_id)
    sim = sim_of(request)
    return ok(payloads.bot_user(sim.world.users[sim.world.bot_id]))


@routes.get("/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    """Any user by id."""
    sim = sim_of(request)
    return ok(payloads.user(sim.world.get_user(snowflake_param(request, "user_id"))))


@routes.get("/users/@me/guilds")
async def my_guilds(request: web.Request) -> web.Response:
    """Partial guilds the bot is in (or an OAuth2 bearer token's user is in)."""
    if (user_id := rest_oauth.bearer_user(request)) is not None:
        return rest_oauth.user_guilds(request, user_id)
    sim = sim_of(request)
    world = sim.world
    return ok(
        [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": g.icon,
                "banner": None,
                "owner": False,
                "permissions": str(world.base_permissions(g, world.bot_id)),
                "features": list(g.features),
            }
            for g in world.guilds.values()
            if world.bot_id in g.members
        ]
    )


def _application(request: web.Request) -> dict[str, object]:
    sim = sim_of(request)
    world = sim.world
    bot = world.users[world.bot_id]
    return {
        "id": str(world.application_id),
        "name": bot.global_name or bot.username,
        "icon": None,
        "description": "Discord Community Suite (simulated application)",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": payloads.user(world.users[world.owner_id]),
        "team": None,
        "flags": 0,
        "bot": payloads.user(bot),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "tags": [],
        "approximate_guild_count": len(world.guilds),
    }


@routes.get("/oauth2/applications/@me")
async def oauth_application(request: web.Request) -> web.Response:
    """Application info (discord.py calls this during login)."""
    return ok(_application(request))


@routes.get("/applications/@me")
async def application(request: web.Request) -> web.Response:
    """Application info."""
    return ok(_application(request))


@routes.get("/gateway")
async def gateway(request: web.Request) -> web.Response:
    """Gateway URL (no auth needed)."""
    return ok({"url": sim_of(request).gateway_url})


GUILDS_PER_RECOMMENDED_SHARD = 1000  # Discord recommends about one shard per 1,000 guilds


@routes.get("/gateway/bot")
async def gateway_bot(request: web.Request) -> web.Response:
    """Gateway URL, recommended shards and session start limits."""
    sim = sim_of(request)
    shards = sim.config.recommended_shards
    if shards is None:
        joined = sum(1 for g in sim.world.guilds.values() if sim.world.bot_id in g.members)
        shards = max(1, -(-joined // GUILDS_PER_RECOMMENDED_SHARD))
    return ok(
        {
            "url": sim.gateway_url,
            "shards": shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }
    )


@routes.post("/users/@me/channels")
async def create_dm(request: web.Request) -> web.Response:
    """Open (or return the existing) DM channel with a user."""
    sim = sim_of(request)
    data = body(request)
    recipient = data.get("recipient_id")
    if recipient is None or not str(recipient).isdigit():
        raise errors.invalid_form("recipient_id", "This field is required", "BASE_TYPE_REQUIRED")
    user = sim.world.get_user(int(recipient))
    channel = sim.world.dm_channel(user.id)
    return ok(payloads.channel(sim.world, channel))
