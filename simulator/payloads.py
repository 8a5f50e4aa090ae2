"""Serialise world records into Discord API v10 JSON payloads."""

from __future__ import annotations

from typing import Any

from .models import (
    THREAD_TYPES,
    AuditLogEntry,
    Channel,
    ChannelType,
    Guild,
    Invite,
    Member,
    Message,
    Role,
    ScheduledEvent,
    User,
)
from .snowflake import iso, snowflake_time
from .world import World

JSON = dict[str, Any]


def user(u: User) -> JSON:
    """User object."""
    data: JSON = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "public_flags": u.public_flags,
        "flags": u.public_flags,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if u.bot:
        data["bot"] = True
    if u.system:
        data["system"] = True
    return data


def bot_user(u: User) -> JSON:
    """The bot's own user object, as in READY and ``/users/@me``."""
    data = user(u)
    data.update({"verified": True, "mfa_enabled": True, "email": None, "locale": "en-US"})
    data["flags"] = 0
    return data


def member(world: World, m: Member, *, with_user: bool = True) -> JSON:
    """Guild member object (``with_user=False`` for MESSAGE_CREATE's partial member)."""
    data: JSON = {
        "roles": [str(r) for r in m.roles],
        "nick": m.nick,
        "avatar": m.avatar,
        "banner": None,
        "joined_at": iso(m.joined_at),
        "premium_since": iso(m.premium_since),
        "deaf": m.deaf,
        "mute": m.mute,
        "pending": m.pending,
        "flags": m.flags,
        "communication_disabled_until": iso(m.communication_disabled_until),
    }
    if with_user:
        data["user"] = user(world.users[m.user_id])
    return data


def role(r: Role) -> JSON:
    """Role object."""
    data: JSON = {
        "id": str(r.id),
        "name": r.name,
        "color": r.color,
        "colors": {"primary_color": r.color, "secondary_color": None, "tertiary_color": None},
        "hoist": r.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": r.flags,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    return data


def channel(world: World, c: Channel) -> JSON:
    """Channel object for any channel type (guild channel, thread or DM)."""
    if c.type == ChannelType.DM:
        return {
            "id": str(c.id),
            "type": int(c.type),
            "last_message_id": _opt(c.last_message_id),
            "flags": c.flags,
            "recipients": [user(world.users[u]) for u in c.recipient_ids],
        }
    data: JSON = {
        "id": str(c.id),
        "type": int(c.type),
        "guild_id": str(c.guild_id),
        "name": c.name,
        "parent_id": _opt(c.parent_id),
        "nsfw": c.nsfw,
        "flags": c.flags,
        "rate_limit_per_user": c.rate_limit_per_user,
        "last_message_id": _opt(c.last_message_id),
    }
    if c.type in THREAD_TYPES:
        data.update(thread_fields(c))
        return data
    data.update(
        {
            "position": c.position,
            "permission_overwrites": [
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in c.overwrites
            ],
        }
    )
    if c.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM):
        data["topic"] = c.topic
        data["default_auto_archive_duration"] = 1440
        data["default_thread_rate_limit_per_user"] = 0
    if c.type == ChannelType.GUILD_FORUM:
        data.update(
            {"available_tags": [], "default_reaction_emoji": None, "default_sort_order": None}
        )
        data["default_forum_layout"] = 0
    if c.type in (ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE):
        data.update({"bitrate": c.bitrate, "user_limit": c.user_limit, "rtc_region": None})
    return data


def thread_fields(c: Channel) -> JSON:
    """Thread-only channel fields."""
    return {
        "owner_id": _opt(c.owner_id),
        "member_count": min(len(c.thread_members), 50),
        "message_count": c.message_count,
        "total_message_sent": c.total_message_sent,
        "thread_metadata": {
            "archived": c.archived,
            "auto_archive_duration": c.auto_archive_duration,
            "archive_timestamp": iso(c.archive_timestamp or c.created_at),
            "locked": c.locked,
            "invitable": c.invitable,
            "create_timestamp": iso(c.created_at),
        },
        "applied_tags": [],
    }


