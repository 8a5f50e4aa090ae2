"""Engagement in the gateway: XP on the fast path, write-behind flushes, level-ups, achievements.

XP is awarded in memory (domain/xp_tracker.py) and written to the database in one batch every
FLUSH_SECONDS. A crash loses at most that window of XP (documented in docs/engagement.md); a
failed write puts the batch back, so a database outage loses nothing while the process lives.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dcs.engagement import grant_due_achievements, level_of, leveling_rules
from dcs.server_config import ServerConfig
from domain.achievements import AchievementRule, next_streak
from domain.leveling import LevelingRules
from domain.xp_tracker import Source, XPAward, XPDelta, XPTracker
from storage.levels import (
    MemberLevel,
    apply_xp_batch,
    bump_counter,
    get_member_level,
    update_streak,
)

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Earned:
    """An achievement a member has just been granted."""

    guild_id: int
    user_id: int
    rule: AchievementRule


ConfigOf = Callable[[int], ServerConfig | None]
OnEarned = Callable[[Earned], Awaitable[None]]


def _by_guild(deltas: Sequence[XPDelta]) -> dict[int, list[XPDelta]]:
    grouped: dict[int, list[XPDelta]] = {}
    for delta in deltas:
        grouped.setdefault(delta.guild_id, []).append(delta)
    return grouped


class EngagementService:
    """Owns the XP tracker and its flush loop; the bot asks it on every message."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config_of: ConfigOf,
        on_earned: OnEarned | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._config_of = config_of
        self._on_earned = on_earned
        self._rng = rng or random.Random()  # noqa: S311 - XP rolls, not security
        self.tracker = XPTracker()
        self._rules: dict[int, tuple[int, LevelingRules]] = {}
        self.flush_failures = 0

    def rules_for(self, guild_id: int, config: ServerConfig, version: int) -> LevelingRules:
        """Compiled leveling rules, cached per config version."""
        cached = self._rules.get(guild_id)
        if cached is None or cached[0] != version:
            cached = (version, leveling_rules(config))
            self._rules[guild_id] = cached
        return cached[1]

    async def award(
        self,
        rules: LevelingRules,
        *,
        guild_id: int,
        user_id: int,
        channel_id: int,
        role_ids: frozenset[int],
        now: datetime,
        source: Source = "message",
    ) -> XPAward | None:
        """Award XP; loads the stored total once so level-ups can be told at once."""
        award = self.tracker.award(
            rules,
            guild_id=guild_id,
            user_id=user_id,
            channel_id=channel_id,
            role_ids=role_ids,
            now=now,
            roll=self._rng.random(),
            source=source,
        )
        if award is None or award.total_before is not None:
            return award
        async with self._sessions() as session:
            row = await get_member_level(session, guild_id, user_id)
        self.tracker.set_known_total(guild_id, user_id, row.xp if row is not None else 0)
        return self.tracker.level_change(rules, award)

    async def flush(self) -> int:
        """Write pending XP in one transaction; on failure put it back. Returns rows written."""
        deltas = self.tracker.drain()
        if not deltas:
            return 0
        try:
            async with self._sessions() as session, session.begin():
                totals: dict[tuple[int, int], int] = {}
                for guild_id, batch in sorted(_by_guild(deltas).items()):  # one lock order
                    level_of = self.level_of(guild_id)
                    totals |= await apply_xp_batch(session, batch, level_of=level_of)
                earned = await self._after_write(session, deltas)
        except Exception:
            self.tracker.restore(deltas)
            self.flush_failures += 1
            log.exception("XP flush of %d members failed; will retry", len(deltas))
            return 0
        for (guild_id, user_id), total in totals.items():
            self.tracker.confirm(guild_id, user_id, total)
        if self._on_earned is not None:
            for item in earned:
                await self._on_earned(item)
        return len(deltas)

    def level_of(self, guild_id: int) -> Callable[[int], int]:
        """Stored levels follow the guild's own curve and cap."""
        return level_of(self._config_of(guild_id))

    async def _after_write(self, session: AsyncSession, deltas: Sequence[XPDelta]) -> list[Earned]:
        """Streaks and achievements for the members just written, in the same transaction."""
        earned: list[Earned] = []
        for delta in deltas:
            config = self._config_of(delta.guild_id)
            if config is None:
                continue
            row = await get_member_level(session, delta.guild_id, delta.user_id)
            if row is None:
                continue
            row = await self._streak(session, row, delta, config)
            earned += await self._achievements(session, row, config)
        return earned

    async def _streak(
        self, session: AsyncSession, row: MemberLevel, delta: XPDelta, config: ServerConfig
    ) -> MemberLevel:
        if delta.messages <= 0 or delta.last_active is None:
            return row
        today = delta.last_active.astimezone(ZoneInfo(config.xp.streak_timezone)).date()
        if row.streak_last_day == today:
            return row
        streak = next_streak(row.streak_last_day, row.streak_days, today)
        await update_streak(session, row.guild_id, row.user_id, streak, today)
        refreshed = await get_member_level(session, row.guild_id, row.user_id)
        return refreshed or row

    async def _achievements(
        self, session: AsyncSession, row: MemberLevel, config: ServerConfig
    ) -> list[Earned]:
        granted = await grant_due_achievements(session, row, config, now=datetime.now(UTC))
        return [Earned(row.guild_id, row.user_id, rule) for rule in granted]

    async def bump(self, guild_id: int, user_id: int, counter: str) -> list[Earned]:
        """Count one more of something (a reaction received, ...) and grant what it earns."""
        config = self._config_of(guild_id)
        if config is None:
            return []
        async with self._sessions() as session, session.begin():
            await bump_counter(session, guild_id, user_id, counter)
            row = await get_member_level(session, guild_id, user_id)
            earned = await self._achievements(session, row, config) if row else []
        if self._on_earned is not None:
            for item in earned:
                await self._on_earned(item)
        return earned

    async def run_flusher(self) -> None:
        """Flush every FLUSH_SECONDS until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())
