"""Announcement commands: /announce create|list|delete|pause|resume|now (Manage Server).

`/announce create` takes exactly one of `cron` (read in `timezone`), `every` ("1d", "6h") or
`at` ("friday 8pm", read in the given zone, else the member's, else the server's). Every problem
with a request is listed in one reply and nothing is created. Replies use the server's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from dcs.natural_time import parse_duration, parse_when
from domain.announcements import COLOUR_DEFAULT, AnnouncementSpec, problems
from domain.catalogue import text
from gateway.commands.context import suite_bot as _bot
from gateway.commands.events import stamp, zone_autocomplete
from gateway.event_sync import events_settings
from gateway.event_times import zone_for
from storage.announcements import list_announcements, spec_of
from workflows.announcement_control import (
    AnnouncementNotFound,
    AnnouncementRejected,
    create_announcement,
    delete_announcement,
    post_now,
    set_paused,
    timing,
)

LIST_LIMIT = 15


def _language(interaction: discord.Interaction) -> str:
    assert interaction.guild_id is not None
    return _bot(interaction).guild_config(interaction.guild_id).language


def _say(interaction: discord.Interaction, key: str, **fields: Any) -> str:
    return text(key, _language(interaction), **fields)


def _manage_problem(interaction: discord.Interaction) -> str | None:
    """Why this member may not manage announcements (None when they may)."""
    if interaction.guild_id is None:
        return "This command only works in a server."
    if interaction.permissions.manage_guild:
        return None
    return "You need the Manage Server permission for that."


async def _allowed(interaction: discord.Interaction) -> bool:
    problem = _manage_problem(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return False
    await interaction.response.defer(ephemeral=True, thinking=True)
    return True


def _describe(spec: AnnouncementSpec) -> str:
    """When, in plain words: the cron and its zone, the interval, or the instant."""
    if spec.at is not None:
        return stamp(spec.at)
    if spec.interval_seconds is not None:
        return f"every {spec.interval_seconds // 60} min"
    return f"`{spec.cron}` ({spec.timezone})"


announce_group = app_commands.Group(
    name="announce",
    description="Scheduled announcements",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


@announce_group.command(name="create", description="Schedule an announcement")
@app_commands.describe(
    title="The embed's title",
    body="The embed's text",
    channel="Where to post (default: here)",
    cron="Recurring: a cron expression, e.g. '0 9 * * mon' (read in timezone)",
    every="Recurring: an interval, e.g. '1d' or '6h'",
    at="Once: when, e.g. 'friday 8pm' or '2026-12-24 19:00'",
    timezone="The zone for cron and at (default: yours, else the server's, else UTC)",
    role="Ping this role (and nobody else) with each post",
    colour="The embed's colour, e.g. #FF8800",
)
@app_commands.autocomplete(timezone=zone_autocomplete)
async def create(
    interaction: discord.Interaction,
    title: app_commands.Range[str, 1, 256],
    body: app_commands.Range[str, 0, 4000] | None = None,
    channel: discord.TextChannel | None = None,
    cron: str | None = None,
    every: str | None = None,
    at: str | None = None,
    timezone: str | None = None,
    role: discord.Role | None = None,
    colour: str | None = None,
) -> None:
    """Create the announcement and its Temporal Schedule."""
    if not await _allowed(interaction):
        return
    bot, guild_id = _bot(interaction), interaction.guild_id
    assert guild_id is not None
    now = datetime.now(UTC)
    found: list[str] = []
    server_zone = getattr(events_settings(bot.guild_config(guild_id)), "timezone", None)
    zone, zone_known = "UTC", False  # an interval needs no zone; cron and at are refused without
    try:
        zone, zone_known = (
            await zone_for(bot.sessions, interaction.user.id, server_zone, timezone),
            True,
        )
    except ValueError as exc:
        if timezone or cron or at:
            found.append(f"timezone: {exc}")
    interval = when = None
    unreadable = False  # an option given but unreadable: no "give one of" on top of it
    try:
        interval = int(parse_duration(every).total_seconds()) if every else None
    except ValueError as exc:
        found.append(f"every: {exc}")
        unreadable = True
    try:
        when = parse_when(at, zone, now) if at and zone_known else None
    except ValueError as exc:
        found.append(f"at: {exc}")
        unreadable = True
    if at and when is None:
        unreadable = True
    try:
        hue = int(colour.removeprefix("#"), 16) if colour else COLOUR_DEFAULT
    except ValueError:
        found.append("colour: use #RRGGBB")
        hue = COLOUR_DEFAULT
    spec = AnnouncementSpec(
        channel_id=channel.id if channel else interaction.channel_id or 0,
        title=title, body=body or "", colour=hue,
        role_id=role.id if role and not role.is_default() else None,
        cron=cron, interval_seconds=interval, at=when, timezone=zone,
    )  # fmt: skip
    if found:  # unreadable options: list them with whatever else is wrong, create nothing
        found += [p for p in problems(spec, now) if not (unreadable and p.startswith("schedule:"))]
    try:
        if found:
            raise AnnouncementRejected(found)
        number = await create_announcement(
            bot.temporal, bot.sessions, bot.task_queue, guild_id, spec,
            f"discord:{interaction.user.id}", now,
        )  # fmt: skip
    except AnnouncementRejected as exc:
        listed = "\n".join(f"• {p}" for p in exc.problems)
        await interaction.followup.send(
            f"⚠️ {_say(interaction, 'announcements.refused', problems=listed)}"[:2000],
            ephemeral=True,
        )
        return
    await interaction.followup.send(
        "📣 " + _say(interaction, "announcements.created", number=number, when=_describe(spec)),
        ephemeral=True,
    )


@announce_group.command(name="list", description="The server's scheduled announcements")
async def list_(interaction: discord.Interaction) -> None:
    """Number, title, channel, when, paused, and the next run."""
    if not await _allowed(interaction):
        return
    bot, guild_id = _bot(interaction), interaction.guild_id
    assert guild_id is not None
    async with bot.sessions() as session:
        rows = await list_announcements(session, guild_id)
    if not rows:
        await interaction.followup.send(_say(interaction, "announcements.none"), ephemeral=True)
        return
    lines = []
    for row in rows[:LIST_LIMIT]:
        line = f"**#{row.number}** {row.title} · <#{row.channel_id}> · {_describe(spec_of(row))}"
        if row.paused:
            line += f" · ⏸ {_say(interaction, 'announcements.paused_label')}"
        else:
            seen = await timing(bot.temporal, guild_id, row.number)
            if seen is not None and seen.next_runs:
                line += f" · ▶ <t:{int(seen.next_runs[0].timestamp())}:R>"
        lines.append(line)
    await interaction.followup.send("\n".join(lines)[:2000], ephemeral=True)


async def _act(interaction: discord.Interaction, number: int, action: str) -> None:
    """Delete, pause, resume or post now; the reply says what happened."""
    if not await _allowed(interaction):
        return
    bot, guild_id = _bot(interaction), interaction.guild_id
    assert guild_id is not None
    by = f"discord:{interaction.user.id}"
    try:
        if action == "deleted":
            await delete_announcement(bot.temporal, bot.sessions, guild_id, number)
        elif action in ("paused", "resumed"):
            paused = action == "paused"
            await set_paused(bot.temporal, bot.sessions, guild_id, number, paused, by)
        else:
            await post_now(bot.temporal, bot.sessions, guild_id, number)
    except AnnouncementNotFound:
        await interaction.followup.send(
            _say(interaction, "announcements.not_found", number=number), ephemeral=True
        )
        return
    await interaction.followup.send(
        _say(interaction, f"announcements.{action}", number=number), ephemeral=True
    )


@announce_group.command(name="delete", description="Delete an announcement and its schedule")
async def delete(interaction: discord.Interaction, number: int) -> None:
    """Delete it."""
    await _act(interaction, number, "deleted")


@announce_group.command(name="pause", description="Pause an announcement")
async def pause(interaction: discord.Interaction, number: int) -> None:
    """Pause its schedule."""
    await _act(interaction, number, "paused")


@announce_group.command(name="resume", description="Resume a paused announcement")
async def resume(interaction: discord.Interaction, number: int) -> None:
    """Resume its schedule."""
    await _act(interaction, number, "resumed")


@announce_group.command(name="now", description="Post an announcement now")
async def now(interaction: discord.Interaction, number: int) -> None:
    """Post it once now, whatever its timing."""
    await _act(interaction, number, "posting")


COMMANDS: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [announce_group]
