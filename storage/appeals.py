"""Appeals against a ban or timeout: one pending appeal per member and sanction at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appeal
from storage.servers import lock_server
from storage.types import as_utc

MAX_APPEAL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class AppealRecord:
    """A stored appeal, detached from the session."""

    id: str
    guild_id: int
    user_id: int
    sanction: str
    text: str
    status: str
    approval_id: str | None
    created_at: datetime
    decided_at: datetime | None


class AppealPending(Exception):
    """The member already has an appeal waiting against this sanction."""

    def __init__(self, existing: AppealRecord) -> None:
        super().__init__(f"appeal {existing.id} is still pending")
        self.existing = existing


async def open_appeal(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    sanction: str,
    text: str,
    created_at: datetime,
) -> AppealRecord:
    """Store a new pending appeal, or raise AppealPending if one is already waiting.

    The guild row is locked first, so two submissions at the same moment cannot both pass the
    check (the second waits, then sees the first).
    """
    if sanction not in ("ban", "timeout"):
        raise ValueError(f"only a ban or a timeout can be appealed, not {sanction!r}")
    text = text.strip()
    if not text:
        raise ValueError("an appeal needs some text")
    await lock_server(session, guild_id)
    existing = await pending_appeal(session, guild_id, user_id, sanction)
    if existing is not None:
        raise AppealPending(existing)
    row = Appeal(
        id=str(uuid.uuid4()),
        guild_id=guild_id,
        user_id=user_id,
        sanction=sanction,
        text=text[:MAX_APPEAL_CHARS],
        status="pending",
        created_at=created_at,
    )
    session.add(row)
    await session.flush()
    return _record(row)


async def pending_appeal(
    session: AsyncSession, guild_id: int, user_id: int, sanction: str
) -> AppealRecord | None:
    """The member's appeal still waiting against this sanction, if any."""
    row = await session.scalar(
        select(Appeal).where(
            Appeal.guild_id == guild_id,
            Appeal.user_id == user_id,
            Appeal.sanction == sanction,
            Appeal.status == "pending",
        )
    )
    return None if row is None else _record(row)


async def get_appeal(session: AsyncSession, appeal_id: str) -> AppealRecord | None:
    """One appeal by id."""
    row = await session.get(Appeal, appeal_id)
    return None if row is None else _record(row)


async def withdraw_appeal(session: AsyncSession, appeal_id: str) -> None:
    """Forget an appeal that never reached the workflow, so the member can send it again."""
    await session.execute(delete(Appeal).where(Appeal.id == appeal_id, Appeal.status == "pending"))


async def attach_approval(session: AsyncSession, appeal_id: str, approval_id: str) -> None:
    """Note which pending approval decides this appeal (the workflow's activity calls this)."""
    await session.execute(
        update(Appeal).where(Appeal.id == appeal_id).values(approval_id=approval_id)
    )


async def decide_appeal(
    session: AsyncSession, appeal_id: str, *, granted: bool, decided_at: datetime
) -> bool:
    """Close a pending appeal as granted or denied; False if it was no longer pending."""
    result = await session.execute(
        update(Appeal)
        .where(Appeal.id == appeal_id, Appeal.status == "pending")
        .values(status="granted" if granted else "denied", decided_at=decided_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _record(row: Appeal) -> AppealRecord:
    """Copy a row into its immutable record."""
    return AppealRecord(
        id=row.id,
        guild_id=row.guild_id,
        user_id=row.user_id,
        sanction=row.sanction,
        text=row.text,
        status=row.status,
        approval_id=row.approval_id,
        created_at=as_utc(row.created_at),
        decided_at=as_utc(row.decided_at),
    )
