"""The gateway's outbox: hand-offs to Temporal that failed, kept until they succeed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxEntry

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Pending:
    """One entry waiting to be handed over."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


async def put(session: AsyncSession, kind: str, payload: dict[str, Any]) -> int:
    """Keep a hand-off for later; returns its id."""
    row = OutboxEntry(kind=kind, payload=payload)
    session.add(row)
    await session.flush()
    return row.id


async def oldest(session: AsyncSession, *, limit: int = 100) -> list[Pending]:
    """The oldest waiting entries, in the order they were written."""
    rows = await session.scalars(select(OutboxEntry).order_by(OutboxEntry.id).limit(limit))
    return [Pending(r.id, r.kind, dict(r.payload), r.attempts) for r in rows]


async def done(session: AsyncSession, entry_id: int) -> None:
    """The hand-off went through: forget it."""
    await session.execute(delete(OutboxEntry).where(OutboxEntry.id == entry_id))


async def failed(session: AsyncSession, entry_id: int, error: str) -> None:
    """Count a failed attempt and remember why."""
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == entry_id)
        .values(attempts=OutboxEntry.attempts + 1, last_error=error[:MAX_ERROR_LENGTH])
    )
