"""Engagement activities for workflows: rewards that other features hand out (events, tickets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dcs.engagement import grant_due_achievements, level_of
from dcs.server_config import stored_or_default
from storage.achievements import record_award
from storage.levels import adjust_xp, bump_counter, get_member_level
from storage.servers import get_server_config


@dataclass(frozen=True)
class EventParticipationInput:
    """A member attended an event: the events feature's hook into engagement."""

    guild_id: int
    user_id: int
    event_id: int
    xp: int
    attended_at: datetime
    occurrence: int = 0
    """Which date of a recurring event: each pays once."""


@dataclass(frozen=True)
class ParticipationResult:
    """What the member got; `already` when an earlier attempt paid it."""

    already: bool
    xp_awarded: int
    achievements: list[str]


class EngagementActivities:
    """Rewards written straight to the record, idempotent by award key."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="award_event_participation")
    async def award_event_participation(self, inp: EventParticipationInput) -> ParticipationResult:
        """+1 event attended, the event's XP, and any achievement that now applies, once."""
        if inp.xp < 0:
            raise ApplicationError("event XP cannot be negative", non_retryable=True)
        async with self._sessions() as session, session.begin():
            raw, _ = await get_server_config(session, inp.guild_id)
            config = stored_or_default(raw)
            key = f"event:{inp.event_id}" + (f":{inp.occurrence}" if inp.occurrence else "")
            if not await record_award(
                session, inp.guild_id, inp.user_id, key, xp=inp.xp, granted_at=inp.attended_at
            ):
                return ParticipationResult(already=True, xp_awarded=0, achievements=[])
            await bump_counter(session, inp.guild_id, inp.user_id, "events_attended")
            if inp.xp:
                await adjust_xp(
                    session, inp.guild_id, inp.user_id, inp.xp, level_of=level_of(config)
                )
            row = await get_member_level(session, inp.guild_id, inp.user_id)
            assert row is not None  # bump_counter created it
            granted = await grant_due_achievements(session, row, config, now=inp.attended_at)
        return ParticipationResult(
            already=False, xp_awarded=inp.xp, achievements=[r.key for r in granted]
        )
