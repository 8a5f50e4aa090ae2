"""Activities that keep the pending-approval and appeal rows in step with the member's workflow.

Every write is idempotent: a retried activity finds its earlier row (by the id the workflow chose
with `workflow.uuid4()`) or meets a condition that no longer holds, and changes nothing.
Decisions themselves are claimed by `approvals.decisions.submit_decision`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.approvals import ApprovalRequest
from storage.models import Appeal, PendingApproval
from storage.servers import ensure_server_exists


@dataclass(frozen=True)
class CreateApprovalInput:
    """A sensitive action (or an appeal) to put in front of a person: the request itself."""

    request: ApprovalRequest
    appeal_id: str | None = None


@dataclass(frozen=True)
class ExpireApprovalInput:
    """The approval whose deadline passed, and when."""

    approval_id: str
    at: datetime


@dataclass(frozen=True)
class ExpireResult:
    """`expired` True when this call expired it; otherwise how it was decided meanwhile."""

    expired: bool
    status: str
    final_action: str | None = None
    decided_by: str | None = None
    decision_channel: str | None = None


@dataclass(frozen=True)
class FinishApprovalInput:
    """What an expired approval fell back to (None: nothing was done)."""

    approval_id: str
    final_action: str | None


@dataclass(frozen=True)
class MarkAlertedInput:
    """The approval the staff were alerted about."""

    approval_id: str
    at: datetime


@dataclass(frozen=True)
class AppealStatusInput:
    """An appeal and where it stands; the row is created if the sender did not store it."""

    appeal_id: str
    guild_id: int
    user_id: int
    sanction: str
    text: str
    status: str
    """pending, granted or denied."""
    approval_id: str | None
    at: datetime


class ApprovalRecordActivities:
    """Writes to `pending_approvals` and `appeals`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="create_pending_approval")
    async def create_pending_approval(self, inp: CreateApprovalInput) -> bool:
        """Insert the pending row; True if this call inserted it (False: a retry found it)."""
        req = inp.request
        async with self._sessions() as session, session.begin():
            if await session.get(PendingApproval, req.approval_id) is not None:
                return False
            await ensure_server_exists(session, req.guild_id)
            evidence: dict[str, str] = {}
            if req.case_number is not None:
                evidence["case_number"] = str(req.case_number)
            if req.evidence:
                evidence["excerpt"] = req.evidence
            if inp.appeal_id:
                evidence["appeal_id"] = inp.appeal_id
            if req.user_name:
                evidence["user_name"] = req.user_name
            session.add(
                PendingApproval(
                    id=req.approval_id,
                    guild_id=req.guild_id,
                    workflow_id=req.workflow_id,
                    action=req.action,
                    target_user_id=req.user_id,
                    reason=req.reason,
                    evidence=evidence or None,
                    requested_by=req.requested_by,
                    status="pending",
                    expires_at=req.expires_at,
                    created_at=req.requested_at,
                    duration_minutes=req.duration_minutes,
                )
            )
        return True

    @activity.defn(name="expire_approval")
    async def expire_approval(self, inp: ExpireApprovalInput) -> ExpireResult:
        """Expire the approval if nobody decided it; else report the decision already claimed."""
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(PendingApproval)
                .where(PendingApproval.id == inp.approval_id, PendingApproval.status == "pending")
                .values(status="expired", decided_at=inp.at)
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                return ExpireResult(expired=True, status="expired")
            row = await session.get(PendingApproval, inp.approval_id)
        if row is None:
            return ExpireResult(expired=False, status="missing")
        return ExpireResult(
            expired=row.status == "expired",  # a retry of the call that expired it
            status=row.status,
            final_action=row.final_action,
            decided_by=row.decided_by,
            decision_channel=row.decision_channel,
        )

    @activity.defn(name="finish_approval")
    async def finish_approval(self, inp: FinishApprovalInput) -> None:
        """Record what an expired approval fell back to."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PendingApproval)
                .where(PendingApproval.id == inp.approval_id, PendingApproval.status == "expired")
                .values(final_action=inp.final_action)
            )

    @activity.defn(name="mark_approval_alerted")
    async def mark_approval_alerted(self, inp: MarkAlertedInput) -> bool:
        """Set alerted_at once; True if this call set it (so the alert goes out once)."""
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(PendingApproval)
                .where(
                    PendingApproval.id == inp.approval_id,
                    PendingApproval.alerted_at.is_(None),
                )
                .values(alerted_at=inp.at)
            )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    @activity.defn(name="set_appeal_status")
    async def set_appeal_status(self, inp: AppealStatusInput) -> None:
        """Create the appeal row if missing, then set its status and approval."""
        async with self._sessions() as session, session.begin():
            row = await session.get(Appeal, inp.appeal_id)
            if row is None:
                await ensure_server_exists(session, inp.guild_id)
                row = Appeal(
                    id=inp.appeal_id,
                    guild_id=inp.guild_id,
                    user_id=inp.user_id,
                    sanction=inp.sanction,
                    text=inp.text,
                    created_at=inp.at,
                )
                session.add(row)
            row.status = inp.status
            if inp.approval_id is not None:
                row.approval_id = inp.approval_id
            if inp.status != "pending":
                row.decided_at = inp.at
