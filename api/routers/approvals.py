"""Pending approvals: the queue of sensitive actions waiting for a person, and deciding them.

A decision here takes the same path as the Telegram buttons, the mod-log buttons and `/approve`
`/reject`: ``approvals.decisions.submit_decision`` claims the approval in the database (so a second
decision, from any channel, is refused with 409) and signals the member's moderation workflow.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import CallerDep, SessionDep, TemporalDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from approvals.decisions import DecisionRefused, submit_decision
from domain.approvals import ApprovalDecision
from storage.models import APPROVAL_STATUSES, PendingApproval
from storage.types import as_utc

router = APIRouter(
    prefix="/api/servers/{server_id}/moderation",
    tags=["approvals"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 409, 503),
)

REFUSAL_STATUS = {"not_found": 404, "already_decided": 409, "invalid": 422, "unavailable": 503}


class ApprovalOut(BaseModel):
    """One approval with the evidence the person deciding needs."""

    approval_id: str
    status: str
    action: str
    user_id: str | None
    reason: str
    evidence: dict[str, Any] | None
    duration_minutes: int | None
    requested_by: str
    workflow_id: str
    created_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decision_channel: str | None
    decided_at: datetime | None
    final_action: str | None

    @classmethod
    def of(cls, row: PendingApproval) -> ApprovalOut:
        """Snowflakes go out as strings, as everywhere in the API."""
        return cls(
            approval_id=row.id,
            status=row.status,
            action=row.action,
            user_id=str(row.target_user_id) if row.target_user_id is not None else None,
            reason=row.reason,
            evidence=row.evidence,
            duration_minutes=row.duration_minutes,
            requested_by=row.requested_by,
            workflow_id=row.workflow_id,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            decided_by=row.decided_by,
            decision_channel=row.decision_channel,
            decided_at=as_utc(row.decided_at),
            final_action=row.final_action,
        )


class ApprovalPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[ApprovalOut]
    next_cursor: str | None


def _encode_cursor(row: PendingApproval) -> str:
    raw = f"{as_utc(row.created_at).isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, approval_id = raw.partition("|")
        when = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        when, approval_id = None, ""
    if when is None or when.tzinfo is None or not approval_id:
        raise ApiError(422, "invalid_request", "The cursor is not one this API gave out.")
    return when, approval_id


@router.get("/pending", response_model=ApprovalPage)
async def pending_approvals(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[
        Literal["pending", "approved", "rejected", "modified", "expired"] | None,
        Query(description="Default: only those still waiting"),
    ] = "pending",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApprovalPage:
    """Approvals of a server, newest first (viewer role)."""
    caller.require(server_id, "viewer")
    stmt = select(PendingApproval).where(PendingApproval.guild_id == server_id)
    if status is not None:
        assert status in APPROVAL_STATUSES
        stmt = stmt.where(PendingApproval.status == status)
    if cursor is not None:
        when, approval_id = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                PendingApproval.created_at < when,
                and_(PendingApproval.created_at == when, PendingApproval.id < approval_id),
            )
        )
    order = (PendingApproval.created_at.desc(), PendingApproval.id.desc())
    rows = list(await session.scalars(stmt.order_by(*order).limit(limit + 1)))
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return ApprovalPage(items=[ApprovalOut.of(r) for r in page], next_cursor=next_cursor)


class DecisionIn(BaseModel):
    """Approve, reject, or modify to a milder action."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "modify"]
    action: Annotated[
        Literal["warn", "timeout", "kick", "ban"] | None,
        Field(description="With modify: the milder action to take instead"),
    ] = None
    duration_minutes: Annotated[
        int | None, Field(ge=1, le=40320, description="With modify to a timeout: how long")
    ] = None


class DecisionOut(BaseModel):
    """What was decided; the workflow carries it out."""

    approval_id: str
    status: str
    requested_action: str
    final_action: str | None
    decided_by: str
    user_id: str | None
    workflow_id: str


@router.post("/pending/{approval_id}", response_model=DecisionOut)
async def decide_approval(
    server_id: int,
    approval_id: Annotated[str, Path(max_length=36)],
    body: DecisionIn,
    request: Request,
    caller: CallerDep,
    temporal: TemporalDep,
) -> DecisionOut:
    """Decide a pending approval (moderator role); a second decision answers 409."""
    caller.require(server_id, "moderator")
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    decision = ApprovalDecision(
        approval_id=approval_id,
        decision=body.decision,
        decided_by=f"api:token:{caller.token_id}",
        channel="api",
        action=body.action,
        duration_minutes=body.duration_minutes,
    )
    try:
        outcome = await submit_decision(sessions, temporal.client, decision, guild_id=server_id)
    except DecisionRefused as refused:
        code = "invalid_decision" if refused.code == "invalid" else refused.code
        raise ApiError(REFUSAL_STATUS[refused.code], code, refused.message) from None
    return DecisionOut(
        approval_id=outcome.approval_id,
        status=outcome.status,
        requested_action=outcome.requested_action,
        final_action=outcome.final_action,
        decided_by=outcome.decided_by,
        user_id=str(outcome.target_user_id) if outcome.target_user_id is not None else None,
        workflow_id=outcome.workflow_id,
    )
