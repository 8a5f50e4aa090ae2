"""Guild-level operations: settings, incidents, channels, threads, invites, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import payloads
from .engine_base import AuditAction
from .models import Channel, ChannelType, Guild, Invite, Overwrite, ScheduledEvent
from .ops_members import MemberOps
from .snowflake import utcnow

GUILD_EDITABLE = (
    "name",
    "verification_level",
    "default_message_notifications",
    "explicit_content_filter",
    "description",
    "preferred_locale",
    "afk_timeout",
    "features",
)
GUILD_CHANNEL_FIELDS = (
    "system_channel_id",
    "rules_channel_id",
    "public_updates_channel_id",
    "safety_alerts_channel_id",
)


class GuildOps(MemberOps):
    """Guild, channel, thread, invite and scheduled-event changes."""

    # ----------------------------------------------------------------- guild
    def update_guild(
        self, guild: Guild, fields: dict[str, Any], *, actor_id: int, reason: str | None
    ) -> Guild:
        """Apply guild settings, dispatch GUILD_UPDATE and audit the diff."""
        changes: list[dict[str, Any]] = []
        for key in GUILD_EDITABLE + GUILD_CHANNEL_FIELDS:
            if key not in fields:
                continue
            value = fields[key]
            if key in GUILD_CHANNEL_FIELDS and value is not None:
                value = int(value)
            old = getattr(guild, key)
            if old != value:
                changes.append({"key": key, "old_value": old, "new_value": value})
                setattr(guild, key, value)
        if changes:
            self.dispatch("GUILD_UPDATE", payloads.guild(self.world, guild))
            self.audit(
                guild,
                AuditAction.GUILD_UPDATE,
                actor_id=actor_id,
                target_id=guild.id,
                reason=reason,
                changes=changes,
            )
        return guild

    def set_incident_actions(
        self,
        guild: Guild,
        invites_disabled_until: datetime | None,
        dms_disabled_until: datetime | None,
    ) -> Guild:
        """Pause invites/DMs (security actions) and dispatch GUILD_UPDATE."""
        guild.invites_disabled_until = invites_disabled_until
        guild.dms_disabled_until = dms_disabled_until
        self.dispatch("GUILD_UPDATE", payloads.guild(self.world, guild))
        return guild

    # ----------------------------------------------------------------- channels
    def create_channel(
        self, guild: Guild, channel: Channel, *, actor_id: int | None, reason: str | None
    ) -> Channel:
        """Register a new guild channel and dispatch CHANNEL_CREATE."""
        self.world.add_channel(channel)
        self.dispatch("CHANNEL_CREATE", payloads.channel(self.world, channel))
        self.audit(
            guild,
            AuditAction.CHANNEL_CREATE,
            actor_id=actor_id,
            target_id=channel.id,
            reason=reason,
            changes=[{"key": "name", "new_value": channel.name}],
        )
        return channel

    def update_channel(
        self,
        channel: Channel,
        fields: dict[str, Any],
        *,
        actor_id: int | None,
        reason: str | None,
    ) -> Channel:
        """Apply channel/thread settings and dispatch CHANNEL_UPDATE or THREAD_UPDATE."""
        changes: list[dict[str, Any]] = []
        for key in (
            "name",
            "topic",
            "nsfw",
            "rate_limit_per_user",
            "position",
            "parent_id",
            "archived",
            "locked",
            "invitable",
            "auto_archive_duration",
            "user_limit",
            "bitrate",
        ):
            if key not in fields:
                continue
            value = fields[key]
            if key == "parent_id" and value is not None:
                value = int(value)
            old = getattr(channel, key)
            if old != value:
                changes.append({"key": key, "old_value": old, "new_value": value})
                setattr(channel, key, value)
                if key == "archived":
                    channel.archive_timestamp = utcnow()
        if "permission_overwrites" in fields:
            channel.overwrites = [
                Overwrite(
                    int(o["id"]),
                    int(o.get("type", 0)),
                    int(o.get("allow", 0)),
                    int(o.get("deny", 0)),
                )
                for o in fields["permission_overwrites"] or []
            ]
            changes.append({"key": "permission_overwrites"})
        if not changes:
            return channel
        event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
        self.dispatch(event, payloads.channel(self.world, channel))
        guild = self.world.guilds.get(channel.guild_id or 0)
        if guild is not None:
            self.audit(
                guild,
                AuditAction.THREAD_UPDATE if channel.is_thread else AuditAction.CHANNEL_UPDATE,
                actor_id=actor_id,
                target_id=channel.id,
                reason=reason,
                changes=[c for c in changes if "old_value" in c],
            )
        return channel

    def delete_channel(
        self, channel: Channel, *, actor_id: int | None, reason: str | None
    ) -> Channel:
        """Delete a channel (and its threads), dispatching CHANNEL_DELETE/THREAD_DELETE."""
        guild = self.world.guilds.get(channel.guild_id or 0)
        if guild is not None and not channel.is_thread:
            for child in [
                c for c in self.world.guild_channels(guild.id) if c.parent_id == channel.id
            ]:
                if child.is_thread:
                    self.delete_channel(child, actor_id=None, reason=None)
                else:
                    child.parent_id = None
        data = payloads.channel(self.world, channel)
        self.world.remove_channel(channel.id)
        if channel.is_thread:
            self.dispatch(
                "THREAD_DELETE",
                {
                    "id": str(channel.id),
                    "guild_id": str(channel.guild_id),
                    "parent_id": str(channel.parent_id),
                    "type": int(channel.type),
                },
            )
        else:
            self.dispatch("CHANNEL_DELETE", data)
        if guild is not None and actor_id is not None:
            self.audit(
                guild,
                AuditAction.THREAD_DELETE if channel.is_thread else AuditAction.CHANNEL_DELETE,
                actor_id=actor_id,
                target_id=channel.id,
                reason=reason,
                changes=_deleted_channel_changes(data),
            )
        return channel

    def set_overwrite(
        self,
        channel: Channel,
        overwrite: Overwrite,
        *,
        actor_id: int | None,
        reason: str | None,
    ) -> None:
        """Create or replace one permission overwrite; dispatch CHANNEL_UPDATE."""
        existing = next((o for o in channel.overwrites if o.id == overwrite.id), None)
        if existing is None:
            channel.overwrites.append(overwrite)
            action = AuditAction.CHANNEL_OVERWRITE_CREATE
        else:
            existing.type, existing.allow, existing.deny = (
                overwrite.type,
                overwrite.allow,
                overwrite.deny,
            )
            action = AuditAction.CHANNEL_OVERWRITE_UPDATE
        self._overwrite_changed(channel, action, overwrite, actor_id, reason)

    def delete_overwrite(
        self, channel: Channel, target_id: int, *, actor_id: int | None, reason: str | None
    ) -> bool:
        """Remove one overwrite if present; dispatch CHANNEL_UPDATE."""
        existing = next((o for o in channel.overwrites if o.id == target_id), None)
        if existing is None:
            return False
        channel.overwrites.remove(existing)
        self._overwrite_changed(
            channel, AuditAction.CHANNEL_OVERWRITE_DELETE, existing, actor_id, reason
        )
        return True

    def _overwrite_changed(
        self,
        channel: Channel,
        action: int,
        overwrite: Overwrite,
        actor_id: int | None,
        reason: str | None,
    ) -> None:
        self.dispatch("CHANNEL_UPDATE", payloads.channel(self.world, channel))
        guild = self.world.guilds.get(channel.guild_id or 0)
        if guild is not None:
            self.audit(
                guild,
                action,
                actor_id=actor_id,
                target_id=channel.id,
                reason=reason,
                options={"id": str(overwrite.id), "type": str(overwrite.type)},
                changes=[
                    {"key": "allow", "new_value": str(overwrite.allow)},
                    {"key": "deny", "new_value": str(overwrite.deny)},
                ],
            )

    # ----------------------------------------------------------------- threads
    def create_thread(
        self,
        parent: Channel,
        *,
        name: str,
        owner_id: int,
        thread_type: ChannelType,
        thread_id: int | None = None,
        auto_archive_duration: int = 1440,
        rate_limit_per_user: int = 0,
        invitable: bool = True,
        reason: str | None = None,
    ) -> Channel:
        """Create a thread under ``parent`` with its creator as member; THREAD_CREATE."""
        now = utcnow()
        thread = Channel(
            id=thread_id or self.world.new_id(),
            type=thread_type,
            guild_id=parent.guild_id,
            name=name,
            parent_id=parent.id,
            owner_id=owner_id,
            rate_limit_per_user=rate_limit_per_user,
            auto_archive_duration=auto_archive_duration,
            invitable=invitable,
            archive_timestamp=now,
            created_at=now,
        )
        thread.thread_members[owner_id] = now
        self.world.add_channel(thread)
        data = payloads.channel(self.world, thread)
        data["newly_created"] = True
        if owner_id == self.world.bot_id:
            data["member"] = payloads.thread_member(self.world, thread, owner_id)
        self.dispatch("THREAD_CREATE", data)
        guild = self.world.guilds.get(parent.guild_id or 0)
        if guild is not None:
            self.audit(
                guild,
                AuditAction.THREAD_CREATE,
                actor_id=owner_id,
                target_id=thread.id,
                reason=reason,
                changes=[{"key": "name", "new_value": name}],
            )
        return thread

    def add_thread_member(self, thread: Channel, user_id: int) -> bool:
        """Add a user to a thread and dispatch THREAD_MEMBERS_UPDATE."""
        if user_id in thread.thread_members:
            return False
        thread.thread_members[user_id] = utcnow()
        self._thread_members_update(
            thread,
            added=[payloads.thread_member(self.world, thread, user_id, with_member=True)],
        )
        if user_id == self.world.bot_id:
            data = payloads.thread_member(self.world, thread, user_id)
            data["guild_id"] = str(thread.guild_id)
            self.dispatch("THREAD_MEMBER_UPDATE", data)
        return True

    def remove_thread_member(self, thread: Channel, user_id: int) -> bool:
        """Remove a user from a thread and dispatch THREAD_MEMBERS_UPDATE."""
        if thread.thread_members.pop(user_id, None) is None:
            return False
        self._thread_members_update(thread, removed=[str(user_id)])
        return True

    def _thread_members_update(
        self,
        thread: Channel,
        *,
        added: list[dict[str, Any]] | None = None,
        removed: list[str] | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "id": str(thread.id),
            "guild_id": str(thread.guild_id),
            "member_count": min(len(thread.thread_members), 50),
        }
        if added:
            data["added_members"] = added
        if removed:
            data["removed_member_ids"] = removed
        self.dispatch("THREAD_MEMBERS_UPDATE", data)

    # ----------------------------------------------------------------- invites
    def create_invite(
        self,
        guild: Guild,
        channel: Channel,
        *,
        inviter_id: int,
        max_age: int = 86400,
        max_uses: int = 0,
        temporary: bool = False,
        reason: str | None = None,
    ) -> Invite:
        """Create an invite and dispatch INVITE_CREATE."""
        inv = self.world.add_invite(guild.id, channel.id, inviter_id)
        inv.max_age, inv.max_uses, inv.temporary = max_age, max_uses, temporary
        data = payloads.invite(self.world, inv)
        data.update({"channel_id": str(channel.id), "guild_id": str(guild.id)})
        self.dispatch("INVITE_CREATE", data)
        self.audit(
            guild,
            AuditAction.INVITE_CREATE,
            actor_id=inviter_id,
            target_id=None,
            reason=reason,
            changes=[{"key": "code", "new_value": inv.code}],
        )
        return inv

    def delete_invite(
        self, guild: Guild, code: str, *, actor_id: int, reason: str | None
    ) -> Invite:
        """Revoke an invite and dispatch INVITE_DELETE."""
        inv = guild.invites.pop(code)
        self.dispatch(
            "INVITE_DELETE",
            {"channel_id": str(inv.channel_id), "guild_id": str(guild.id), "code": code},
        )
        self.audit(
            guild,
            AuditAction.INVITE_DELETE,
            actor_id=actor_id,
            target_id=None,
            reason=reason,
            changes=[{"key": "code", "old_value": code}],
        )
        return inv

    # ----------------------------------------------------------------- scheduled events
    def create_event(
        self, guild: Guild, event: ScheduledEvent, *, reason: str | None
    ) -> ScheduledEvent:
        """Store a scheduled event and dispatch GUILD_SCHEDULED_EVENT_CREATE."""
        guild.scheduled_events[event.id] = event
        self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", payloads.scheduled_event(self.world, event))
        self.audit(
            guild,
            AuditAction.GUILD_SCHEDULED_EVENT_CREATE,
            actor_id=event.creator_id,
            target_id=event.id,
            reason=reason,
            changes=[{"key": "name", "new_value": event.name}],
        )
        return event

    def update_event(
        self,
        guild: Guild,
        event: ScheduledEvent,
        fields: dict[str, Any],
        *,
        actor_id: int,
        reason: str | None,
    ) -> ScheduledEvent:
        """Apply changes to an event and dispatch GUILD_SCHEDULED_EVENT_UPDATE."""
        changes = []
        for key, value in fields.items():
            old = getattr(event, key)
            if old != value:
                changes.append({"key": key})
                setattr(event, key, value)
        if changes:
            self.dispatch(
                "GUILD_SCHEDULED_EVENT_UPDATE", payloads.scheduled_event(self.world, event)
            )
            self.audit(
                guild,
                AuditAction.GUILD_SCHEDULED_EVENT_UPDATE,
                actor_id=actor_id,
                target_id=event.id,
                reason=reason,
                changes=changes,
            )
        return event

    def delete_event(
        self, guild: Guild, event: ScheduledEvent, *, actor_id: int, reason: str | None
    ) -> None:
        """Delete an event and dispatch GUILD_SCHEDULED_EVENT_DELETE."""
        del guild.scheduled_events[event.id]
        self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", payloads.scheduled_event(self.world, event))
        self.audit(
            guild,
            AuditAction.GUILD_SCHEDULED_EVENT_DELETE,
            actor_id=actor_id,
            target_id=event.id,
            reason=reason,
        )

    def set_event_interest(
        self, guild: Guild, event: ScheduledEvent, user_id: int, on: bool
    ) -> bool:
        """A user marks/unmarks interest; dispatch GUILD_SCHEDULED_EVENT_USER_ADD/REMOVE."""
        if on == (user_id in event.subscriber_ids):
            return False
        if on:
            event.subscriber_ids.append(user_id)
        else:
            event.subscriber_ids.remove(user_id)
        self.dispatch(
            "GUILD_SCHEDULED_EVENT_USER_ADD" if on else "GUILD_SCHEDULED_EVENT_USER_REMOVE",
            {
                "guild_scheduled_event_id": str(event.id),
                "user_id": str(user_id),
                "guild_id": str(guild.id),
            },
        )
        return True


def _deleted_channel_changes(data: dict[str, Any]) -> list[dict[str, Any]]:
    """What Discord lists for a deleted channel: its old values (overwrite types as strings)."""
    overwrites = [{**o, "type": str(o["type"])} for o in data.get("permission_overwrites") or []]
    changes: list[dict[str, Any]] = [
        {"key": k, "old_value": data[k]}
        for k in ("name", "type", "nsfw", "rate_limit_per_user")
        if k in data
    ]
    changes.append({"key": "permission_overwrites", "old_value": overwrites})
    return changes
