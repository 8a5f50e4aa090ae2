"""Member operations: join, leave, update (roles/nick/timeout), kick, ban, unban."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import payloads
from .engine_base import AuditAction
from .models import Ban, Guild, Member, User
from .ops_messages import MessageOps
from .snowflake import iso, utcnow

_UNSET: Any = object()


class MemberOps(MessageOps):
    """Membership changes, each dispatching the matching GUILD_* event."""

    def add_member(
        self,
        guild: Guild,
        user: User,
        *,
        joined_at: datetime | None = None,
        roles: list[int] | None = None,
        pending: bool = False,
    ) -> Member:
        """Add a user to a guild and dispatch GUILD_MEMBER_ADD."""
        member = Member(
            user_id=user.id,
            guild_id=guild.id,
            joined_at=joined_at or utcnow(),
            roles=list(roles or []),
            pending=pending,
        )
        guild.members[user.id] = member
        data = payloads.member(self.world, member)
        data["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_ADD", data)
        return member

    def remove_member(self, guild: Guild, user_id: int) -> Member:
        """Remove a member (leave/kick/ban) and dispatch GUILD_MEMBER_REMOVE."""
        member = guild.members.pop(user_id)
        for channel in self.world.guild_channels(guild.id):
            channel.thread_members.pop(user_id, None)
        self.dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": payloads.user(self.world.users[user_id])},
        )
        return member

    def update_member(
        self,
        guild: Guild,
        member: Member,
        *,
        actor_id: int | None,
        reason: str | None = None,
        nick: Any = _UNSET,
        roles: list[int] | None = None,
        timeout_until: Any = _UNSET,
        mute: bool | None = None,
        deaf: bool | None = None,
    ) -> Member:
        """Change a member, dispatch GUILD_MEMBER_UPDATE and write audit entries."""
        changes: list[dict[str, Any]] = []
        if nick is not _UNSET and nick != member.nick:
            changes.append({"key": "nick", "old_value": member.nick, "new_value": nick})
            member.nick = nick or None
        if timeout_until is not _UNSET and timeout_until != member.communication_disabled_until:
            changes.append(
                {
                    "key": "communication_disabled_until",
                    "old_value": iso(member.communication_disabled_until),
                    "new_value": iso(timeout_until),
                }
            )
            member.communication_disabled_until = timeout_until
        for key, value in (("mute", mute), ("deaf", deaf)):
            if value is not None and value != getattr(member, key):
                changes.append({"key": key, "old_value": getattr(member, key), "new_value": value})
                setattr(member, key, value)
        role_changes: list[dict[str, Any]] = []
        if roles is not None:
            old, new = set(member.roles), set(roles)
            added = [r for r in roles if r not in old]
            removed = [r for r in member.roles if r not in new]
            member.roles = list(dict.fromkeys(roles))
            for key, ids in (("$add", added), ("$remove", removed)):
                if ids:
                    role_changes.append(
                        {
                            "key": key,
                            "new_value": [
                                {"id": str(r), "name": guild.roles[r].name}
                                for r in ids
                                if r in guild.roles
                            ],
                        }
                    )
        if not changes and not role_changes:
            return member
        data = payloads.member(self.world, member)
        data["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_UPDATE", data)
        if changes:
            self.audit(
                guild,
                AuditAction.MEMBER_UPDATE,
                actor_id=actor_id,
                target_id=member.user_id,
                reason=reason,
                changes=changes,
            )
        if role_changes:
            self.audit(
                guild,
                AuditAction.MEMBER_ROLE_UPDATE,
                actor_id=actor_id,
                target_id=member.user_id,
                reason=reason,
                changes=role_changes,
            )
        return member

    def kick(self, guild: Guild, user_id: int, *, actor_id: int, reason: str | None) -> None:
        """Kick a member: GUILD_MEMBER_REMOVE plus a MEMBER_KICK audit entry."""
        self.remove_member(guild, user_id)
        self.audit(
            guild, AuditAction.MEMBER_KICK, actor_id=actor_id, target_id=user_id, reason=reason
        )

    def ban(
        self,
        guild: Guild,
        user_id: int,
        *,
        actor_id: int,
        reason: str | None,
        delete_message_seconds: int = 0,
    ) -> Ban:
        """Ban a user: purge recent messages, GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE."""
        ban = Ban(user_id=user_id, reason=reason)
        guild.bans[user_id] = ban
        if delete_message_seconds > 0:
            since = utcnow() - timedelta(seconds=delete_message_seconds)
            self.purge_user_messages(guild, user_id, since)
        self.dispatch(
            "GUILD_BAN_ADD",
            {"guild_id": str(guild.id), "user": payloads.user(self.world.users[user_id])},
        )
        if user_id in guild.members:
            self.remove_member(guild, user_id)
        self.audit(
            guild, AuditAction.MEMBER_BAN_ADD, actor_id=actor_id, target_id=user_id, reason=reason
        )
        return ban

    def unban(self, guild: Guild, user_id: int, *, actor_id: int, reason: str | None) -> None:
        """Lift a ban and dispatch GUILD_BAN_REMOVE."""
        del guild.bans[user_id]
        self.dispatch(
            "GUILD_BAN_REMOVE",
            {"guild_id": str(guild.id), "user": payloads.user(self.world.users[user_id])},
        )
        self.audit(
            guild,
            AuditAction.MEMBER_BAN_REMOVE,
            actor_id=actor_id,
            target_id=user_id,
            reason=reason,
        )
