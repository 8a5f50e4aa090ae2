"""Raid endpoints: the current lockdown, incident history, and lockdown/unlock by hand.

Lockdown and unlock drive the same `raid:{guild}` workflow as the detector and the slash
commands (signal-with-start; the `unlock` signal); the database only records what it did.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep, TemporalDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from domain.lockdown import RaidReport, UnlockRequest
from storage import raid as store
from storage.models import RaidIncident, RaidIncidentMember
from workflows.raid import LockdownStatus, RaidLockdownInput, raid_workflow_id
from workflows.raid_control import lockdown_status, start_lockdown, unlock

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/servers/{server_id}/raid",
    tags=["raid"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 409, 503),
)


class LockdownOut(BaseModel):
    """The running lockdown, as its workflow reports it."""

    incident_number: int | None
    workflow_id: str
    trigger: str
    started_by: str
    reason: str
    started_at: datetime | None
    last_activity_at: datetime | None
    lifts_at: datetime | None
    channels_locked: int
    suspects: int
    left: int
    removed: int
    pending_approval_ids: list[str]

    @classmethod
    def of(cls, s: LockdownStatus) -> LockdownOut:
        """From the workflow's status query."""
        return cls(
            incident_number=s.incident_number,
            workflow_id=raid_workflow_id(s.guild_id),
            trigger=s.trigger,
            started_by=s.started_by,
            reason=s.reason,
            started_at=s.started_at,
            last_activity_at=s.last_activity_at,
            lifts_at=s.lifts_at,
            channels_locked=s.channels_locked,
            suspects=s.suspects,
            left=s.left,
            removed=s.removed,
            pending_approval_ids=list(s.pending_approval_ids),
        )


class RaidStatusOut(BaseModel):
    """Whether the server is locked down now."""

    active: bool
    lockdown: LockdownOut | None


class IncidentOut(BaseModel):
    """One lockdown as recorded."""

    incident_number: int
    status: str
    trigger: str
    started_by: str
    reason: str
    started_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None
    raid_invite_code: str | None
    raid_invite_creator_id: str | None
    invite_deleted: bool
    members: int

    @classmethod
    def of(cls, row: RaidIncident, members: int) -> IncidentOut:
        """Snowflakes go out as strings."""
        creator = row.raid_invite_creator_id
        return cls(
            incident_number=row.incident_number,
            status=row.status,
            trigger=row.trigger,
            started_by=row.started_by,
            reason=row.reason,
            started_at=row.started_at,
            lifted_at=row.lifted_at,
            lifted_by=row.lifted_by,
            lift_reason=row.lift_reason,
            raid_invite_code=row.raid_invite_code,
            raid_invite_creator_id=str(creator) if creator is not None else None,
            invite_deleted=row.invite_deleted,
            members=members,
        )


class IncidentMemberOut(BaseModel):
    """A member of the incident log."""

    user_id: str
    username: str | None
    joined_at: datetime | None
    account_created_at: datetime | None
    invite_code: str | None
    score: int
    reasons: list[str]
    outcome: str
    outcome_at: datetime | None

    @classmethod
    def of(cls, m: RaidIncidentMember) -> IncidentMemberOut:
        """Snowflakes go out as strings."""
        return cls(
            user_id=str(m.user_id),
            username=m.username,
            joined_at=m.joined_at,
            account_created_at=m.account_created_at,
            invite_code=m.invite_code,
            score=m.score,
            reasons=list(m.reasons or []),
            outcome=m.outcome,
            outcome_at=m.outcome_at,
        )


class IncidentDetail(IncidentOut):
    """An incident with its log, what it changed, and every member involved."""

    log: list[dict[str, Any]]
    snapshot: dict[str, Any] | None
    member_list: list[IncidentMemberOut]


class IncidentPage(BaseModel):
    """Incidents, newest first; pass `next_cursor` as `before` for the next page."""

    items: list[IncidentOut]
    next_cursor: int | None


