"""REST: guild members (fetch, list, edit incl. timeouts, roles, kick) and bans."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from . import errors, payloads
from .models import Guild
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    int_query,
    no_content,
    ok,
    require_above,
    require_guild_perm,
    sim_of,
    snowflake_param,
)
from .snowflake import parse_iso, utcnow

routes = APIRoutes()

MAX_TIMEOUT = timedelta(days=28)
MAX_DELETE_SECONDS = 604_800


def _guild(request: web.Request) -> Guild:
    return sim_of(request).world.get_guild(snowflake_param(request, "guild_id"))


def _user_param(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    if raw == "@me":
        return sim_of(request).world.bot_id
    return snowflake_param(request, "user_id")


@routes.get("/guilds/{guild_id}/members/search")
async def search_members(request: web.Request) -> web.Response:
    """Members whose username or nickname starts with ``query``."""
    sim = sim_of(request)
    guild = _guild(request)
    query = request.query.get("query")
    if query is None:
        raise errors.invalid_form("query", "This field is required", "BASE_TYPE_REQUIRED")
    limit = int_query(request, "limit", 1, 1, 1000)
    needle = query.lower()
    found = [
        m
        for m in guild.members.values()
        if sim.world.users[m.user_id].username.lower().startswith(needle)
        or (m.nick or "").lower().startswith(needle)
    ][:limit]
    return ok([payloads.member(sim.world, m) for m in found])


@routes.get("/guilds/{guild_id}/members/{user_id}")
async def get_member(request: web.Request) -> web.Response:
    """One member (404 10007 Unknown Member)."""
    sim = sim_of(request)
    guild = _guild(request)
    member = sim.world.get_member(guild.id, _user_param(request))
    return ok(payloads.member(sim.world, member))


@routes.get("/guilds/{guild_id}/members")
async def list_members(request: web.Request) -> web.Response:
    """Members sorted by user id, paginated by ``after`` (limit 1-1000, default 1)."""
    sim = sim_of(request)
    guild = _guild(request)
    limit = int_query(request, "limit", 1, 1, 1000)
    after = int(request.query.get("after", "0") or 0)
    members = sorted(
        (m for m in guild.members.values() if m.user_id > after), key=lambda m: m.user_id
    )
    return ok([payloads.member(sim.world, m) for m in members[:limit]])


@routes.patch("/guilds/{guild_id}/members/{user_id}")
async def edit_member(request: web.Request) -> web.Response:
    """Edit nick, roles, timeout (communication_disabled_until), mute/deaf."""
    sim = sim_of(request)
    world = sim.world
    guild = _guild(request)
    user_id = _user_param(request)
    member = world.get_member(guild.id, user_id)
    data = body(request)
    kwargs: dict[str, Any] = {}
    if "nick" in data:
        if user_id != world.bot_id:
            require_guild_perm(sim, guild, int(Perm.MANAGE_NICKNAMES))
            require_above(sim, guild, user_id)
        nick = data["nick"]
        if nick is not None and len(str(nick)) > 32:
            raise errors.invalid_form(
                "nick", "Must be 32 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )
        kwargs["nick"] = nick or None
    if "roles" in data and data["roles"] is not None:
        require_guild_perm(sim, guild, int(Perm.MANAGE_ROLES))
        roles = [int(r) for r in data["roles"]]
        _check_assignable(request, guild, set(roles) ^ set(member.roles))
        kwargs["roles"] = roles
    if "communication_disabled_until" in data:
        require_guild_perm(sim, guild, int(Perm.MODERATE_MEMBERS))
        _check_timeout_target(request, guild, user_id)
        until = _parse_until(data["communication_disabled_until"])
        kwargs["timeout_until"] = until
    for key in ("mute", "deaf"):
        if key in data:
            require_guild_perm(
                sim, guild, int(Perm.MUTE_MEMBERS if key == "mute" else Perm.DEAFEN_MEMBERS)
            )
            kwargs[key] = bool(data[key])
    sim.engine.update_member(
        guild, member, actor_id=world.bot_id, reason=audit_reason(request), **kwargs
    )
    return ok(payloads.member(world, member))


def _parse_until(raw: Any) -> Any:
    if raw is None:
        return None
    try:
        until = parse_iso(str(raw))
    except ValueError:
        raise errors.invalid_form(
            "communication_disabled_until", "Could not parse timestamp.", "DATE_TIME_TYPE_PARSE"
        ) from None
    assert until is not None
    if until - utcnow() > MAX_TIMEOUT + timedelta(seconds=5):
        raise errors.invalid_form(
            "communication_disabled_until",
            "Cannot time out a member for more than 28 days.",
            "COMMUNICATION_DISABLED_TIMESTAMP_TOO_LARGE",
        )
    return until if until > utcnow() else None


def _check_timeout_target(request: web.Request, guild: Guild, user_id: int) -> None:
    sim = sim_of(request)
    if not sim.config.enforce_permissions:
        return
    if user_id == sim.world.bot_id or user_id == guild.owner_id:
        raise errors.missing_permissions()
    if sim.world.base_permissions(guild, user_id) & Perm.ADMINISTRATOR:
        raise errors.missing_permissions()
    require_above(sim, guild, user_id)


def _check_assignable(request: web.Request, guild: Guild, role_ids: set[int]) -> None:
    sim = sim_of(request)
    for role_id in role_ids:
        role = sim.world.get_role(guild.id, role_id)
        if role.managed or role.id == guild.id:
            raise errors.missing_permissions()
        if sim.config.enforce_permissions and role.position >= sim.world.top_position(
            guild, sim.world.bot_id
        ):
            raise errors.missing_permissions()


@routes.put("/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_role(request: web.Request) -> web.Response:
    """Give a member a role; dispatches GUILD_MEMBER_UPDATE."""
    return _change_role(request, add=True)


@routes.delete("/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_role(request: web.Request) -> web.Response:
    """Take a role from a member; dispatches GUILD_MEMBER_UPDATE."""
    return _change_role(request, add=False)


def _change_role(request: web.Request, *, add: bool) -> web.Response:
    sim = sim_of(request)
    guild = _guild(request)
    member = sim.world.get_member(guild.id, _user_param(request))
    role_id = snowflake_param(request, "role_id")
    require_guild_perm(sim, guild, int(Perm.MANAGE_ROLES))
    _check_assignable(request, guild, {role_id})
    roles = [r for r in member.roles if r != role_id] + ([role_id] if add else [])
    sim.engine.update_member(
        guild, member, actor_id=sim.world.bot_id, reason=audit_reason(request), roles=roles
    )
    return no_content()


@routes.delete("/guilds/{guild_id}/members/{user_id}")
async def kick(request: web.Request) -> web.Response:
    """Kick a member; dispatches GUILD_MEMBER_REMOVE."""
    sim = sim_of(request)
    guild = _guild(request)
    user_id = _user_param(request)
    sim.world.get_member(guild.id, user_id)
    if user_id != sim.world.bot_id:
        require_guild_perm(sim, guild, int(Perm.KICK_MEMBERS))
        if user_id == guild.owner_id:
            raise errors.missing_permissions()
        require_above(sim, guild, user_id)
    sim.engine.kick(guild, user_id, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return no_content()


# ----------------------------------------------------------------------------- bans


def _ban_payload(request: web.Request, guild: Guild, user_id: int) -> dict[str, Any]:
    sim = sim_of(request)
    ban = guild.bans[user_id]
    return {"reason": ban.reason, "user": payloads.user(sim.world.users[user_id])}


def _delete_seconds(request: web.Request, data: dict[str, Any]) -> int:
    raw = data.get("delete_message_seconds", request.query.get("delete_message_seconds"))
    if raw is None and "delete_message_days" in data:
        raw = int(data["delete_message_days"]) * 86400
    try:
        seconds = int(raw or 0)
    except (TypeError, ValueError):
        raise errors.invalid_form("delete_message_seconds", "Value is not int.") from None
    if not 0 <= seconds <= MAX_DELETE_SECONDS:
        raise errors.invalid_form(
            "delete_message_seconds", "int value should be between 0 and 604800."
        )
    return seconds


@routes.get("/guilds/{guild_id}/bans")
async def list_bans(request: web.Request) -> web.Response:
    """Bans sorted by user id (limit/before/after)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.BAN_MEMBERS))
    limit = int_query(request, "limit", 1000, 1, 1000)
    ids = sorted(guild.bans)
    if "after" in request.query:
        ids = [u for u in ids if u > int(request.query["after"])]
    if "before" in request.query:
        ids = [u for u in ids if u < int(request.query["before"])][-limit:]
    return ok([_ban_payload(request, guild, u) for u in ids[:limit]])


