"""Message and reaction operations: change state, then dispatch like Discord."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from . import payloads
from .engine_base import AuditAction, EngineBase
from .models import Attachment, Channel, Guild, Message, Reaction
from .permissions import Perm
from .snowflake import snowflake_time, utcnow

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def parse_emoji(raw: str) -> tuple[str, dict[str, Any]]:
    """Turn a route emoji (``👍`` or ``name:id``) into (key, emoji object)."""
    parts = raw.split(":")
    if len(parts) >= 2 and parts[-1].isdigit():
        animated = parts[0] == "a" and len(parts) == 3
        name = parts[-2]
        return parts[-1], {"id": parts[-1], "name": name, "animated": animated}
    return raw, {"id": None, "name": raw}


class MessageOps(EngineBase):
    """Create, edit and delete messages; add and remove reactions."""

    def compute_mentions(
        self,
        message: Message,
        author_id: int,
        allowed_mentions: dict[str, Any] | None,
    ) -> None:
        """Fill a message's mention fields from its content and ``allowed_mentions``."""
        world = self.world
        parse = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
        replied_user = True
        if allowed_mentions is not None:
            parse = set(allowed_mentions.get("parse") or [])
            allowed_users = {int(u) for u in allowed_mentions.get("users") or []}
            allowed_roles = {int(r) for r in allowed_mentions.get("roles") or []}
            replied_user = bool(allowed_mentions.get("replied_user", False))
        users = [int(u) for u in _USER_MENTION.findall(message.content)]
        message.mention_ids = [
            u
            for u in dict.fromkeys(users)
            if u in world.users and ("users" in parse or u in allowed_users)
        ]
        guild = world.guilds.get(message.guild_id or 0)
        roles = [int(r) for r in _ROLE_MENTION.findall(message.content)]
        message.mention_role_ids = [
            r
            for r in dict.fromkeys(roles)
            if guild is not None and r in guild.roles and ("roles" in parse or r in allowed_roles)
        ]
        everyone = "@everyone" in message.content or "@here" in message.content
        can_everyone = guild is None or bool(
            world.channel_permissions(world.channels[message.channel_id], author_id)
            & Perm.MENTION_EVERYONE
        )
        message.mention_everyone = everyone and "everyone" in parse and can_everyone
        if message.reference and replied_user:
            ref = world.messages.get(message.channel_id, {}).get(
                int(message.reference.get("message_id", 0))
            )
            if ref is not None and ref.author_id not in message.mention_ids:
                message.mention_ids.append(ref.author_id)

    def create_message(
        self,
        channel: Channel,
        author_id: int,
        *,
        content: str = "",
        embeds: list[dict[str, Any]] | None = None,
        components: list[dict[str, Any]] | None = None,
        reference: dict[str, Any] | None = None,
        attachments: list[Attachment] | None = None,
        allowed_mentions: dict[str, Any] | None = None,
        nonce: str | int | None = None,
        tts: bool = False,
        flags: int = 0,
        message_type: int | None = None,
        webhook_id: int | None = None,
        application_id: int | None = None,
        interaction_metadata: dict[str, Any] | None = None,
        poll: dict[str, Any] | None = None,
        at: datetime | None = None,
        dispatch: bool = True,
    ) -> Message:
        """Store a new message and dispatch MESSAGE_CREATE (unless ephemeral)."""
        message_id = self.world.new_id(at)
        message = Message(
            id=message_id,
            channel_id=channel.id,
            author_id=author_id,
            content=content,
            guild_id=channel.guild_id,
            type=message_type if message_type is not None else (19 if reference else 0),
            timestamp=snowflake_time(message_id),
            embeds=list(embeds or []),
            components=list(components or []),
            attachments=list(attachments or []),
            reference=reference,
            flags=flags,
            tts=tts,
            nonce=nonce,
            webhook_id=webhook_id,
            application_id=application_id,
            interaction_metadata=interaction_metadata,
            poll=poll,
        )
        self.compute_mentions(message, author_id, allowed_mentions)
        self.world.add_message(message)
        if dispatch and not flags & 64:
            self.dispatch("MESSAGE_CREATE", payloads.message(self.world, message))
        return message

    def edit_message(
        self,
        message: Message,
        changes: dict[str, Any],
        *,
        attachments: list[Attachment] | None = None,
    ) -> Message:
        """Apply an edit and dispatch MESSAGE_UPDATE."""
        if "content" in changes:
            message.content = changes["content"] or ""
        if "embeds" in changes:
            message.embeds = list(changes["embeds"] or [])
        if "components" in changes:
            message.components = list(changes["components"] or [])
        if "flags" in changes and changes["flags"] is not None:
            message.flags = (message.flags & ~0x04) | (int(changes["flags"]) & 0x04)
        if "attachments" in changes and changes["attachments"] is not None:
            keep = {int(a["id"]) for a in changes["attachments"] if str(a.get("id", "")).isdigit()}
            message.attachments = [a for a in message.attachments if a.id in keep]
        if attachments:
            message.attachments.extend(attachments)
        if "content" in changes or "allowed_mentions" in changes:
            self.compute_mentions(message, message.author_id, changes.get("allowed_mentions"))
        message.flags &= ~128
        message.edited_timestamp = utcnow()
        if not message.flags & 64:
            self.dispatch("MESSAGE_UPDATE", payloads.message(self.world, message))
        return message

    def delete_message(
        self, message: Message, *, actor_id: int | None, reason: str | None = None
    ) -> None:
        """Remove a message, dispatch MESSAGE_DELETE and audit moderator deletions."""
        self.world.remove_message(message.channel_id, message.id)
        data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        self.dispatch("MESSAGE_DELETE", data)
        guild = self.world.guilds.get(message.guild_id or 0)
        if guild is not None and actor_id is not None and actor_id != message.author_id:
            self.audit(
                guild,
                AuditAction.MESSAGE_DELETE,
                actor_id=actor_id,
                target_id=message.author_id,
                reason=reason,
                options={"channel_id": str(message.channel_id), "count": "1"},
            )

    def bulk_delete(
        self,
        channel: Channel,
        message_ids: list[int],
        *,
        actor_id: int | None,
        reason: str | None = None,
        audit: bool = True,
    ) -> None:
        """Remove many messages from one channel and dispatch MESSAGE_DELETE_BULK."""
        for message_id in message_ids:
            self.world.remove_message(channel.id, message_id)
        data: dict[str, Any] = {
            "ids": [str(m) for m in message_ids],
            "channel_id": str(channel.id),
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        self.dispatch("MESSAGE_DELETE_BULK", data)
        guild = self.world.guilds.get(channel.guild_id or 0)
        if audit and guild is not None:
            self.audit(
                guild,
                AuditAction.MESSAGE_BULK_DELETE,
                actor_id=actor_id,
                target_id=channel.id,
                reason=reason,
                options={"count": str(len(message_ids))},
            )

    def purge_user_messages(self, guild: Guild, user_id: int, since: datetime) -> int:
        """Delete a user's messages newer than ``since`` in every guild channel (ban)."""
        removed = 0
        for channel in self.world.guild_channels(guild.id):
            ids = [
                m.id
                for m in self.world.channel_messages(channel.id)
                if m.author_id == user_id and snowflake_time(m.id) >= since
            ]
            if ids:
                self.bulk_delete(channel, ids, actor_id=None, audit=False)
                removed += len(ids)
        return removed

    def add_reaction(self, message: Message, user_id: int, raw_emoji: str) -> bool:
        """Add a reaction; dispatch MESSAGE_REACTION_ADD. Returns False if already there."""
        key, emoji = parse_emoji(raw_emoji)
        reaction = message.reactions.setdefault(key, Reaction(emoji=emoji))
        if user_id in reaction.user_ids:
            return False
        reaction.user_ids.append(user_id)
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": emoji,
            "message_author_id": str(message.author_id),
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            member = self.world.guilds[message.guild_id].members.get(user_id)
            if member is not None:
                data["member"] = payloads.member(self.world, member)
        self.dispatch("MESSAGE_REACTION_ADD", data)
        return True

    def remove_reaction(self, message: Message, user_id: int, raw_emoji: str) -> bool:
        """Remove a reaction; dispatch MESSAGE_REACTION_REMOVE. Returns False if absent."""
        key, emoji = parse_emoji(raw_emoji)
        reaction = message.reactions.get(key)
        if reaction is None or user_id not in reaction.user_ids:
            return False
        reaction.user_ids.remove(user_id)
        if not reaction.user_ids:
            del message.reactions[key]
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": reaction.emoji if reaction.emoji else emoji,
            "burst": False,
            "type": 0,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        self.dispatch("MESSAGE_REACTION_REMOVE", data)
        return True