class LockdownIn(BaseModel):
    """Start a lockdown by hand."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=300)] = "manual lockdown (API)"
    duration_minutes: Annotated[
        int | None, Field(ge=1, le=10080, description="Lift after this long, quiet or not")
    ] = None


class UnlockIn(BaseModel):
    """Lift the lockdown."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=300)] = ""


class Accepted(BaseModel):
    """Handed to the lockdown workflow."""

    status: Literal["accepted"] = "accepted"
    workflow_id: str


def _unavailable(exc: Exception) -> ApiError:
    log.warning("raid workflow unreachable: %s", exc)
    return ApiError(503, "unavailable", "The lockdown service could not be reached; try again.")


@router.get("", response_model=RaidStatusOut)
async def raid_status(server_id: int, caller: CallerDep, temporal: TemporalDep) -> RaidStatusOut:
    """The current lockdown, live from its workflow (viewer)."""
    caller.require(server_id, "viewer")
    try:
        status = await lockdown_status(temporal.client, server_id)
    except Exception as exc:
        raise _unavailable(exc) from exc
    active = status is not None and status.active
    return RaidStatusOut(active=active, lockdown=LockdownOut.of(status) if status else None)


@router.get("/incidents", response_model=IncidentPage)
async def raid_incidents(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    before: Annotated[int | None, Query(ge=1, description="Cursor: an incident number")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> IncidentPage:
    """Lockdown history, newest first (viewer)."""
    caller.require(server_id, "viewer")
    rows = await store.list_incidents(session, server_id, before=before, limit=limit + 1)
    page = rows[:limit]
    counts = await store.member_counts(session, [r.id for r in page])
    next_cursor = page[-1].incident_number if len(rows) > limit else None
    return IncidentPage(
        items=[IncidentOut.of(r, counts.get(r.id, 0)) for r in page], next_cursor=next_cursor
    )


@router.get("/incidents/{number}", response_model=IncidentDetail)
async def raid_incident(
    server_id: int, number: int, session: SessionDep, caller: CallerDep
) -> IncidentDetail:
    """One incident: its log, what it changed, and each member with what became of them."""
    caller.require(server_id, "viewer")
    row = await store.get_incident(session, server_id, number)
    if row is None:
        raise ApiError(404, "not_found", f"no raid incident #{number} in this server")
    members = await store.incident_members(session, row.id)
    base = IncidentOut.of(row, len(members))
    return IncidentDetail(
        **base.model_dump(),
        log=list(row.log or []),
        snapshot=row.snapshot,
        member_list=[IncidentMemberOut.of(m) for m in members],
    )


@router.post("/lockdown", status_code=202, response_model=Accepted)
async def raid_lockdown(
    server_id: int, body: LockdownIn, caller: CallerDep, temporal: TemporalDep
) -> Accepted:
    """Lock the server down now; a running lockdown just carries on (moderator)."""
    caller.require(server_id, "moderator")
    inp = RaidLockdownInput(
        server_id, "api", f"api:token:{caller.token_id}", body.reason, body.duration_minutes
    )
    try:
        await start_lockdown(
            temporal.client, temporal.task_queue, inp, RaidReport(datetime.now(UTC))
        )
    except Exception as exc:
        raise _unavailable(exc) from exc
    return Accepted(workflow_id=raid_workflow_id(server_id))


@router.post("/unlock", status_code=202, response_model=Accepted)
async def raid_unlock(
    server_id: int, body: UnlockIn, caller: CallerDep, temporal: TemporalDep
) -> Accepted:
    """Lift the lockdown and restore the server (moderator); 409 when none is active."""
    caller.require(server_id, "moderator")
    req = UnlockRequest(f"api:token:{caller.token_id}", body.reason)
    try:
        lifted = await unlock(temporal.client, server_id, req)
    except Exception as exc:
        raise _unavailable(exc) from exc
    if not lifted:
        raise ApiError(409, "no_lockdown", "No lockdown is active in this server.")
    return Accepted(workflow_id=raid_workflow_id(server_id))
