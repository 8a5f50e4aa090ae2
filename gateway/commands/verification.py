"""/verification panel|status for staff, and /verify to let a member through by hand."""

from __future__ import annotations

import discord
from discord import app_commands

from gateway.commands.context import guild_of as _guild
from gateway.commands.context import suite_bot as _bot
from gateway.verification import grant, panel_view, pending_members

SHOWN = 10
"""Pending members listed by /verification status (the count covers everyone)."""


async def _refuse(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


verification_group = app_commands.Group(
    name="verification",
    description="The new-member verification gate (staff)",
    guild_only=True,
    default_permissions=discord.Permissions(moderate_members=True),
)


@verification_group.command(name="panel", description="Post the Verify button")
async def panel(interaction: discord.Interaction) -> None:
    """Post the panel in the configured channel (or here); admins only."""
    bot, guild = _bot(interaction), _guild(interaction)
    if not interaction.permissions.manage_guild:
        await _refuse(interaction, "You need the Manage Server permission for that.")
        return
    gate = bot.guild_config(guild.id).verification
    if not gate.enabled:
        await _refuse(interaction, "Verification is off; enable it in the server's config first.")
        return
    channel = guild.get_channel(gate.channel_id or interaction.channel_id or 0)
    if not isinstance(channel, discord.TextChannel):
        await _refuse(interaction, "The verification channel is not a text channel I can see.")
        return
    embed = discord.Embed(
        title=f"Welcome to {guild.name}",
        description="Press **Verify** to get access to the rest of the server.",
        color=0x2ECC71,
    )
    view = panel_view(guild.id)
    await channel.send(embed=embed, view=view)
    view.stop()  # the button is handled by custom id (also after a restart), not by this view
    await _refuse(interaction, f"Verification panel posted in {channel.mention}.")


@verification_group.command(name="status", description="Who has not verified yet")
async def status(interaction: discord.Interaction) -> None:
    """The pending count and the soonest deadlines."""
    bot, guild = _bot(interaction), _guild(interaction)
    if not interaction.permissions.moderate_members:
        await _refuse(interaction, "You need the Timeout Members permission for that.")
        return
    gate = bot.guild_config(guild.id).verification
    await interaction.response.defer(ephemeral=True, thinking=True)
    pending = await pending_members(bot, guild.id)
    lines = [
        f"Verification is {'on' if gate.enabled else 'off'} ({gate.mode}); "
        f"{len(pending)} member(s) pending."
    ]
    for entry in pending[:SHOWN]:
        raid = ", joined during a raid" if entry.during_raid else ""
        deadline = int(entry.deadline.timestamp())
        lines.append(f"<@{entry.user_id}>: {entry.on_timeout} <t:{deadline}:R>{raid}")
    await interaction.followup.send(
        "\n".join(lines), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


@app_commands.command(name="verify", description="Verify a member by hand")
@app_commands.describe(member="Who to let through")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def verify(interaction: discord.Interaction, member: discord.Member) -> None:
    """Grant the verified role and end the member's deadline."""
    bot, guild = _bot(interaction), _guild(interaction)
    if not interaction.permissions.moderate_members:
        await _refuse(interaction, "You need the Timeout Members permission for that.")
        return
    if not bot.guild_config(guild.id).verification.enabled:
        await _refuse(interaction, "Verification is not switched on in this server.")
        return
    if member.bot:
        await _refuse(interaction, "Bots do not go through verification.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    text = await grant(bot, member, f"by {interaction.user}")
    await interaction.followup.send(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


COMMANDS: list[app_commands.Command | app_commands.Group] = [verification_group, verify]