@routes.get("/guilds/{guild_id}/bans/{user_id}")
async def get_ban(request: web.Request) -> web.Response:
    """One ban (404 10026 Unknown Ban)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.BAN_MEMBERS))
    user_id = snowflake_param(request, "user_id")
    if user_id not in guild.bans:
        raise errors.unknown("ban")
    return ok(_ban_payload(request, guild, user_id))


@routes.put("/guilds/{guild_id}/bans/{user_id}")
async def ban(request: web.Request) -> web.Response:
    """Ban a user (optionally purging recent messages); GUILD_BAN_ADD + MEMBER_REMOVE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.BAN_MEMBERS))
    user_id = snowflake_param(request, "user_id")
    sim.world.get_user(user_id)
    if user_id in (guild.owner_id, sim.world.bot_id):
        raise errors.missing_permissions()
    require_above(sim, guild, user_id)
    seconds = _delete_seconds(request, body(request))
    sim.engine.ban(
        guild,
        user_id,
        actor_id=sim.world.bot_id,
        reason=audit_reason(request),
        delete_message_seconds=seconds,
    )
    return no_content()


@routes.delete("/guilds/{guild_id}/bans/{user_id}")
async def unban(request: web.Request) -> web.Response:
    """Lift a ban; dispatches GUILD_BAN_REMOVE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.BAN_MEMBERS))
    user_id = snowflake_param(request, "user_id")
    if user_id not in guild.bans:
        raise errors.unknown("ban")
    sim.engine.unban(guild, user_id, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return no_content()


@routes.post("/guilds/{guild_id}/bulk-ban")
async def bulk_ban(request: web.Request) -> web.Response:
    """Ban up to 200 users; returns banned_users and failed_users."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.BAN_MEMBERS | Perm.MANAGE_GUILD))
    data = body(request)
    user_ids = data.get("user_ids")
    if not isinstance(user_ids, list) or not 1 <= len(user_ids) <= 200:
        raise errors.invalid_form("user_ids", "Must be between 1 and 200 in length.")
    seconds = _delete_seconds(request, data)
    reason = audit_reason(request)
    banned: list[str] = []
    failed: list[str] = []
    for raw in dict.fromkeys(str(u) for u in user_ids):
        user_id = int(raw) if raw.isdigit() else 0
        hierarchy_ok = user_id not in guild.members or sim.world.can_moderate(
            guild, sim.world.bot_id, user_id
        )
        if (
            user_id not in sim.world.users
            or user_id in guild.bans
            or user_id in (guild.owner_id, sim.world.bot_id)
            or (sim.config.enforce_permissions and not hierarchy_ok)
        ):
            failed.append(raw)
            continue
        sim.engine.ban(
            guild,
            user_id,
            actor_id=sim.world.bot_id,
            reason=reason,
            delete_message_seconds=seconds,
        )
        banned.append(raw)
    if not banned:
        raise errors.DiscordAPIError(400, 500000, "Failed to ban users")
    return ok({"banned_users": banned, "failed_users": failed})
