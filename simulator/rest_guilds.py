"""REST: guild settings, incident actions, channels list/create, roles, invites, audit log."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from . import errors, payloads
from .models import Channel, ChannelType, Guild, Overwrite
from .permissions import Perm
from .rest_common import (
    APIRoutes,
    audit_reason,
    body,
    int_query,
    ok,
    require_channel_perm,
    require_guild_perm,
    sim_of,
    snowflake_param,
)
from .snowflake import parse_iso, utcnow

routes = APIRoutes()

_RANGES = {
    "verification_level": (0, 4),
    "default_message_notifications": (0, 1),
    "explicit_content_filter": (0, 2),
}
_CREATABLE_TYPES = {0, 2, 4, 5, 13, 15}


def _guild(request: web.Request) -> Guild:
    return sim_of(request).world.get_guild(snowflake_param(request, "guild_id"))


@routes.get("/guilds/{guild_id}")
async def get_guild(request: web.Request) -> web.Response:
    """Guild object (``with_counts`` adds approximate counts)."""
    sim = sim_of(request)
    guild = _guild(request)
    counts = request.query.get("with_counts", "false").lower() in ("1", "true")
    return ok(payloads.guild(sim.world, guild, counts=counts))


@routes.patch("/guilds/{guild_id}")
async def edit_guild(request: web.Request) -> web.Response:
    """Edit settings such as verification_level; dispatches GUILD_UPDATE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_GUILD))
    data = body(request)
    for key, (lo, hi) in _RANGES.items():
        if key in data and (not isinstance(data[key], int) or not lo <= data[key] <= hi):
            raise errors.invalid_form(key, f"Value must be one of {list(range(lo, hi + 1))}.")
    if "name" in data and not 2 <= len(str(data["name"] or "")) <= 100:
        raise errors.invalid_form("name", "Must be between 2 and 100 in length.")
    for key in ("system_channel_id", "rules_channel_id", "public_updates_channel_id"):
        value = data.get(key)
        if value is not None and int(value) not in guild.channel_ids:
            raise errors.invalid_form(key, "Unknown channel", "CHANNEL_INVALID")
    sim.engine.update_guild(guild, data, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return ok(payloads.guild(sim.world, guild))


@routes.put("/guilds/{guild_id}/incident-actions")
async def incident_actions(request: web.Request) -> web.Response:
    """Pause invites and/or DMs for up to 24 hours (null lifts the pause)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_GUILD))
    data = body(request)
    values = {
        "invites_disabled_until": guild.invites_disabled_until,
        "dms_disabled_until": guild.dms_disabled_until,
    }
    for key in values:
        if key not in data:
            continue
        if data[key] is None:
            values[key] = None
            continue
        try:
            moment = parse_iso(str(data[key]))
        except ValueError:
            raise errors.invalid_form(
                key, "Could not parse timestamp.", "DATE_TIME_TYPE_PARSE"
            ) from None
        if moment is not None and moment - utcnow() > timedelta(hours=24, seconds=5):
            raise errors.invalid_form(key, "Cannot be more than 24 hours in the future.")
        values[key] = moment if moment and moment > utcnow() else None
    sim.engine.set_incident_actions(
        guild, values["invites_disabled_until"], values["dms_disabled_until"]
    )
    incidents = payloads.incidents(guild) or {
        "invites_disabled_until": None,
        "dms_disabled_until": None,
        "dm_spam_detected_at": None,
        "raid_detected_at": None,
    }
    return ok(incidents)


@routes.get("/guilds/{guild_id}/channels")
async def list_channels(request: web.Request) -> web.Response:
    """Guild channels (threads excluded, like Discord)."""
    sim = sim_of(request)
    guild = _guild(request)
    channels = [c for c in sim.world.guild_channels(guild.id) if not c.is_thread]
    return ok([payloads.channel(sim.world, c) for c in channels])


@routes.post("/guilds/{guild_id}/channels")
async def create_channel(request: web.Request) -> web.Response:
    """Create a guild channel; dispatches CHANNEL_CREATE."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_CHANNELS))
    data = body(request)
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise errors.invalid_form("name", "Must be between 1 and 100 in length.")
    kind = int(data.get("type") or 0)
    if kind not in _CREATABLE_TYPES:
        raise errors.invalid_form("type", "Value must be a valid channel type.")
    parent_id = data.get("parent_id")
    if parent_id is not None:
        parent = sim.world.channels.get(int(parent_id))
        if (
            parent is None
            or parent.type != ChannelType.GUILD_CATEGORY
            or parent.guild_id != guild.id
        ):
            raise errors.invalid_form("parent_id", "Not a category", "CHANNEL_PARENT_INVALID")
    slowmode = int(data.get("rate_limit_per_user") or 0)
    if not 0 <= slowmode <= 21600:
        raise errors.invalid_form("rate_limit_per_user", "int value should be between 0 and 21600.")
    channel = Channel(
        id=sim.world.new_id(),
        type=ChannelType(kind),
        guild_id=guild.id,
        name=name if kind in (2, 4, 13) else name.lower().replace(" ", "-"),
        position=int(data.get("position") or len(guild.channel_ids)),
        parent_id=int(parent_id) if parent_id is not None else None,
        topic=data.get("topic"),
        nsfw=bool(data.get("nsfw", False)),
        rate_limit_per_user=slowmode,
        overwrites=[
            Overwrite(
                int(o["id"]), int(o.get("type", 0)), int(o.get("allow", 0)), int(o.get("deny", 0))
            )
            for o in data.get("permission_overwrites") or []
        ],
        bitrate=int(data.get("bitrate") or 64000),
        user_limit=int(data.get("user_limit") or 0),
    )
    sim.engine.create_channel(
        guild, channel, actor_id=sim.world.bot_id, reason=audit_reason(request)
    )
    return ok(payloads.channel(sim.world, channel), status=201)


@routes.get("/guilds/{guild_id}/roles")
async def list_roles(request: web.Request) -> web.Response:
    """Guild roles, lowest first."""
    guild = _guild(request)
    return ok([payloads.role(r) for r in sorted(guild.roles.values(), key=lambda r: r.position)])


@routes.get("/guilds/{guild_id}/roles/{role_id}")
async def get_role(request: web.Request) -> web.Response:
    """One role."""
    sim = sim_of(request)
    guild = _guild(request)
    return ok(payloads.role(sim.world.get_role(guild.id, snowflake_param(request, "role_id"))))


@routes.get("/guilds/{guild_id}/invites")
async def list_invites(request: web.Request) -> web.Response:
    """Active invites with metadata (MANAGE_GUILD)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.MANAGE_GUILD))
    return ok([payloads.invite(sim.world, i) for i in guild.invites.values()])


def _find_invite(request: web.Request) -> tuple[Guild, str]:
    sim = sim_of(request)
    code = request.match_info["invite_code"]
    for guild in sim.world.guilds.values():
        if code in guild.invites:
            return guild, code
    raise errors.unknown("invite")


@routes.get("/invites/{invite_code}")
async def get_invite(request: web.Request) -> web.Response:
    """Resolve an invite code (no metadata)."""
    sim = sim_of(request)
    guild, code = _find_invite(request)
    data = payloads.invite(sim.world, guild.invites[code], metadata=False)
    if request.query.get("with_counts", "false").lower() in ("1", "true"):
        data["approximate_member_count"] = len(guild.members)
        data["approximate_presence_count"] = len(guild.members)
    return ok(data)


@routes.delete("/invites/{invite_code}")
async def delete_invite(request: web.Request) -> web.Response:
    """Revoke an invite; dispatches INVITE_DELETE and returns the invite."""
    sim = sim_of(request)
    guild, code = _find_invite(request)
    invite = guild.invites[code]
    channel = sim.world.channels.get(invite.channel_id)
    base = sim.world.base_permissions(guild, sim.world.bot_id)
    if sim.config.enforce_permissions and not base & Perm.MANAGE_GUILD:
        if channel is None:
            raise errors.missing_permissions()
        require_channel_perm(sim, channel, int(Perm.MANAGE_CHANNELS))
    data = payloads.invite(sim.world, invite, metadata=False)
    sim.engine.delete_invite(guild, code, actor_id=sim.world.bot_id, reason=audit_reason(request))
    return ok(data)


@routes.post("/channels/{channel_id}/invites")
async def create_invite(request: web.Request) -> web.Response:
    """Create an invite; dispatches INVITE_CREATE (blocked while invites are paused)."""
    sim = sim_of(request)
    channel = sim.world.get_channel(snowflake_param(request, "channel_id"))
    if channel.guild_id is None:
        raise errors.bad_request(50024, "Cannot execute action on this channel type")
    guild = sim.world.guilds[channel.guild_id]
    require_channel_perm(sim, channel, int(Perm.CREATE_INSTANT_INVITE))
    if guild.invites_disabled_until and guild.invites_disabled_until > utcnow():
        raise errors.DiscordAPIError(403, 40069, "Invites are currently paused for this server.")
    data = body(request)
    invite = sim.engine.create_invite(
        guild,
        channel,
        inviter_id=sim.world.bot_id,
        max_age=int(data.get("max_age", 86400)),
        max_uses=int(data.get("max_uses", 0)),
        temporary=bool(data.get("temporary", False)),
        reason=audit_reason(request),
    )
    return ok(payloads.invite(sim.world, invite))


@routes.get("/guilds/{guild_id}/audit-logs")
async def audit_logs(request: web.Request) -> web.Response:
    """Audit log entries newest first (user_id/action_type/before/after/limit)."""
    sim = sim_of(request)
    guild = _guild(request)
    require_guild_perm(sim, guild, int(Perm.VIEW_AUDIT_LOG))
    limit = int_query(request, "limit", 50, 1, 100)
    entries = list(reversed(guild.audit_log))
    query = request.query
    if "user_id" in query:
        entries = [e for e in entries if e.user_id == int(query["user_id"])]
    if "action_type" in query:
        entries = [e for e in entries if e.action_type == int(query["action_type"])]
    if "before" in query:
        entries = [e for e in entries if e.id < int(query["before"])]
    if "after" in query:
        entries = [e for e in entries if e.id > int(query["after"])][::-1][:limit][::-1]
    entries = entries[:limit]
    user_ids = {e.user_id for e in entries} | {e.target_id for e in entries}
    users = [payloads.user(sim.world.users[u]) for u in user_ids if u in sim.world.users]
    return ok(
        {
            "audit_log_entries": [payloads.audit_entry(e) for e in entries],
            "users": users,
            "integrations": [],
            "webhooks": [],
            "threads": [],
            "application_commands": [],
            "auto_moderation_rules": [],
            "guild_scheduled_events": [
                payloads.scheduled_event(sim.world, e) for e in guild.scheduled_events.values()
            ],
        }
    )
