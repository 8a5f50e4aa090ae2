"""Answering interactions: shared by every feature's buttons and forms."""

from __future__ import annotations

import logging
from typing import Any

import discord

log = logging.getLogger(__name__)


def modal_value(data: dict[str, Any], field: str) -> str:
    """The value of one text input in a submitted form."""
    for row in data.get("components") or []:
        for component in row.get("components") or []:
            if component.get("custom_id") == field:
                return str(component.get("value") or "")
    return ""


async def tell(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral answer, whether or not the interaction was answered already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id)
