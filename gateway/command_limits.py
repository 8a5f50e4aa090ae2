"""Rate limits on the suite's own commands and buttons, checked once per interaction.

Slash and context-menu commands pass `SuiteCommandTree.interaction_check`; buttons and menus
pass `allow_component` from the bot's `on_interaction` before any feature sees them. A refused
interaction gets one ephemeral "too fast" answer and nothing else happens. Form submissions are
not counted: they answer a button that was. Members with Manage Server are exempt by default.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from dcs.server_config import CommandRate
from domain.command_limits import CommandLimiter, Rate

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)


def _rate(config: CommandRate) -> Rate:
    return Rate(config.uses, float(config.seconds))


def too_fast_message(wait: float) -> str:
    """The refusal, with whole seconds rounded up so trying again then works."""
    return f"You're doing that too fast, try again in {max(1, math.ceil(wait))} s."


class SuiteCommandTree(app_commands.CommandTree["SuiteBot"]):
    """The bot's command tree, with the per-member and per-server limits in front of it."""

    def __init__(self, client: SuiteBot) -> None:
        super().__init__(client)
        self.limiter = CommandLimiter()

    async def interaction_check(self, interaction: discord.Interaction[SuiteBot]) -> bool:
        """Every slash command of the suite passes here first."""
        return await self.allow(interaction)

    async def allow_component(self, interaction: discord.Interaction) -> bool:
        """Buttons and menus pass here (other interaction kinds are not limited here)."""
        if interaction.type != discord.InteractionType.component:
            return True
        return await self.allow(interaction)

    async def allow(self, interaction: discord.Interaction) -> bool:
        """Take a use from the member's and the server's buckets; refuse politely when empty."""
        guild_id = interaction.guild_id
        if guild_id is None:
            return True
        limits = self.client.guild_config(guild_id).commands
        if not limits.enabled or (limits.exempt_managers and interaction.permissions.manage_guild):
            return True
        wait = self.limiter.take(
            guild_id,
            interaction.user.id,
            _rate(limits.per_member),
            _rate(limits.per_guild),
            time.monotonic(),
        )
        if wait <= 0:
            return True
        try:
            await interaction.response.send_message(too_fast_message(wait), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not refuse interaction %s", interaction.id)
        return False
