"""Support tickets as their workflows save them, numbered per guild.

The workflow (`ticket:{guild}:{n}`) owns a ticket's live state; the row is what it last saved,
for the API's lists, the per-member limit and the gateway's "which ticket is this thread?".
Opening is the one write outside the workflow: it numbers the ticket and counts the member's
open ones in the same transaction, behind the guild row's lock, so two quick clicks cannot both
slip under the limit.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.tickets import OPEN, TicketSpec, TicketView
from storage.models import SupportTicket
from storage.servers import allocate_ticket_number


class TooManyOpen(Exception):
    """The member already has as many open tickets as the server allows."""

    def __init__(self, open_count: int, limit: int) -> None:
        super().__init__(f"{open_count} open tickets (limit {limit})")
        self.open_count = open_count
        self.limit = limit


async def count_open(session: AsyncSession, guild_id: int, user_id: int) -> int:
    """How many open tickets a member has in a guild."""
    query = select(func.count()).where(
        SupportTicket.guild_id == guild_id,
        SupportTicket.user_id == user_id,
        SupportTicket.status == OPEN,
    )
    return int((await session.execute(query)).scalar_one())


async def insert_ticket(session: AsyncSession, spec: TicketSpec, limit: int, now: datetime) -> int:
    """Number a new ticket and write its row; TooManyOpen (nothing written) over the limit.

    The number is taken first: that UPDATE locks the guild's row until commit, so the count
    that follows cannot race another open for the same guild.
    """
    number = await allocate_ticket_number(session, spec.guild_id)
    open_count = await count_open(session, spec.guild_id, spec.user_id)
    if open_count >= limit:
        raise TooManyOpen(open_count, limit)
    session.add(
        SupportTicket(
            guild_id=spec.guild_id,
            number=number,
            user_id=spec.user_id,
            subject=spec.subject,
            category=spec.category,
            status=OPEN,
            source=spec.source,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return number


async def delete_ticket(session: AsyncSession, guild_id: int, number: int) -> None:
    """Take back a row whose workflow never started (the number stays used)."""
    await session.execute(
        delete(SupportTicket).where(
            SupportTicket.guild_id == guild_id, SupportTicket.number == number
        )
    )


async def save_ticket_state(session: AsyncSession, view: TicketView, now: datetime) -> None:
    """Write the workflow's view of the ticket onto its row (idempotent)."""
    values: dict[str, Any] = {
        "subject": view.subject,
        "category": view.category,
        "status": view.status,
        "claimed_by": view.claimed_by,
        "assigned_to": view.assigned_to,
        "close_reason": view.close_reason,
        "closed_by": view.closed_by,
        "closed_at": view.closed_at,
        "reopen_count": view.reopen_count,
        "rating": view.rating,
        "updated_at": now,
    }
    if view.channel_id is not None:
        values["thread_id"] = view.channel_id
    if view.rating is not None:
        values["rated_at"] = func.coalesce(SupportTicket.rated_at, now)
    await session.execute(
        update(SupportTicket)
        .where(SupportTicket.guild_id == view.guild_id, SupportTicket.number == view.number)
        .values(values)
        .execution_options(synchronize_session=False)
    )


async def save_space(
    session: AsyncSession, guild_id: int, number: int, parent_id: int | None, space_id: int
) -> None:
    """Record the ticket's thread (and its parent channel) or its own channel."""
    await session.execute(
        update(SupportTicket)
        .where(SupportTicket.guild_id == guild_id, SupportTicket.number == number)
        .values(channel_id=parent_id, thread_id=space_id)
        .execution_options(synchronize_session=False)
    )


async def store_transcript(
    session: AsyncSession, guild_id: int, number: int, transcript: str
) -> None:
    """Keep the transcript of the last close (a reopened ticket's next close replaces it)."""
    await session.execute(
        update(SupportTicket)
        .where(SupportTicket.guild_id == guild_id, SupportTicket.number == number)
        .values(transcript=transcript)
        .execution_options(synchronize_session=False)
    )


async def get_ticket(session: AsyncSession, guild_id: int, number: int) -> SupportTicket | None:
    """One ticket's row."""
    return (
        await session.scalars(
            select(SupportTicket).where(
                SupportTicket.guild_id == guild_id, SupportTicket.number == number
            )
        )
    ).one_or_none()


async def find_ticket_by_space(session: AsyncSession, space_id: int) -> tuple[int, int] | None:
    """(guild, number) of the ticket whose thread or channel this is."""
    row = (
        await session.execute(
            select(SupportTicket.guild_id, SupportTicket.number).where(
                SupportTicket.thread_id == space_id
            )
        )
    ).first()
    return None if row is None else (row.guild_id, row.number)


async def open_ticket_spaces(session: AsyncSession) -> dict[int, tuple[int, int]]:
    """Every open ticket's thread or channel -> (guild, number): the gateway's starting set."""
    rows = await session.execute(
        select(SupportTicket.thread_id, SupportTicket.guild_id, SupportTicket.number).where(
            SupportTicket.status == OPEN, SupportTicket.thread_id.is_not(None)
        )
    )
    return {int(r.thread_id): (r.guild_id, r.number) for r in rows}


@dataclass(frozen=True)
class TicketPage:
    """Tickets newest first; pass `next_cursor` back for the next page (None: the last)."""

    items: list[SupportTicket] = field(default_factory=list)
    next_cursor: str | None = None


def _encode(number: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([number]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(key, list) and len(key) == 1 and isinstance(key[0], int):
            return key[0]
    except (ValueError, TypeError):
        pass
    raise ValueError("the cursor is not one this API gave out")


async def list_tickets(
    session: AsyncSession,
    guild_id: int,
    *,
    status: str | None = None,
    category: str | None = None,
    user_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> TicketPage:
    """The guild's tickets, newest (highest number) first, keyset-paginated by number."""
    query = select(SupportTicket).where(SupportTicket.guild_id == guild_id)
    if status is not None:
        query = query.where(SupportTicket.status == status)
    if category is not None:
        query = query.where(SupportTicket.category == category)
    if user_id is not None:
        query = query.where(SupportTicket.user_id == user_id)
    if cursor:
        query = query.where(SupportTicket.number < _decode(cursor))
    query = query.order_by(SupportTicket.number.desc()).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    return TicketPage(page, _encode(page[-1].number) if len(rows) > limit else None)


__all__ = [
    "TicketPage",
    "TooManyOpen",
    "count_open",
    "delete_ticket",
    "find_ticket_by_space",
    "get_ticket",
    "insert_ticket",
    "list_tickets",
    "open_ticket_spaces",
    "save_space",
    "save_ticket_state",
    "store_transcript",
]
