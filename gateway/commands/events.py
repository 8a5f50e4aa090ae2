"""Event commands: /event create|edit|cancel|list|info and /timezone set|show|clear.

Times are typed the way members say them ("friday 8pm") and read in the member's zone (or the
one given, or the server's); every reply shows Discord timestamps, which each reader sees in
their own zone. Creating, editing and cancelling need Manage Events or one of the server's
`events.manager_role_ids`; listing and reading are for everyone, so the group is not hidden.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import discord
from discord import app_commands

from dcs.natural_time import parse_duration, parse_offsets, parse_when
from domain.events import CancelRequest, EditRequest, EventSpec, ReminderSpec, zone
from gateway.commands.context import suite_bot as _bot
from gateway.event_sync import events_settings
from gateway.event_times import zone_for
from storage.events import get_event, list_events, set_member_timezone
from workflows.event_control import (
    EventNotRunning,
    cancel_event,
    create_event,
    edit_event,
    event_view,
)

RECURRENCE = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "biweekly": "FREQ=WEEKLY;INTERVAL=2",
    "monthly": "FREQ=MONTHLY",
}
LIST_LIMIT = 10


def stamp(when: datetime) -> str:
    """A Discord timestamp, full and relative: each reader sees it in their own zone."""
    unix = int(when.timestamp())
    return f"<t:{unix}:F> (<t:{unix}:R>)"


def _settings(interaction: discord.Interaction) -> Any:
    assert interaction.guild_id is not None
    return events_settings(_bot(interaction).guild_config(interaction.guild_id))


def _manager_problem(interaction: discord.Interaction) -> str | None:
    """Why this member may not manage events (None when they may)."""
    if interaction.guild_id is None:
        return "This command only works in a server."
    if interaction.permissions.manage_events:
        return None
    managers = set(getattr(_settings(interaction), "manager_role_ids", None) or ())
    user = interaction.user
    if isinstance(user, discord.Member) and managers & {r.id for r in user.roles}:
        return None
    return "You need the Manage Events permission (or an event manager role) for that."


async def _zone(interaction: discord.Interaction, given: str | None, fallback: str | None) -> str:
    """The zone the member's times are read in."""
    own_or_server = getattr(_settings(interaction), "timezone", None) or fallback
    return await zone_for(_bot(interaction).sessions, interaction.user.id, own_or_server, given)


async def _fail(interaction: discord.Interaction, text: str) -> None:
    await interaction.followup.send(f"⚠️ {text}", ephemeral=True)


event_group = app_commands.Group(
    name="event", description="Schedule events and see who is coming", guild_only=True
)


def _deadline(text: str | None, start: datetime, tz: str, now: datetime) -> datetime | None:
    """Sign-up close: a time ("friday 6pm") or a duration before the start ("2h")."""
    if not text:
        return None
    try:
        return start - parse_duration(text)
    except ValueError:
        return parse_when(text, tz, now)


def _build_spec(interaction: discord.Interaction, fields: dict[str, Any], tz: str) -> EventSpec:
    """The spec a /event create describes (ValueError for anything unreadable)."""
    now = datetime.now(UTC)
    settings = _settings(interaction)
    start = parse_when(fields["when"], tz, now)
    offsets = (
        parse_offsets(fields["reminders"])
        if fields["reminders"]
        else tuple(getattr(settings, "reminders_minutes", None) or (1440, 60, 0))
    )
    channel, role = fields["channel"], fields["ping_role"]
    return EventSpec(
        title=fields["title"], start=start, timezone=tz,
        end=start + parse_duration(fields["duration"]) if fields["duration"] else None,
        description=fields["description"] or "", location=fields["location"] or "",
        capacity=fields["capacity"],
        channel_id=channel.id if channel else getattr(settings, "channel_id", None)
        or interaction.channel_id,
        ping_role_id=role.id if role else getattr(settings, "ping_role_id", None),
        reminders=tuple(ReminderSpec(m) for m in offsets),
        signup_deadline=_deadline(fields["signup_closes"], start, tz, now),
        allowed_role_ids=_only(fields["members_of"], ()),
        recurrence=RECURRENCE.get(fields["recurrence"] or "none"),
        xp_reward=getattr(settings, "xp_reward", 50),
        discord_sync=bool(getattr(settings, "discord_sync", False)),
    )  # fmt: skip


def _only(role: discord.Role | None, current: tuple[int, ...]) -> tuple[int, ...]:
    """Who may sign up: one role, or everyone when the role given is @everyone."""
    if role is None:
        return current
    return () if role.is_default() else (role.id,)


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


async def zone_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """IANA zones containing what the member typed."""
    typed = current.lower().replace(" ", "_")
    found = [name for name in _zone_names() if typed in name.lower()][:25]
    return [app_commands.Choice(name=name, value=name) for name in found]


