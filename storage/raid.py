"""Raid incidents and their members: the record each lockdown keeps for moderators and the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lockdown import RaidSuspect
from storage.models import RaidIncident, RaidIncidentMember
from storage.servers import lock_server
from storage.upsert import insert

LOG_LIMIT = 500
"""Log lines kept per incident (the members table holds the per-member detail)."""


@dataclass(frozen=True)
class NewIncident:
    """What starting a lockdown records."""

    guild_id: int
    workflow_id: str
    workflow_run_id: str
    trigger: str
    started_by: str
    reason: str
    started_at: datetime


async def open_incident(session: AsyncSession, new: NewIncident) -> RaidIncident:
    """The incident of this workflow run, created on first call (retries find it)."""
    found = await session.scalar(
        select(RaidIncident).where(RaidIncident.workflow_run_id == new.workflow_run_id)
    )
    if found is not None:
        return found
    await lock_server(session, new.guild_id)
    number = await session.scalar(
        select(func.coalesce(func.max(RaidIncident.incident_number), 0)).where(
            RaidIncident.guild_id == new.guild_id
        )
    )
    row = RaidIncident(
        guild_id=new.guild_id,
        incident_number=int(number or 0) + 1,
        workflow_id=new.workflow_id,
        workflow_run_id=new.workflow_run_id,
        trigger=new.trigger,
        started_by=new.started_by,
        reason=new.reason,
        started_at=new.started_at,
        log=[{"at": new.started_at.isoformat(), "what": f"lockdown started: {new.reason}"}],
    )
    session.add(row)
    await session.flush()
    return row


async def append_log(session: AsyncSession, incident_id: int, at: datetime, what: str) -> None:
    """Add one line to the incident's log (a repeat of the last line is not added twice)."""
    row = await session.get(RaidIncident, incident_id, with_for_update=True)
    if row is None:
        return
    log = list(row.log or [])
    line = {"at": at.isoformat(), "what": what}
    if log and log[-1] == line:
        return
    row.log = [*log, line][-LOG_LIMIT:]


async def set_fields(session: AsyncSession, incident_id: int, **values: Any) -> None:
    """Update columns of an incident (snapshot, invite, lift)."""
    await session.execute(
        update(RaidIncident).where(RaidIncident.id == incident_id).values(**values)
    )


async def add_members(
    session: AsyncSession, incident_id: int, guild_id: int, members: Sequence[RaidSuspect]
) -> None:
    """Record suspects; one already recorded keeps its row (and gains an invite code if new)."""
    if not members:
        return
    rows = [
        {
            "incident_id": incident_id,
            "guild_id": guild_id,
            "user_id": m.user_id,
            "username": m.username[:100] if m.username else None,
            "joined_at": m.joined_at,
            "account_created_at": m.account_created_at,
            "invite_code": m.invite_code,
            "score": m.score,
            "reasons": list(m.reasons),
        }
        for m in members
    ]
    stmt = insert(session, RaidIncidentMember).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RaidIncidentMember.incident_id, RaidIncidentMember.user_id],
        set_={
            "invite_code": func.coalesce(RaidIncidentMember.invite_code, stmt.excluded.invite_code)
        },
    )
    await session.execute(stmt)


async def set_outcomes(
    session: AsyncSession,
    incident_id: int,
    user_ids: Sequence[int],
    outcome: str,
    at: datetime,
) -> None:
    """What became of these suspects (banned, kicked, left, kept...)."""
    if not user_ids:
        return
    await session.execute(
        update(RaidIncidentMember)
        .where(
            RaidIncidentMember.incident_id == incident_id,
            RaidIncidentMember.user_id.in_(list(user_ids)),
        )
        .values(outcome=outcome, outcome_at=at)
    )


async def list_incidents(
    session: AsyncSession, guild_id: int, *, before: int | None, limit: int
) -> list[RaidIncident]:
    """A guild's incidents, newest first, keyset-paged by incident number."""
    query = select(RaidIncident).where(RaidIncident.guild_id == guild_id)
    if before is not None:
        query = query.where(RaidIncident.incident_number < before)
    query = query.order_by(RaidIncident.incident_number.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def get_incident(session: AsyncSession, guild_id: int, number: int) -> RaidIncident | None:
    """One incident by its number in the guild."""
    return await session.scalar(
        select(RaidIncident).where(
            RaidIncident.guild_id == guild_id, RaidIncident.incident_number == number
        )
    )


async def incident_members(session: AsyncSession, incident_id: int) -> list[RaidIncidentMember]:
    """The incident's members in the order they were recorded."""
    rows = await session.scalars(
        select(RaidIncidentMember)
        .where(RaidIncidentMember.incident_id == incident_id)
        .order_by(RaidIncidentMember.id)
    )
    return list(rows.all())


async def member_counts(session: AsyncSession, incident_ids: Sequence[int]) -> dict[int, int]:
    """How many members each incident recorded."""
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(RaidIncidentMember.incident_id, func.count())
        .where(RaidIncidentMember.incident_id.in_(list(incident_ids)))
        .group_by(RaidIncidentMember.incident_id)
    )
    return {int(i): int(n) for i, n in rows.all()}
