"""Engagement config as pure domain rules, and the achievement grant gateway and worker share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dcs.server_config import ServerConfig
from domain.achievements import DEFAULT_ACHIEVEMENTS, AchievementRule, MemberCounters, newly_earned
from domain.leveling import LevelingRules, VoiceXPRules, progress
from domain.role_rewards import RoleReward
from storage.achievements import earned_keys, grant_achievement
from storage.levels import MemberLevel, adjust_xp


def leveling_rules(config: ServerConfig) -> LevelingRules:
    """The pure rules for one guild's XP section."""
    xp = config.xp
    return LevelingRules(
        min_gain=xp.min_gain if xp.enabled else 0,
        max_gain=xp.max_gain if xp.enabled else 0,
        cooldown_seconds=xp.cooldown_seconds,
        curve=xp.curve,
        max_level=xp.max_level,
        channel_multipliers=tuple(sorted(xp.channel_multipliers.items())),
        role_multipliers=tuple(sorted(xp.role_multipliers.items())),
        no_xp_channel_ids=frozenset(xp.no_xp_channel_ids),
        no_xp_role_ids=frozenset(xp.no_xp_role_ids),
        voice=VoiceXPRules(
            enabled=xp.voice.enabled and xp.enabled,
            min_gain=xp.voice.min_gain,
            max_gain=xp.voice.max_gain,
            cooldown_seconds=xp.voice.cooldown_seconds,
            min_listeners=xp.voice.min_listeners,
        ),
    )


def achievement_rules(config: ServerConfig) -> tuple[AchievementRule, ...]:
    """The server's achievements, or the built-in set when it defines none."""
    if config.achievements is None:
        return tuple(DEFAULT_ACHIEVEMENTS)
    return tuple(
        AchievementRule(
            key=a.key,
            name=a.name,
            description=a.description,
            counter=a.counter,
            threshold=a.threshold,
            role_id=a.role_id,
            xp_bonus=a.xp_bonus,
        )
        for a in config.achievements
    )


def role_rewards(config: ServerConfig) -> tuple[RoleReward, ...]:
    """Role rewards in level order."""
    return tuple(RoleReward(r.level, r.role_id) for r in config.xp.role_rewards)


def counters_of(row: MemberLevel, level: int) -> MemberCounters:
    """What the achievement rules look at, from the stored row."""
    return MemberCounters(
        messages=row.total_messages,
        streak_days=row.streak_days,
        events_attended=row.events_attended,
        tickets_helped=row.tickets_helped,
        reactions_received=row.reactions_received,
        invites=row.invites,
        level=level,
        xp=row.xp,
        voice_minutes=row.voice_minutes,
    )


def level_of(config: ServerConfig | None) -> Callable[[int], int]:
    """Stored levels follow the guild's own curve and cap."""
    curve = config.xp.curve if config else "mee6"
    cap = config.xp.max_level if config else None
    return lambda xp: progress(curve, xp, cap).level


async def grant_due_achievements(
    session: AsyncSession, row: MemberLevel, config: ServerConfig, *, now: datetime
) -> list[AchievementRule]:
    """Grant (once) every achievement the member's counters now reach, with its XP bonus."""
    rules = achievement_rules(config)
    if not rules:
        return []
    level = progress(config.xp.curve, row.xp, config.xp.max_level).level
    already = await earned_keys(session, row.guild_id, row.user_id)
    granted = []
    for rule in newly_earned(rules, counters_of(row, level), already):
        if await grant_achievement(session, row.guild_id, row.user_id, rule.key, granted_at=now):
            if rule.xp_bonus:
                await adjust_xp(
                    session, row.guild_id, row.user_id, rule.xp_bonus, level_of=level_of(config)
                )
            granted.append(rule)
    return granted
