"""Announcement rows: the per-server number, what to post, and what the last run posted.

The Temporal Schedule decides *when*; the row says *what*, so a run always posts the text as it
is now, and lists and the API read the database rather than Temporal's eventually consistent
schedule listing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.announcements import AnnouncementSpec
from storage.models import Announcement
from storage.servers import ensure_server_exists, lock_server


def spec_of(row: Announcement) -> AnnouncementSpec:
    """The row as the domain's spec."""
    return AnnouncementSpec(
        channel_id=row.channel_id,
        title=row.title,
        body=row.body,
        colour=row.colour,
        role_id=row.role_id,
        cron=row.cron,
        interval_seconds=row.interval_seconds,
        at=row.at,
        timezone=row.timezone,
    )


def _columns(spec: AnnouncementSpec) -> dict[str, object]:
    return {
        "channel_id": spec.channel_id,
        "title": spec.title,
        "body": spec.body,
        "colour": spec.colour,
        "role_id": spec.role_id,
        "cron": spec.cron,
        "interval_seconds": spec.interval_seconds,
        "at": spec.at,
        "timezone": spec.timezone,
    }


async def add_announcement(
    session: AsyncSession, guild_id: int, spec: AnnouncementSpec, created_by: str
) -> Announcement:
    """Insert with the guild's next number (the server row is locked, so two creates differ)."""
    await ensure_server_exists(session, guild_id)
    await lock_server(session, guild_id)
    highest = await session.scalar(
        select(func.max(Announcement.number)).where(Announcement.guild_id == guild_id)
    )
    row = Announcement(
        guild_id=guild_id, number=(highest or 0) + 1, created_by=created_by, **_columns(spec)
    )
    session.add(row)
    await session.flush()
    return row


async def get_announcement(
    session: AsyncSession, guild_id: int, number: int
) -> Announcement | None:
    """One announcement by its per-server number (None when there is none)."""
    return await session.scalar(
        select(Announcement).where(Announcement.guild_id == guild_id, Announcement.number == number)
    )


async def list_announcements(session: AsyncSession, guild_id: int) -> list[Announcement]:
    """The server's announcements, by number."""
    rows = await session.scalars(
        select(Announcement).where(Announcement.guild_id == guild_id).order_by(Announcement.number)
    )
    return list(rows)


async def update_announcement(
    session: AsyncSession, guild_id: int, number: int, spec: AnnouncementSpec
) -> None:
    """Replace what is posted and when."""
    await session.execute(
        update(Announcement)
        .where(Announcement.guild_id == guild_id, Announcement.number == number)
        .values(**_columns(spec))
    )


async def set_paused(session: AsyncSession, guild_id: int, number: int, paused: bool) -> None:
    """Note the schedule's paused state on the row (lists need no Temporal call)."""
    await session.execute(
        update(Announcement)
        .where(Announcement.guild_id == guild_id, Announcement.number == number)
        .values(paused=paused)
    )


async def delete_announcement(session: AsyncSession, guild_id: int, number: int) -> bool:
    """Delete the row; False when there was none."""
    row = await get_announcement(session, guild_id, number)
    if row is None:
        return False
    await session.delete(row)
    return True


async def record_post(
    session: AsyncSession, guild_id: int, number: int, message_id: int, at: datetime
) -> None:
    """Note a run's post (a retried activity finds the same message id and changes nothing)."""
    await session.execute(
        update(Announcement)
        .where(
            Announcement.guild_id == guild_id,
            Announcement.number == number,
            (Announcement.last_message_id.is_(None)) | (Announcement.last_message_id != message_id),
        )
        .values(
            last_message_id=message_id,
            last_posted_at=at,
            post_count=Announcement.post_count + 1,
        )
    )