def thread_member(world: World, c: Channel, user_id: int, *, with_member: bool = False) -> JSON:
    """Thread member object."""
    data: JSON = {
        "id": str(c.id),
        "user_id": str(user_id),
        "join_timestamp": iso(c.thread_members[user_id]),
        "flags": 0,
    }
    if with_member and c.guild_id is not None:
        m = world.guilds[c.guild_id].members.get(user_id)
        if m is not None:
            data["member"] = member(world, m)
    return data


def message(world: World, m: Message, *, depth: int = 0) -> JSON:
    """Message object; gateway extras (guild_id, member) are included when in a guild."""
    author = world.users[m.author_id]
    data: JSON = {
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "type": m.type,
        "content": m.content,
        "author": user(author),
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "size": len(a.data),
                "url": a.url,
                "proxy_url": a.url,
                "content_type": a.content_type,
            }
            for a in m.attachments
        ],
        "embeds": m.embeds,
        "mentions": [_mention(world, m.guild_id, u) for u in m.mention_ids if u in world.users],
        "mention_roles": [str(r) for r in m.mention_role_ids],
        "mention_everyone": m.mention_everyone,
        "pinned": m.pinned,
        "tts": m.tts,
        "timestamp": iso(m.timestamp or snowflake_time(m.id)),
        "edited_timestamp": iso(m.edited_timestamp),
        "flags": m.flags,
        "components": m.components,
    }
    if m.guild_id is not None:
        data["guild_id"] = str(m.guild_id)
        gm = world.guilds[m.guild_id].members.get(m.author_id)
        if gm is not None and m.webhook_id is None:
            data["member"] = member(world, gm, with_user=False)
    if m.nonce is not None:
        data["nonce"] = m.nonce
    if m.reactions:
        data["reactions"] = [
            {
                "emoji": r.emoji,
                "count": len(r.user_ids),
                "count_details": {"burst": 0, "normal": len(r.user_ids)},
                "me": world.bot_id in r.user_ids,
                "me_burst": False,
                "burst_colors": [],
            }
            for r in m.reactions.values()
            if r.user_ids
        ]
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        data["application_id"] = str(m.application_id)
    if m.interaction_metadata is not None:
        data["interaction_metadata"] = m.interaction_metadata
    if m.poll is not None:
        data["poll"] = m.poll
    if m.reference is not None:
        data["message_reference"] = m.reference
        if depth == 0 and m.type == 19:
            ref_id = int(m.reference.get("message_id", 0))
            ref_channel = world.messages.get(int(m.reference.get("channel_id", m.channel_id)), {})
            ref = ref_channel.get(ref_id)
            data["referenced_message"] = message(world, ref, depth=1) if ref else None
    if m.thread_id is not None and m.thread_id in world.channels:
        data["thread"] = channel(world, world.channels[m.thread_id])
    return data


def _mention(world: World, guild_id: int | None, user_id: int) -> JSON:
    data = user(world.users[user_id])
    if guild_id is not None:
        gm = world.guilds[guild_id].members.get(user_id)
        if gm is not None:
            data["member"] = member(world, gm, with_user=False)
    return data


def guild(world: World, g: Guild, *, counts: bool = False) -> JSON:
    """Guild object (REST shape / GUILD_UPDATE)."""
    data: JSON = {
        "id": str(g.id),
        "name": g.name,
        "icon": g.icon,
        "icon_hash": g.icon,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": g.afk_timeout,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": g.verification_level,
        "default_message_notifications": g.default_message_notifications,
        "explicit_content_filter": g.explicit_content_filter,
        "roles": [role(r) for r in sorted(g.roles.values(), key=lambda r: r.position)],
        "emojis": [],
        "stickers": [],
        "features": list(g.features),
        "mfa_level": g.mfa_level,
        "application_id": None,
        "system_channel_id": _opt(g.system_channel_id),
        "system_channel_flags": 0,
        "rules_channel_id": _opt(g.rules_channel_id),
        "public_updates_channel_id": _opt(g.public_updates_channel_id),
        "safety_alerts_channel_id": _opt(g.safety_alerts_channel_id),
        "max_members": 500000,
        "max_presences": None,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "vanity_url_code": None,
        "description": g.description,
        "premium_tier": g.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": g.preferred_locale,
        "nsfw_level": g.nsfw_level,
        "premium_progress_bar_enabled": False,
        "incidents_data": incidents(g),
    }
    if counts:
        data["approximate_member_count"] = len(g.members)
        data["approximate_presence_count"] = len(g.members)
    return data


