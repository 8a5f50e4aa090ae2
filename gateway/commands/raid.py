"""Raid commands: /lockdown starts the guild's lockdown by hand, /unlock lifts it, /raid shows it.

They drive the same `raid:{guild}` workflow the detector starts; a lockdown already running just
hears about it. Both need Manage Server (checked again here: default permissions only hide).
"""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from discord import app_commands

from domain.lockdown import RaidReport, UnlockRequest
from gateway.commands.context import suite_bot as _bot
from workflows.raid import LockdownStatus, RaidLockdownInput
from workflows.raid_control import lockdown_status, start_lockdown, unlock


def _refused(interaction: discord.Interaction) -> str | None:
    if interaction.guild is None:
        return "This command only works in a server."
    if not interaction.permissions.manage_guild:
        return "You need the Manage Server permission for that."
    return None


def status_text(status: LockdownStatus | None) -> str:
    """The lockdown as one short message."""
    if status is None or not status.active:
        return "No lockdown is active."
    if status.incident_number is None:
        return "🔒 A lockdown is starting: channels are being locked."
    lifts = f"<t:{int(status.lifts_at.timestamp())}:R>" if status.lifts_at else "on /unlock"
    started = f"<t:{int(status.started_at.timestamp())}:R>" if status.started_at else "?"
    return (
        f"🔒 Lockdown #{status.incident_number} active since {started} "
        f"(by {status.started_by}: {status.reason}).\n"
        f"{status.channels_locked} channels locked; {status.suspects} suspects, "
        f"{status.removed} removed, {len(status.pending_approval_ids)} removal approvals "
        f"pending. It lifts {lifts} if it stays quiet."
    )


@app_commands.command(name="lockdown", description="Lock the server down now (raid)")
@app_commands.describe(reason="Why (logged and shown to the staff)", minutes="Lift after this long")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def lockdown(
    interaction: discord.Interaction,
    reason: app_commands.Range[str, 1, 300] = "manual lockdown",
    minutes: app_commands.Range[int, 1, 10080] | None = None,
) -> None:
    """Start (or keep going) the guild's lockdown."""
    problem = _refused(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild is not None
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    by = f"discord:{interaction.user.id}"
    inp = RaidLockdownInput(interaction.guild.id, "manual", by, reason, duration_minutes=minutes)
    await start_lockdown(bot.temporal, bot.task_queue, inp, RaidReport(datetime.now(UTC)))
    bot.raid_link.note_started(interaction.guild.id)
    until = f" for {minutes} min" if minutes else ""
    await interaction.followup.send(
        f"🔒 Lockdown started{until}: channels are being locked and invites paused. "
        "/unlock lifts it and restores everything.",
        ephemeral=True,
    )


@app_commands.command(name="unlock", description="Lift the lockdown and restore the server")
@app_commands.describe(reason="Why (logged)")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def unlock_command(
    interaction: discord.Interaction, reason: app_commands.Range[str, 0, 300] = ""
) -> None:
    """Ask the guild's lockdown to lift."""
    problem = _refused(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    req = UnlockRequest(f"discord:{interaction.user.id}", reason)
    lifted = await unlock(_bot(interaction).temporal, interaction.guild.id, req)
    text = (
        "🔓 Lifting the lockdown: overwrites, slowmode, verification level and invites are "
        "being restored."
        if lifted
        else "No lockdown is active."
    )
    await interaction.followup.send(text, ephemeral=True)


@app_commands.command(name="raid", description="Show the current lockdown, if any")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def raid_status(interaction: discord.Interaction) -> None:
    """The guild's lockdown status."""
    problem = _refused(interaction)
    if problem is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    status = await lockdown_status(_bot(interaction).temporal, interaction.guild.id)
    await interaction.followup.send(status_text(status), ephemeral=True)


COMMANDS: list[app_commands.Command] = [lockdown, unlock_command, raid_status]
