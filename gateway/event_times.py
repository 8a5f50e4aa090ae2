"""Which time zone a member's "friday 8pm" is read in: never a silent guess at UTC."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.events import zone
from storage.events import get_member_timezone

NO_ZONE = "I don't know your time zone yet: set it with /timezone set, or pass timezone"


async def zone_for(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    config_timezone: str | None,
    given: str | None,
) -> str:
    """The zone given in the command, else the member's own (/timezone set), else the server's."""
    if given:
        zone(given)  # ValueError with a sentence when unknown
        return given
    async with sessions() as session:
        own = await get_member_timezone(session, user_id)
    if own:
        return own
    if config_timezone:
        return config_timezone
    raise ValueError(NO_ZONE)