def incidents(g: Guild) -> JSON | None:
    """The guild's ``incidents_data`` (None when nothing is active)."""
    values = (g.invites_disabled_until, g.dms_disabled_until, g.raid_detected_at)
    if not any(values) and g.dm_spam_detected_at is None:
        return None
    return {
        "invites_disabled_until": iso(g.invites_disabled_until),
        "dms_disabled_until": iso(g.dms_disabled_until),
        "dm_spam_detected_at": iso(g.dm_spam_detected_at),
        "raid_detected_at": iso(g.raid_detected_at),
    }


def guild_create(world: World, g: Guild, *, include_members: bool, bot_id: int) -> JSON:
    """Full GUILD_CREATE payload (members limited unless presences intent is on)."""
    data = guild(world, g)
    members = list(g.members.values())
    if not include_members:
        members = [m for m in members if m.user_id == bot_id]
    channels = [world.channels[c] for c in g.channel_ids]
    bot_member = g.members.get(bot_id)
    data.update(
        {
            "joined_at": iso(bot_member.joined_at if bot_member else g.created_at),
            "large": len(g.members) >= 250,
            "unavailable": False,
            "member_count": len(g.members),
            "voice_states": list(g.voice_states.values()),
            "members": [member(world, m) for m in members],
            "channels": [channel(world, c) for c in channels if not c.is_thread],
            "threads": [channel(world, c) for c in channels if c.is_thread and not c.archived],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [
                scheduled_event(world, e) for e in g.scheduled_events.values()
            ],
            "soundboard_sounds": [],
            "lazy": True,
            "application_command_counts": {},
        }
    )
    return data


def invite(world: World, inv: Invite, *, metadata: bool = True) -> JSON:
    """Invite object (with metadata, as ``GET /guilds/{id}/invites`` returns)."""
    g = world.guilds[inv.guild_id]
    c = world.channels.get(inv.channel_id)
    data: JSON = {
        "type": 0,
        "code": inv.code,
        "guild": {
            "id": str(g.id),
            "name": g.name,
            "splash": None,
            "banner": None,
            "description": g.description,
            "icon": g.icon,
            "features": list(g.features),
            "verification_level": g.verification_level,
            "vanity_url_code": None,
            "nsfw_level": g.nsfw_level,
            "premium_subscription_count": 0,
        },
        "channel": {"id": str(inv.channel_id), "name": c.name if c else None, "type": 0},
        "expires_at": None,
    }
    if inv.inviter_id is not None and inv.inviter_id in world.users:
        data["inviter"] = user(world.users[inv.inviter_id])
    if metadata:
        data.update(
            {
                "uses": inv.uses,
                "max_uses": inv.max_uses,
                "max_age": inv.max_age,
                "temporary": inv.temporary,
                "created_at": iso(inv.created_at),
            }
        )
    return data


def scheduled_event(world: World, e: ScheduledEvent, *, user_count: bool = False) -> JSON:
    """Guild scheduled event object."""
    data: JSON = {
        "id": str(e.id),
        "guild_id": str(e.guild_id),
        "channel_id": _opt(e.channel_id),
        "creator_id": _opt(e.creator_id),
        "name": e.name,
        "description": e.description,
        "scheduled_start_time": iso(e.scheduled_start_time),
        "scheduled_end_time": iso(e.scheduled_end_time),
        "privacy_level": e.privacy_level,
        "status": e.status,
        "entity_type": e.entity_type,
        "entity_id": None,
        "entity_metadata": {"location": e.location} if e.location else None,
        "image": e.image,
        "recurrence_rule": e.recurrence_rule,
    }
    if e.creator_id is not None and e.creator_id in world.users:
        data["creator"] = user(world.users[e.creator_id])
    if user_count:
        data["user_count"] = len(e.subscriber_ids)
    return data


def audit_entry(a: AuditLogEntry) -> JSON:
    """Audit log entry object."""
    data: JSON = {
        "id": str(a.id),
        "action_type": a.action_type,
        "user_id": _opt(a.user_id),
        "target_id": _opt(a.target_id),
        "reason": a.reason,
        "changes": a.changes,
    }
    if a.options is not None:
        data["options"] = a.options
    return data


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)
