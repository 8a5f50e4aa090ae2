"""Voice XP: once a minute, members in voice with company earn XP (no farming alone or muted)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import discord

from domain.leveling import LevelingRules, VoiceState, voice_minute_eligible

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

VOICE_TICK_SECONDS = 60.0
T = TypeVar("T")


def voice_state_of(member: discord.Member) -> VoiceState:
    """The plain snapshot the domain rule reads."""
    voice = member.voice
    channel = voice.channel if voice else None
    afk = member.guild.afk_channel
    return VoiceState(
        self_mute=bool(voice and voice.self_mute),
        self_deaf=bool(voice and voice.self_deaf),
        server_mute=bool(voice and voice.mute),
        server_deaf=bool(voice and voice.deaf),
        is_bot=member.bot,
        channel_id=channel.id if channel else None,
        afk_channel=afk is not None and channel is not None and channel.id == afk.id,
    )


def voice_earners(people: Sequence[tuple[T, VoiceState]], rules: LevelingRules) -> list[T]:
    """Who in one channel earns this minute: eligible, with enough eligible company."""
    floor = rules.voice.min_listeners
    active = [who for who, state in people if voice_minute_eligible(state, floor, rules)]
    return active if len(active) - 1 >= floor else []


async def voice_tick(bot: SuiteBot, now: datetime) -> int:
    """Award one voice minute to every earner in every guild with voice XP on."""
    awarded = 0
    for guild in bot.guilds:
        rules_entry = bot.rules.get(guild.id)
        if rules_entry is None or not rules_entry.config.xp.voice.enabled:
            continue
        if bot.tiers.paused(guild.id):  # over its tier's limits: XP is paused (gateway.tiers)
            continue
        rules = bot.engagement.rules_for(guild.id, rules_entry.config, rules_entry.version)
        for channel in guild.voice_channels:
            people = [(m, voice_state_of(m)) for m in channel.members]
            for member in voice_earners(people, rules):
                award = await bot.engagement.award(
                    rules,
                    guild_id=guild.id,
                    user_id=member.id,
                    channel_id=channel.id,
                    role_ids=frozenset(r.id for r in member.roles),
                    now=now,
                    source="voice",
                )
                awarded += award is not None
    return awarded


async def run_voice_ticker(bot: SuiteBot) -> None:
    """Tick every minute until cancelled."""
    while True:
        await asyncio.sleep(VOICE_TICK_SECONDS)
        await voice_tick(bot, datetime.now(UTC))
