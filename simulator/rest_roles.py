"""REST: role create/edit/delete/positions and channel webhooks, as the bot (audited as the bot)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors, payloads
from .models import Guild, Role, Webhook
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    body_any,
    no_content,
    ok,
    require_channel_perm,
    require_guild_perm,
    sim_of,
    snowflake_param,
)

routes = APIRoutes()


def _guild(request: web.Request) -> Guild:
    return sim_of(request).world.get_guild(snowflake_param(request, "guild_id"))


def _editable_role(request: web.Request, guild: Guild) -> Role:
    """A role the bot may change: MANAGE_ROLES, below its top role, not managed/@everyone."""
    sim = sim_of(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_ROLES))
    role = sim.world.get_role(guild.id, snowflake_param(request, "role_id"))
    top = sim.world.top_position(guild, sim.world.bot_id)
    if sim.config.enforce_permissions and role.id != guild.id and role.position >= top:
        raise errors.missing_permissions()
    return role


def _role_fields(data: dict[str, Any]) -> dict[str, Any]:
    if "name" in data and not 1 <= len(str(data["name"] or "")) <= 100:
        raise errors.invalid_form("name", "Must be between 1 and 100 in length.")
    fields: dict[str, Any] = {
        k: data[k] for k in ("name", "permissions", "hoist", "mentionable") if k in data
    }
    colours = data.get("colors") or {}
    colour = data.get("color", colours.get("primary_color") if isinstance(colours, dict) else None)
    if colour is not None:
        fields["color"] = int(colour)
    return fields


@routes.post("/guilds/{guild_id}/roles")
async def create_role(request: web.Request) -> web.Response:
    """Create a role; dispatches GUILD_ROLE_CREATE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_ROLES))
    role = sim.engine.create_role(
        guild,
        _role_fields(body(request)),
        actor_id=sim.world.bot_id,
        reason=audit_reason(request),
    )
    return ok(payloads.role(role))


@routes.patch("/guilds/{guild_id}/roles/{role_id}")
async def edit_role(request: web.Request) -> web.Response:
    """Edit a role below the bot's top role; dispatches GUILD_ROLE_UPDATE."""
    sim = sim_of(request)
    guild = _guild(request)
    role = _editable_role(request, guild)
    sim.engine.update_role(
        guild,
        role,
        _role_fields(body(request)),
        actor_id=sim.world.bot_id,
        reason=audit_reason(request),
    )
    return ok(payloads.role(role))


@routes.delete("/guilds/{guild_id}/roles/{role_id}")
async def delete_role(request: web.Request) -> web.Response:
    """Delete a role below the bot's top role; dispatches GUILD_ROLE_DELETE."""
    sim = sim_of(request)
    guild = _guild(request)
    role = _editable_role(request, guild)
    if role.id == guild.id or role.managed:
        raise errors.bad_request(50028, "Invalid role")
    sim.engine.delete_role(guild, role, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return no_content()


@routes.patch("/guilds/{guild_id}/roles")
async def role_positions(request: web.Request) -> web.Response:
    """Move roles ([{id, position}]); each one that moved dispatches GUILD_ROLE_UPDATE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_ROLES))
    items = body_any(request)
    if not isinstance(items, list):
        raise errors.bad_request(50109, "The request body contains invalid JSON.")
    for item in items:
        role = sim.world.get_role(guild.id, int(item["id"]))
        position = int(item.get("position") or role.position)
        if role.position != position and role.id != guild.id:
            role.position = position
            sim.engine.dispatch(
                "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": payloads.role(role)}
            )
    ordered = sorted(guild.roles.values(), key=lambda r: r.position)
    return ok([payloads.role(r) for r in ordered])


def _webhook(sim_world_user: dict[str, Any] | None, hook: Webhook) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(hook.id),
        "type": 1,
        "guild_id": str(hook.guild_id),
        "channel_id": str(hook.channel_id),
        "name": hook.name,
        "avatar": None,
        "application_id": None,
        "token": f"token-{hook.id}",
    }
    if sim_world_user is not None:
        data["user"] = sim_world_user
    return data


@routes.post("/channels/{channel_id}/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    """Create a channel webhook (MANAGE_WEBHOOKS)."""
    sim = sim_of(request)
    channel = sim.world.get_channel(snowflake_param(request, "channel_id"))
    if channel.guild_id is None:
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    require_channel_perm(sim, channel, int(Perm.MANAGE_WEBHOOKS))
    name = str(body(request).get("name") or "")
    if not 1 <= len(name) <= 80:
        raise errors.invalid_form("name", "Must be between 1 and 80 in length.")
    guild = sim.world.guilds[channel.guild_id]
    hook = sim.engine.create_webhook(
        guild, channel.id, name, actor_id=sim.world.bot_id, reason=audit_reason(request)
    )
    return ok(_webhook(payloads.user(sim.world.users[sim.world.bot_id]), hook))


@routes.get("/guilds/{guild_id}/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    """The guild's webhooks (MANAGE_WEBHOOKS)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_WEBHOOKS))
    return ok([_webhook(None, h) for h in guild.webhooks.values()])


@routes.delete("/webhooks/{webhook_id}")
async def delete_webhook(request: web.Request) -> web.Response:
    """Delete a webhook (MANAGE_WEBHOOKS); 404 Unknown Webhook if it is gone."""
    sim = sim_of(request)
    hook_id = snowflake_param(request, "webhook_id")
    for guild in sim.world.guilds.values():
        hook = guild.webhooks.get(hook_id)
        if hook is not None:
            require_guild_perm(sim, guild, int(Perm.MANAGE_WEBHOOKS))
            sim.engine.delete_webhook(
                guild, hook, actor_id=sim.world.bot_id, reason=audit_reason(request)
            )
            return no_content()
    raise errors.unknown("webhook")
