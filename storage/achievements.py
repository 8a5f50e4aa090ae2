"""Achievements members have earned: granted once (the primary key says so), listed with dates."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Achievement, EngagementAward
from storage.servers import ensure_server_exists
from storage.types import as_utc
from storage.upsert import insert

MAX_KEY_LENGTH = 64
"""`achievements.achievement_key` is VARCHAR(64)."""


class EarnedAchievement(NamedTuple):
    """An achievement a member holds and when it was granted; unpacks as (key, granted_at)."""

    key: str
    granted_at: datetime


async def grant_achievement(
    session: AsyncSession, guild_id: int, user_id: int, key: str, *, granted_at: datetime
) -> bool:
    """Grant an achievement; True only the first time, so a retried grant never repeats a reward."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ValueError(f"achievement key must be 1..{MAX_KEY_LENGTH} characters: {key!r}")
    await ensure_server_exists(session, guild_id)
    stmt = (
        insert(session, Achievement)
        .values(guild_id=guild_id, user_id=user_id, achievement_key=key, granted_at=granted_at)
        .on_conflict_do_nothing(
            index_elements=[Achievement.guild_id, Achievement.user_id, Achievement.achievement_key]
        )
        .returning(Achievement.achievement_key)
    )
    return (await session.execute(stmt)).first() is not None


async def list_achievements(
    session: AsyncSession, guild_id: int, user_id: int
) -> list[EarnedAchievement]:
    """The member's achievements, oldest first."""
    rows = await session.execute(
        select(Achievement.achievement_key, Achievement.granted_at)
        .where(Achievement.guild_id == guild_id, Achievement.user_id == user_id)
        .order_by(Achievement.granted_at, Achievement.achievement_key)
    )
    return [EarnedAchievement(key, as_utc(granted_at)) for key, granted_at in rows]


async def earned_keys(session: AsyncSession, guild_id: int, user_id: int) -> frozenset[str]:
    """Keys of the achievements the member holds, for deciding what is newly earned."""
    keys = await session.scalars(
        select(Achievement.achievement_key).where(
            Achievement.guild_id == guild_id, Achievement.user_id == user_id
        )
    )
    return frozenset(keys)


async def record_award(
    session: AsyncSession, guild_id: int, user_id: int, key: str, *, xp: int, granted_at: datetime
) -> bool:
    """Note a one-off reward (e.g. `event:42`); True only the first time, so retries pay once."""
    if not 0 < len(key) <= 100:
        raise ValueError(f"award key must be 1..100 characters: {key!r}")
    await ensure_server_exists(session, guild_id)
    stmt = (
        insert(session, EngagementAward)
        .values(guild_id=guild_id, user_id=user_id, award_key=key, xp=xp, granted_at=granted_at)
        .on_conflict_do_nothing(
            index_elements=[
                EngagementAward.guild_id,
                EngagementAward.user_id,
                EngagementAward.award_key,
            ]
        )
        .returning(EngagementAward.award_key)
    )
    return (await session.execute(stmt)).first() is not None
