"""One way in for every approval decision: claim it in the database, then signal the workflow.

The claim is a conditional UPDATE (`WHERE status = 'pending'`), so of two people pressing
buttons at the same moment exactly one wins and the other is told, politely, who decided first.
If the workflow cannot be signalled the claim is undone, so the approval stays decidable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from domain.approvals import (
    DECISION_SIGNAL,
    STATUS_OF_DECISION,
    ApprovalDecision,
    decision_problem,
)
from storage.models import PendingApproval

log = logging.getLogger(__name__)


class DecisionRefused(Exception):
    """The decision was not taken; `code` is not_found, already_decided, invalid or unavailable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DecisionOutcome:
    """What was decided, for the channel to show back to the person."""

    approval_id: str
    guild_id: int
    target_user_id: int | None
    workflow_id: str
    status: str
    requested_action: str
    final_action: str | None
    decided_by: str


async def submit_decision(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    decision: ApprovalDecision,
    *,
    guild_id: int | None = None,
) -> DecisionOutcome:
    """Claim the approval for this decision and signal its workflow; raise DecisionRefused if not.

    `guild_id`, when given, must match the approval's guild (the API scopes tokens to a guild).
    The caller has already checked that the person may decide.
    """
    now = decision.decided_at or datetime.now(UTC)
    decision = replace(decision, decided_at=now)
    status = STATUS_OF_DECISION[decision.decision]
    async with sessions() as session, session.begin():
        row = await session.get(PendingApproval, decision.approval_id)
        if row is None or (guild_id is not None and row.guild_id != guild_id):
            raise DecisionRefused("not_found", f"no approval {decision.approval_id}")
        if row.status != "pending":
            who = f" by {row.decided_by}" if row.decided_by else ""
            raise DecisionRefused(
                "already_decided", f"this approval was already {row.status}{who}; nothing changed"
            )
        problem = decision_problem(decision, row.action)
        if problem is not None:
            raise DecisionRefused("invalid", problem)
        final_action = (
            decision.action
            if decision.decision == "modify"
            else (row.action if decision.decision == "approve" else None)
        )
        claimed = await session.execute(
            update(PendingApproval)
            .where(PendingApproval.id == row.id, PendingApproval.status == "pending")
            .values(
                status=status,
                decided_by=decision.decided_by,
                decision_channel=decision.channel,
                decided_at=now,
                final_action=final_action,
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise DecisionRefused("already_decided", "someone decided this a moment ago")
        outcome = DecisionOutcome(
            approval_id=row.id,
            guild_id=row.guild_id,
            target_user_id=row.target_user_id,
            workflow_id=row.workflow_id,
            status=status,
            requested_action=row.action,
            final_action=final_action,
            decided_by=decision.decided_by,
        )
    try:
        await client.get_workflow_handle(outcome.workflow_id).signal(DECISION_SIGNAL, decision)
    except Exception as exc:
        log.warning("could not signal %s: %s; decision undone", outcome.workflow_id, exc)
        async with sessions() as session, session.begin():
            await session.execute(
                update(PendingApproval)
                .where(
                    PendingApproval.id == outcome.approval_id,
                    PendingApproval.status == status,
                    PendingApproval.decided_by == decision.decided_by,
                )
                .values(
                    status="pending",
                    decided_by=None,
                    decision_channel=None,
                    decided_at=None,
                    final_action=None,
                )
            )
        raise DecisionRefused(
            "unavailable", "the moderation service could not be reached; please try again"
        ) from exc
    return outcome
