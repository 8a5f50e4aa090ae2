"""/automod test: the dry run of `dcs automod check`, in Discord, for server managers."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from dcs.automod_check import compile_dry_run, describe_result, judge_texts
from gateway.commands.context import refused_without_manage_guild, suite_bot

automod_group = app_commands.Group(
    name="automod",
    description="Automod tools (admins)",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


@automod_group.command(name="test", description="Judge a message with this server's rules")
@app_commands.describe(text="The message to try; nothing is deleted or reported")
async def automod_test(
    interaction: discord.Interaction, text: app_commands.Range[str, 1, 2000]
) -> None:
    """Reply (only to the caller) with what the rules would do and the local model's score."""
    assert interaction.guild is not None
    if await refused_without_manage_guild(interaction):
        return
    bot = suite_bot(interaction)
    guild_id = interaction.guild.id
    await interaction.response.defer(ephemeral=True, thinking=True)
    # compiling a big rule set and loading the local model take a moment: off the event loop
    automod = await asyncio.to_thread(compile_dry_run, bot.guild_config(guild_id))
    [result] = await asyncio.to_thread(judge_texts, automod, guild_id, [text])
    await interaction.followup.send(
        describe_result(result, automod, guild_id),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


COMMANDS: list[app_commands.Command | app_commands.Group] = [automod_group]
