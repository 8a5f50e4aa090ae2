"""What every slash command needs from its interaction: the suite's bot and the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord

if TYPE_CHECKING:
    from gateway.bot import SuiteBot


def suite_bot(interaction: discord.Interaction) -> SuiteBot:
    """The suite's bot the interaction came to."""
    return cast("SuiteBot", interaction.client)


def guild_of(interaction: discord.Interaction) -> discord.Guild:
    """The server of a guild-only command."""
    assert interaction.guild is not None  # every command using this is guild_only
    return interaction.guild


async def refused_without_manage_guild(interaction: discord.Interaction) -> bool:
    """True (and the caller told so, privately) when the caller lacks Manage Server.

    `default_permissions` only hides a command by default; a server can grant it to anyone in
    its integration settings, so commands that change or reveal the server's setup check too.
    """
    actor = interaction.user
    if isinstance(actor, discord.Member) and actor.guild_permissions.manage_guild:
        return False
    await interaction.response.send_message("You need Manage Server for that.", ephemeral=True)
    return True
