"""Discord's own scheduled events, brought in when a server turns on `events.discord_sync`.

A member who schedules an event in Discord's UI gets one of ours (announcement, RSVPs,
reminders) linked to it; edits and cancellations made there reach our workflow, and "interested"
counts as going. Events our bot created are skipped (the workflow made them), and an edit equal
to the workflow's spec is ignored by it, so the two sides cannot ping-pong.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from dcs.server_config import ServerConfig
from domain.events import (
    GOING,
    CancelRequest,
    EditRequest,
    EventSpec,
    ReminderSpec,
    RsvpAction,
    RsvpBatch,
)
from storage.events import find_event_by_discord_id
from workflows.event_control import (
    EventNotRunning,
    EventRejected,
    cancel_event,
    create_event,
    edit_event,
    event_view,
    signal_rsvps,
)

log = logging.getLogger(__name__)


class SyncHost(Protocol):
    """What the sync needs of the bot."""

    temporal: Client
    task_queue: str
    sessions: async_sessionmaker[AsyncSession]

    @property
    def user(self) -> Any:
        """The bot's own user."""
        ...

    def guild_config(self, guild_id: int) -> ServerConfig:
        """The guild's config."""
        ...


def events_settings(config: ServerConfig) -> Any:
    """The server's `events` section (None before the section exists)."""
    return getattr(config, "events", None)


def spec_from_discord(event: discord.ScheduledEvent, settings: Any) -> EventSpec:
    """Our spec for a Discord scheduled event (its times are absolute: UTC is safe here)."""
    reminders = getattr(settings, "reminders_minutes", None)
    return EventSpec(
        title=event.name[:100],
        start=event.start_time.astimezone(UTC),
        end=event.end_time.astimezone(UTC) if event.end_time else None,
        timezone=getattr(settings, "timezone", None) or "UTC",
        description=event.description or "",
        location=event.location or "",
        channel_id=getattr(settings, "channel_id", None),
        ping_role_id=getattr(settings, "ping_role_id", None),
        reminders=tuple(ReminderSpec(m) for m in reminders)
        if reminders is not None
        else EventSpec.reminders,
        xp_reward=getattr(settings, "xp_reward", 50),
        discord_sync=True,
    )


def merged_spec(current: EventSpec, event: discord.ScheduledEvent) -> EventSpec:
    """The current spec with what Discord shows; what Discord only echoes back is kept as ours."""
    description = event.description or ""
    if current.description[:1000] == description:
        description = current.description
    location = event.location or ""
    if not current.location and location == "Discord":
        location = ""  # the placeholder our sync writes for an event with no location
    end = event.end_time.astimezone(UTC) if event.end_time else None
    if end == current.ends_at:
        end = current.end
    title = current.title if current.title[:100] == event.name else event.name[:100]
    return replace(
        current, title=title, description=description, location=location,
        start=event.start_time.astimezone(UTC), end=end,
    )  # fmt: skip


class EventSync:
    """Listeners for GUILD_SCHEDULED_EVENT_* on a server with discord_sync on."""

    def __init__(self, bot: SyncHost) -> None:
        self.bot = bot

    def _enabled(self, guild_id: int) -> bool:
        settings = events_settings(self.bot.guild_config(guild_id))
        return bool(getattr(settings, "discord_sync", False))

    async def _linked(self, event: discord.ScheduledEvent) -> int | None:
        async with self.bot.sessions() as session:
            return await find_event_by_discord_id(session, event.guild_id, event.id)

    async def on_create(self, event: discord.ScheduledEvent) -> int | None:
        """A person scheduled an event in Discord: make it one of ours; returns our event id."""
        me = self.bot.user
        if not self._enabled(event.guild_id) or (me is not None and event.creator_id == me.id):
            return None
        if await self._linked(event) is not None:
            return None
        spec = spec_from_discord(event, events_settings(self.bot.guild_config(event.guild_id)))
        link: dict[str, Any] = {"discord_event_id": event.id}
        try:
            return await create_event(
                self.bot.temporal, self.bot.sessions, self.bot.task_queue, event.guild_id,
                spec, event.creator_id or 0, datetime.now(UTC), **link,
            )  # fmt: skip
        except EventRejected as exc:
            log.warning("Discord event %s not imported: %s", event.id, exc)
            return None

    async def on_update(self, event: discord.ScheduledEvent) -> None:
        """An edit or a cancellation made in Discord reaches our workflow."""
        if not self._enabled(event.guild_id):
            return
        event_id = await self._linked(event)
        if event_id is None:
            return
        if event.status in (discord.EventStatus.cancelled, discord.EventStatus.ended):
            if event.status is discord.EventStatus.cancelled:
                await self.on_delete(event)
            return
        try:
            view = await event_view(self.bot.temporal, event.guild_id, event_id)
            request = EditRequest(merged_spec(view.spec, event), source="discord")
            if request.spec != view.spec:
                await edit_event(self.bot.temporal, event.guild_id, event_id, request)
        except EventNotRunning:
            return
        except EventRejected as exc:
            log.warning("Discord edit of event %s refused: %s", event_id, exc)

    async def on_delete(self, event: discord.ScheduledEvent) -> None:
        """Cancelled or deleted in Discord: cancel ours (everyone going is told)."""
        if not self._enabled(event.guild_id):
            return
        event_id = await self._linked(event)
        if event_id is None:
            return
        request = CancelRequest(reason="cancelled in Discord")
        try:
            await cancel_event(self.bot.temporal, event.guild_id, event_id, request)
        except EventNotRunning:
            return

    async def on_interest(self, event: discord.ScheduledEvent, user_id: int, on: bool) -> None:
        """'Interested' in Discord is going; taking it back withdraws."""
        if not self._enabled(event.guild_id):
            return
        event_id = await self._linked(event)
        if event_id is None:
            return
        action = RsvpAction(user_id, GOING if on else None, source="discord", roles_known=False)
        try:
            await signal_rsvps(self.bot.temporal, event.guild_id, event_id, RsvpBatch((action,)))
        except EventNotRunning:
            return
