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