@event_group.command(name="create", description="Schedule an event")
@app_commands.describe(
    when="When it starts, e.g. 'friday 8pm' or '2026-12-24 19:00'",
    duration="How long, e.g. '2h' or '90m'",
    capacity="Seats; later sign-ups go on a waitlist",
    timezone="Read 'when' in this zone (default: yours, else the server's)",
    reminders="Before the start, e.g. '24h,1h,0'",
    signup_closes="When sign-up closes: a time, or how long before the start ('2h')",
    members_of="Only members with this role may sign up",
)
@app_commands.choices(
    recurrence=[app_commands.Choice(name=n, value=n) for n in ("none", *RECURRENCE)]
)
@app_commands.autocomplete(timezone=zone_autocomplete)
async def create(
    interaction: discord.Interaction,
    title: app_commands.Range[str, 1, 100],
    when: str,
    duration: str | None = None,
    description: app_commands.Range[str, 0, 2000] | None = None,
    capacity: app_commands.Range[int, 1, 100_000] | None = None,
    channel: discord.TextChannel | None = None,
    ping_role: discord.Role | None = None,
    timezone: str | None = None,
    reminders: str | None = None,
    recurrence: str | None = None,
    signup_closes: str | None = None,
    location: app_commands.Range[str, 0, 100] | None = None,
    members_of: discord.Role | None = None,
) -> None:
    """Create the event and start its workflow (announcement, RSVPs, reminders)."""
    problem = _manager_problem(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    fields = dict(locals())
    bot, guild_id = _bot(interaction), interaction.guild_id
    assert guild_id is not None
    try:
        spec = _build_spec(interaction, fields, await _zone(interaction, timezone, None))
        event_id = await create_event(
            bot.temporal, bot.sessions, bot.task_queue, guild_id, spec,
            interaction.user.id, datetime.now(UTC),
        )  # fmt: skip
    except ValueError as exc:  # unreadable time, unknown zone, EventRejected
        await _fail(interaction, str(exc))
        return
    await interaction.followup.send(
        f"📅 Event #{event_id} **{spec.title}** is scheduled for {stamp(spec.start)}.",
        ephemeral=True,
    )


def _edited(spec: EventSpec, fields: dict[str, Any], tz: str) -> EventSpec:
    """The current spec with the options given (ValueError for anything unreadable)."""
    now = datetime.now(UTC)
    start = parse_when(fields["when"], tz, now) if fields["when"] else spec.start
    length = parse_duration(fields["duration"]) if fields["duration"] else None
    end = start + length if length else (spec.end and spec.end + (start - spec.start))
    changes = {k: fields[k] for k in ("title", "description", "location") if fields[k] is not None}
    capacity = fields["capacity"] if fields["capacity"] is not None else spec.capacity
    allowed = _only(fields["members_of"], spec.allowed_role_ids)
    return replace(
        spec, start=start, end=end, capacity=capacity, allowed_role_ids=allowed, **changes
    )


@event_group.command(name="edit", description="Change an event (only the options you give)")
@app_commands.describe(
    event_id="The event's number",
    when="New start, e.g. 'saturday 7pm'",
    members_of="Only members with this role may sign up (@everyone: anyone)",
)
async def edit(
    interaction: discord.Interaction,
    event_id: int,
    title: app_commands.Range[str, 1, 100] | None = None,
    when: str | None = None,
    duration: str | None = None,
    description: app_commands.Range[str, 0, 2000] | None = None,
    capacity: app_commands.Range[int, 1, 100_000] | None = None,
    location: app_commands.Range[str, 0, 100] | None = None,
    members_of: discord.Role | None = None,
) -> None:
    """Merge the changes into the running event's spec; reminders move with the start."""
    problem = _manager_problem(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    fields, bot, guild_id = dict(locals()), _bot(interaction), interaction.guild_id
    assert guild_id is not None
    try:
        view = await event_view(bot.temporal, guild_id, event_id)
        tz = await _zone(interaction, None, view.spec.timezone) if when else view.spec.timezone
        spec = _edited(view.spec, fields, tz)
        request = EditRequest(spec, by=interaction.user.id, source="command")
        view = await edit_event(bot.temporal, guild_id, event_id, request)
    except EventNotRunning:
        await _fail(interaction, f"Event #{event_id} is not running (over, cancelled or unknown).")
        return
    except ValueError as exc:
        await _fail(interaction, str(exc))
        return
    await interaction.followup.send(
        f"✏️ Event #{event_id} **{view.spec.title}**: {stamp(view.spec.start)}.", ephemeral=True
    )


@event_group.command(name="cancel", description="Cancel an event (everyone going is told)")
async def cancel(
    interaction: discord.Interaction,
    event_id: int,
    reason: app_commands.Range[str, 0, 300] = "",
) -> None:
    """Cancel the event through its workflow."""
    problem = _manager_problem(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot, guild_id = _bot(interaction), interaction.guild_id
    assert guild_id is not None
    request = CancelRequest(reason=reason, by=interaction.user.id)
    try:
        view = await cancel_event(bot.temporal, guild_id, event_id, request)
    except EventNotRunning:
        await _fail(interaction, f"Event #{event_id} is not running (over, cancelled or unknown).")
        return
    await interaction.followup.send(
        f"🚫 Event #{event_id} **{view.spec.title}** is cancelled.", ephemeral=True
    )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@event_group.command(name="list", description="Upcoming events")
async def list_command(interaction: discord.Interaction) -> None:
    """The next events, with times every reader sees in their own zone."""
    assert interaction.guild_id is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    async with _bot(interaction).sessions() as session:
        page = await list_events(
            session, interaction.guild_id, since=datetime.now(UTC) - timedelta(hours=1),
            limit=LIST_LIMIT,
        )  # fmt: skip
    lines = [
        f"#{row.id} **{row.title}**: {stamp(_aware(row.start_at))}"
        for row in page.items
        if row.status not in ("cancelled", "completed")
    ]
    await interaction.followup.send("\n".join(lines) or "No upcoming events.", ephemeral=True)


@event_group.command(name="info", description="One event: when, where and who is coming")
async def info(interaction: discord.Interaction, event_id: int) -> None:
    """The live view of a running event, or what the database remembers of a past one."""
    assert interaction.guild_id is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = _bot(interaction)
    try:
        view = await event_view(bot.temporal, interaction.guild_id, event_id)
    except EventNotRunning:
        async with bot.sessions() as session:
            row = await get_event(session, interaction.guild_id, event_id)
        text = (
            f"#{event_id} **{row.title}** ({row.status}): {stamp(_aware(row.start_at))}"
            if row is not None
            else f"No event #{event_id} here."
        )
        await interaction.followup.send(text, ephemeral=True)
        return
    spec, counts = view.spec, view.counts
    seats = f" of {spec.capacity}" if spec.capacity else ""
    where = f"\n📍 {spec.location}" if spec.location else ""
    await interaction.followup.send(
        f"#{event_id} **{spec.title}** ({view.status}): {stamp(spec.start)}{where}\n"
        f"✅ {counts.going}{seats} going, ⏳ {counts.waitlist} waiting, "
        f"🤔 {counts.maybe} maybe, ❌ {counts.declined} not going",
        ephemeral=True,
    )


timezone_group = app_commands.Group(name="timezone", description="Your time zone for event times")


@timezone_group.command(name="set", description="Read the times you type in this zone")
@app_commands.describe(zone_name="An IANA zone such as Europe/Berlin")
@app_commands.rename(zone_name="zone")
@app_commands.autocomplete(zone_name=zone_autocomplete)
async def timezone_set(interaction: discord.Interaction, zone_name: str) -> None:
    """Remember the member's zone (everywhere: it follows them, not the server)."""
    try:
        zone(zone_name)
    except ValueError as exc:
        await interaction.response.send_message(f"⚠️ {exc}", ephemeral=True)
        return
    async with _bot(interaction).sessions() as session, session.begin():
        await set_member_timezone(session, interaction.user.id, zone_name)
    now = datetime.now(zone(zone_name)).strftime("%H:%M")
    await interaction.response.send_message(
        f"🕓 Your time zone is {zone_name} (it is {now} there).", ephemeral=True
    )


@timezone_group.command(name="show", description="The zone your times are read in")
async def timezone_show(interaction: discord.Interaction) -> None:
    """The member's own zone, or the server's it falls back to."""
    server = getattr(_settings(interaction), "timezone", None) if interaction.guild_id else None
    try:
        name = await zone_for(_bot(interaction).sessions, interaction.user.id, server, None)
    except ValueError as exc:
        await interaction.response.send_message(str(exc), ephemeral=True)
        return
    await interaction.response.send_message(f"🕓 Your times are read in {name}.", ephemeral=True)


@timezone_group.command(name="clear", description="Forget your zone (the server's is used)")
async def timezone_clear(interaction: discord.Interaction) -> None:
    """Forget the member's zone."""
    async with _bot(interaction).sessions() as session, session.begin():
        await set_member_timezone(session, interaction.user.id, None)
    await interaction.response.send_message("🕓 Your time zone is forgotten.", ephemeral=True)


COMMANDS: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [
    event_group,
    timezone_group,
]
