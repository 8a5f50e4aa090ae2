"""Role and webhook operations: create, edit, delete, each with its dispatch and audit entry."""

from __future__ import annotations

from typing import Any

from . import payloads
from .engine_base import AuditAction
from .models import Guild, Role, Webhook
from .ops_guild import GuildOps

ROLE_EDITABLE = ("name", "permissions", "color", "hoist", "mentionable")


def _audit_value(key: str, value: Any) -> Any:
    """Discord sends permissions as strings in audit log changes."""
    return str(value) if key == "permissions" else value


class RoleOps(GuildOps):
    """GUILD_ROLE_CREATE/UPDATE/DELETE and webhook changes, audited with the acting user."""

    def create_role(
        self, guild: Guild, fields: dict[str, Any], *, actor_id: int | None, reason: str | None
    ) -> Role:
        """Add a role just above @everyone-level roles (position 1 pushes the others up)."""
        for other in guild.roles.values():
            if other.id != guild.id:
                other.position += 1
        role = Role(
            id=self.world.new_id(),
            name=str(fields.get("name") or "new role"),
            permissions=int(fields.get("permissions") or 0),
            position=1,
            color=int(fields.get("color") or 0),
            hoist=bool(fields.get("hoist", False)),
            mentionable=bool(fields.get("mentionable", False)),
        )
        guild.roles[role.id] = role
        if guild.id == self.world.guild_id:
            self.world._role_names.setdefault(role.name, role.id)
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(role)})
        changes = [
            {"key": k, "new_value": _audit_value(k, getattr(role, k))} for k in ROLE_EDITABLE
        ]
        self._audit_role(guild, AuditAction.ROLE_CREATE, role, actor_id, reason, changes)
        return role

    def update_role(
        self,
        guild: Guild,
        role: Role,
        fields: dict[str, Any],
        *,
        actor_id: int | None,
        reason: str | None,
    ) -> Role:
        """Apply edits; GUILD_ROLE_UPDATE and a ROLE_UPDATE entry with old and new values."""
        changes: list[dict[str, Any]] = []
        for key in ROLE_EDITABLE:
            if key not in fields:
                continue
            value = fields[key]
            value = int(value or 0) if key in ("permissions", "color") else value
            old = getattr(role, key)
            if old != value:
                changes.append(
                    {
                        "key": key,
                        "old_value": _audit_value(key, old),
                        "new_value": _audit_value(key, value),
                    }
                )
                setattr(role, key, value)
        if changes:
            self.dispatch(
                "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": payloads.role(role)}
            )
            self._audit_role(guild, AuditAction.ROLE_UPDATE, role, actor_id, reason, changes)
        return role

    def delete_role(
        self, guild: Guild, role: Role, *, actor_id: int | None, reason: str | None
    ) -> Role:
        """Remove the role from the guild and its members; GUILD_ROLE_DELETE then the audit."""
        del guild.roles[role.id]
        for member in guild.members.values():
            if role.id in member.roles:
                member.roles.remove(role.id)
        if self.world._role_names.get(role.name) == role.id:
            del self.world._role_names[role.name]
        self.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(role.id)})
        changes = [
            {"key": k, "old_value": _audit_value(k, getattr(role, k))} for k in ROLE_EDITABLE
        ]
        self._audit_role(guild, AuditAction.ROLE_DELETE, role, actor_id, reason, changes)
        return role

    def _audit_role(
        self,
        guild: Guild,
        action: int,
        role: Role,
        actor_id: int | None,
        reason: str | None,
        changes: list[dict[str, Any]],
    ) -> None:
        if actor_id is not None:
            self.audit(
                guild, action, actor_id=actor_id, target_id=role.id, reason=reason, changes=changes
            )

    def create_webhook(
        self, guild: Guild, channel_id: int, name: str, *, actor_id: int, reason: str | None
    ) -> Webhook:
        """A channel webhook; WEBHOOKS_UPDATE and a WEBHOOK_CREATE entry."""
        hook = Webhook(self.world.new_id(), guild.id, channel_id, name, actor_id)
        guild.webhooks[hook.id] = hook
        self.dispatch("WEBHOOKS_UPDATE", {"guild_id": str(guild.id), "channel_id": str(channel_id)})
        self.audit(
            guild,
            AuditAction.WEBHOOK_CREATE,
            actor_id=actor_id,
            target_id=hook.id,
            reason=reason,
            changes=[
                {"key": "name", "new_value": name},
                {"key": "type", "new_value": 1},
                {"key": "channel_id", "new_value": str(channel_id)},
            ],
        )
        return hook

    def delete_webhook(
        self, guild: Guild, hook: Webhook, *, actor_id: int, reason: str | None
    ) -> None:
        """Remove a webhook; WEBHOOKS_UPDATE and a WEBHOOK_DELETE entry."""
        del guild.webhooks[hook.id]
        self.dispatch(
            "WEBHOOKS_UPDATE", {"guild_id": str(guild.id), "channel_id": str(hook.channel_id)}
        )
        self.audit(
            guild,
            AuditAction.WEBHOOK_DELETE,
            actor_id=actor_id,
            target_id=hook.id,
            reason=reason,
            changes=[{"key": "name", "old_value": hook.name}],
        )
