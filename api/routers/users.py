"""Members: a member's engagement profile, and an admin setting a member's XP or level."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.server_config import XPConfig, default_server_config, parse_server_config
from domain.leveling import level_for_xp, progress, total_xp_for_level
from storage.achievements import list_achievements
from storage.levels import MAX_XP, MemberLevel, get_member_level, member_rank, set_xp
from storage.models import AuditLogEntry
from storage.servers import get_server_config
from storage.types import utcnow

router = APIRouter(
    prefix="/api/servers/{server_id}/users/{user_id}",
    tags=["users"],
    responses=error_responses(*AUTHENTICATED, 400, 404),
)

UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The member's Discord id")]
MAX_SETTABLE_LEVEL = 10_000


async def xp_settings(session: AsyncSession, server_id: int) -> XPConfig:
    """The server's XP section (curve and level cap), defaults when it was never configured."""
    raw, _ = await get_server_config(session, server_id)
    config = parse_server_config(raw) if raw is not None else default_server_config()
    return config.xp


def level_of(xp: XPConfig) -> Callable[[int], int]:
    """The level a total reaches on the server's curve, capped at its max level."""
    return lambda total: level_for_xp(xp.curve, total, max_level=xp.max_level)


class CountersOut(BaseModel):
    """What the member has done, as the achievements count it."""

    messages: int
    voice_minutes: int
    streak_days: int
    reactions_received: int
    events_attended: int
    tickets_helped: int
    invites: int


class AchievementOut(BaseModel):
    """An achievement the member holds."""

    key: str
    granted_at: datetime


class ProfileOut(BaseModel):
    """A member's standing: XP, level and progress on the server's curve, rank, counters."""

    server_id: str
    user_id: str
    xp: int
    level: int
    xp_into_level: int
    xp_needed: int = Field(description="XP still needed for the next level (0 at the cap)")
    at_max_level: bool
    rank: int
    counters: CountersOut
    streak_last_day: date | None
    last_active: datetime | None
    achievements: list[AchievementOut]


@router.get("/profile", response_model=ProfileOut)
async def profile(
    server_id: int, user_id: UserId, session: SessionDep, caller: CallerDep
) -> ProfileOut:
    """The member's profile; 404 for someone who never earned anything on the server."""
    caller.require(server_id, "viewer")
    row = await get_member_level(session, server_id, user_id)
    if row is None:
        raise ApiError(404, "member_not_found", f"No engagement recorded for member {user_id}.")
    xp = await xp_settings(session, server_id)
    standing = progress(xp.curve, row.xp, xp.max_level)
    rank = await member_rank(session, server_id, user_id)
    earned = await list_achievements(session, server_id, user_id)
    return ProfileOut(
        server_id=str(server_id),
        user_id=str(user_id),
        xp=row.xp,
        level=standing.level,
        xp_into_level=standing.xp_into_level,
        xp_needed=standing.xp_needed,
        at_max_level=standing.at_max,
        rank=rank or 0,
        counters=_counters(row),
        streak_last_day=row.streak_last_day,
        last_active=row.last_active,
        achievements=[AchievementOut(key=a.key, granted_at=a.granted_at) for a in earned],
    )


def _counters(row: MemberLevel) -> CountersOut:
    return CountersOut(
        messages=row.total_messages,
        voice_minutes=row.voice_minutes,
        streak_days=row.streak_days,
        reactions_received=row.reactions_received,
        events_attended=row.events_attended,
        tickets_helped=row.tickets_helped,
        invites=row.invites,
    )


class LevelIn(BaseModel):
    """Exactly one of `xp` (a new total) or `level` (the total that starts that level)."""

    model_config = ConfigDict(extra="forbid")

    xp: int | None = Field(default=None, ge=0, le=MAX_XP)
    level: int | None = Field(default=None, ge=0, le=MAX_SETTABLE_LEVEL)

    @model_validator(mode="after")
    def _exactly_one(self) -> LevelIn:
        if (self.xp is None) == (self.level is None):
            raise ValueError('send exactly one of "xp" or "level"')
        return self


class Standing(BaseModel):
    """XP and level at one moment."""

    xp: int
    level: int


class LevelChangeOut(BaseModel):
    """The member's new standing, and the one it replaced (null for a new member)."""

    server_id: str
    user_id: str
    xp: int
    level: int
    before: Standing | None


@router.put("/level", response_model=LevelChangeOut)
async def put_level(
    server_id: int, user_id: UserId, body: LevelIn, session: SessionDep, caller: CallerDep
) -> LevelChangeOut:
    """Set a member's XP, or put them at the start of a level; audit-logged with before/after."""
    caller.require(server_id, "admin")
    async with session.begin():
        xp_config = await xp_settings(session, server_id)
        total = body.xp if body.xp is not None else _start_of(xp_config, body.level or 0)
        old = await get_member_level(session, server_id, user_id)
        row = await set_xp(session, server_id, user_id, total, level_of=level_of(xp_config))
        before = None if old is None else Standing(xp=old.xp, level=old.level)
        after = Standing(xp=row.xp, level=row.level)
        session.add(
            AuditLogEntry(
                guild_id=server_id,
                actor=caller.name,
                action="levels.set",
                target=f"user:{user_id}",
                before=None if before is None else before.model_dump(),
                after=after.model_dump(),
                created_at=utcnow(),
            )
        )
    return LevelChangeOut(
        server_id=str(server_id), user_id=str(user_id), xp=row.xp, level=row.level, before=before
    )


def _start_of(xp: XPConfig, level: int) -> int:
    """Cumulative XP of a level on the server's curve, refusing levels the server cannot reach."""
    if xp.max_level is not None and level > xp.max_level:
        raise ApiError(
            422, "invalid_level", f"Level {level} is above the server's max_level {xp.max_level}."
        )
    total = total_xp_for_level(xp.curve, level)
    if total > MAX_XP:
        raise ApiError(422, "invalid_level", f"Level {level} needs more XP than can be stored.")
    return total
