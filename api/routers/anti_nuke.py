"""Anti-nuke incidents: who was caught destroying the server, what was held, how it ended.

Read-only: the incidents are decided through the approval path (`/moderation/pending`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, error_responses
from storage.models import AntiNukeIncident

router = APIRouter(
    prefix="/api/servers/{server_id}/anti-nuke",
    tags=["anti-nuke"],
    responses=error_responses(*AUTHENTICATED),
)


class NukeIncidentOut(BaseModel):
    """One anti-nuke incident."""

    id: int
    actor_id: str
    status: str
    trigger: str
    summary: str
    mitigation: str
    removed_role_ids: list[str]
    evidence: list[dict[str, Any]]
    approval_id: str | None
    decided_by: str | None
    started_at: datetime
    closed_at: datetime | None
    report: list[str]

    @classmethod
    def of(cls, row: AntiNukeIncident) -> NukeIncidentOut:
        """Snowflakes go out as strings."""
        return cls(
            id=row.id,
            actor_id=str(row.actor_id),
            status=row.status,
            trigger=row.trigger,
            summary=row.summary,
            mitigation=row.mitigation,
            removed_role_ids=list(row.removed_role_ids or []),
            evidence=list(row.evidence or []),
            approval_id=row.approval_id,
            decided_by=row.decided_by,
            started_at=row.started_at,
            closed_at=row.closed_at,
            report=list(row.report or []),
        )


class NukeIncidentPage(BaseModel):
    """Incidents, newest first; pass `next_cursor` as `before` for the next page."""

    items: list[NukeIncidentOut]
    next_cursor: int | None


@router.get("/incidents", response_model=NukeIncidentPage)
async def anti_nuke_incidents(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    before: Annotated[int | None, Query(ge=1, description="Cursor: an incident id")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NukeIncidentPage:
    """The server's anti-nuke incidents, newest first (viewer)."""
    caller.require(server_id, "viewer")
    query = select(AntiNukeIncident).where(AntiNukeIncident.guild_id == server_id)
    if before is not None:
        query = query.where(AntiNukeIncident.id < before)
    rows = list(
        (await session.scalars(query.order_by(AntiNukeIncident.id.desc()).limit(limit + 1))).all()
    )
    page = rows[:limit]
    next_cursor = page[-1].id if len(rows) > limit else None
    return NukeIncidentPage(items=[NukeIncidentOut.of(r) for r in page], next_cursor=next_cursor)
