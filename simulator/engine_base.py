"""Shared core of the engine: the world, the gateway hub and the audit log."""

from __future__ import annotations

from typing import Any

from . import payloads
from .config import SimulatorConfig
from .gateway import GatewayHub
from .models import AuditLogEntry, Guild
from .permissions import Perm
from .world import World


class AuditAction:
    """Audit log action types the simulator writes."""

    GUILD_UPDATE = 1
    CHANNEL_CREATE = 10
    CHANNEL_UPDATE = 11
    CHANNEL_DELETE = 12
    CHANNEL_OVERWRITE_CREATE = 13
    CHANNEL_OVERWRITE_UPDATE = 14
    CHANNEL_OVERWRITE_DELETE = 15
    MEMBER_KICK = 20
    MEMBER_BAN_ADD = 22
    MEMBER_BAN_REMOVE = 23
    MEMBER_UPDATE = 24
    MEMBER_ROLE_UPDATE = 25
    ROLE_CREATE = 30
    ROLE_UPDATE = 31
    ROLE_DELETE = 32
    INVITE_CREATE = 40
    INVITE_DELETE = 42
    WEBHOOK_CREATE = 50
    WEBHOOK_DELETE = 52
    MESSAGE_DELETE = 72
    MESSAGE_BULK_DELETE = 73
    GUILD_SCHEDULED_EVENT_CREATE = 100
    GUILD_SCHEDULED_EVENT_UPDATE = 101
    GUILD_SCHEDULED_EVENT_DELETE = 102
    THREAD_CREATE = 110
    THREAD_UPDATE = 111
    THREAD_DELETE = 112


class EngineBase:
    """Holds what every state-changing operation needs."""

    def __init__(self, world: World, hub: GatewayHub, config: SimulatorConfig) -> None:
        self.world = world
        self.hub = hub
        self.config = config

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to all eligible sessions."""
        self.hub.dispatch(event, data)

    def audit(
        self,
        guild: Guild,
        action_type: int,
        *,
        actor_id: int | None,
        target_id: int | None,
        reason: str | None = None,
        changes: list[dict[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
    ) -> AuditLogEntry:
        """Append an audit log entry and dispatch GUILD_AUDIT_LOG_ENTRY_CREATE."""
        entry = AuditLogEntry(
            id=self.world.new_id(),
            guild_id=guild.id,
            action_type=action_type,
            user_id=actor_id,
            target_id=target_id,
            reason=reason,
            changes=changes or [],
            options=options,
        )
        guild.audit_log.append(entry)
        if self.world.base_permissions(guild, self.world.bot_id) & Perm.VIEW_AUDIT_LOG:
            data = payloads.audit_entry(entry)
            data["guild_id"] = str(guild.id)
            self.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", data)
        return entry
