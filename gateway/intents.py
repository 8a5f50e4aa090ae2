"""The gateway intents the suite needs, in one place so docs and code agree."""

from __future__ import annotations

import discord


def suite_intents() -> discord.Intents:
    """Guilds, members, message content (automod), reactions (RSVP), bans, voice (voice XP)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    intents.guild_reactions = True
    intents.moderation = True
    intents.guild_scheduled_events = True
    intents.voice_states = True
    intents.invites = True
    return intents
