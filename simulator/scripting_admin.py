"""Scripted staff actions: a member (an admin, a rogue bot) acting on the server as themselves.

Each call checks that the actor holds the permission Discord would ask for, changes the world
through the engine and writes the audit entry with the actor's ``user_id``, so the bot sees
GUILD_AUDIT_LOG_ENTRY_CREATE exactly as if a person had done it in the client.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .engine import Engine
from .models import Role, Webhook
from .permissions import Perm
from .world import World

UserRef = str | int
ChannelRef = str | int
RoleRef = str | int


class StaffScriptingMixin:
    """Python API for a member doing staff work (or wrecking the server)."""

    world: World
    engine: Engine

    def _actor(self, by: UserRef, perm: int) -> int:
        """The acting member's id; 403 if they lack ``perm`` (owner and admins have all)."""
        user = self.world.resolve_user(by)
        guild = self.world.guilds[self.world.guild_id]
        if user.id not in guild.members:
            raise errors.DiscordAPIError(403, 50001, f"{user.username} is not a member")
        if self.world.base_permissions(guild, user.id) & perm != perm:
            raise errors.DiscordAPIError(403, 50013, f"{user.username} lacks permission {perm}")
        return user.id

    def _role(self, ref: RoleRef) -> Role:
        guild = self.world.guilds[self.world.guild_id]
        role_id = ref if isinstance(ref, int) else self.world.role(ref)
        return self.world.get_role(guild.id, role_id)

    async def delete_channel_as(self, channel: ChannelRef, by: UserRef) -> None:
        """A member deletes a channel (CHANNEL_DELETE, then the audit entry)."""
        actor = self._actor(by, int(Perm.MANAGE_CHANNELS))
        self.engine.delete_channel(self.world.resolve_channel(channel), actor_id=actor, reason=None)

    async def create_role_as(self, by: UserRef, **fields: Any) -> Role:
        """A member creates a role (name, permissions, color, hoist, mentionable)."""
        actor = self._actor(by, int(Perm.MANAGE_ROLES))
        guild = self.world.guilds[self.world.guild_id]
        return self.engine.create_role(guild, fields, actor_id=actor, reason=None)

    async def edit_role_as(self, role: RoleRef, by: UserRef, **fields: Any) -> Role:
        """A member edits a role (e.g. grants it Administrator)."""
        actor = self._actor(by, int(Perm.MANAGE_ROLES))
        guild = self.world.guilds[self.world.guild_id]
        return self.engine.update_role(guild, self._role(role), fields, actor_id=actor, reason=None)

    async def delete_role_as(self, role: RoleRef, by: UserRef) -> None:
        """A member deletes a role (GUILD_ROLE_DELETE, then the audit entry)."""
        actor = self._actor(by, int(Perm.MANAGE_ROLES))
        guild = self.world.guilds[self.world.guild_id]
        self.engine.delete_role(guild, self._role(role), actor_id=actor, reason=None)

    async def give_role_as(self, member: UserRef, role: RoleRef, by: UserRef) -> None:
        """A member gives another member a role (MEMBER_ROLE_UPDATE with $add)."""
        actor = self._actor(by, int(Perm.MANAGE_ROLES))
        guild = self.world.guilds[self.world.guild_id]
        target = guild.members[self.world.resolve_user(member).id]
        roles = [*target.roles, self._role(role).id]
        self.engine.update_member(guild, target, actor_id=actor, roles=roles)

    async def ban_as(self, user: UserRef, by: UserRef, reason: str | None = None) -> None:
        """A member bans someone (GUILD_BAN_ADD, MEMBER_BAN_ADD audit entry)."""
        actor = self._actor(by, int(Perm.BAN_MEMBERS))
        guild = self.world.guilds[self.world.guild_id]
        self.engine.ban(guild, self.world.resolve_user(user).id, actor_id=actor, reason=reason)

    async def kick_as(self, user: UserRef, by: UserRef, reason: str | None = None) -> None:
        """A member kicks someone (GUILD_MEMBER_REMOVE, MEMBER_KICK audit entry)."""
        actor = self._actor(by, int(Perm.KICK_MEMBERS))
        guild = self.world.guilds[self.world.guild_id]
        self.engine.kick(guild, self.world.resolve_user(user).id, actor_id=actor, reason=reason)

    async def create_webhook_as(self, channel: ChannelRef, by: UserRef, name: str) -> Webhook:
        """A member creates a channel webhook (WEBHOOK_CREATE audit entry)."""
        actor = self._actor(by, int(Perm.MANAGE_WEBHOOKS))
        guild = self.world.guilds[self.world.guild_id]
        target = self.world.resolve_channel(channel)
        return self.engine.create_webhook(guild, target.id, name, actor_id=actor, reason=None)
