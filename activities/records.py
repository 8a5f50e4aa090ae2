"""Activities that write the suite's records (cases, ...) through the storage layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.cases import Violation
from storage.cases import record_case


@dataclass(frozen=True)
class RecordCaseInput:
    """A violation to store as a numbered case, and the workflow that owns it."""

    violation: Violation
    workflow_id: str
    duration_seconds: int | None = None
    """For a timed sanction (timeout, temporary ban): how long it lasts."""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RecordedCase:
    """The stored case, as the workflow and the mod-log need it."""

    guild_id: int
    user_id: int
    case_number: int
    action: str
    reason: str
    rule: str | None
    source: str
    excerpt: str | None
    created_at: datetime


class RecordActivities:
    """Database writes; idempotent on the violation's source key so retries never duplicate."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_case")
    async def record_case(self, inp: RecordCaseInput) -> RecordedCase:
        """Store the case (or return the one a previous attempt stored)."""
        v = inp.violation
        evidence = {  # ids as strings: JSON readers in JavaScript lose 64-bit precision
            k: val
            for k, val in {
                "channel_id": str(v.channel_id) if v.channel_id else None,
                "message_id": str(v.message_id) if v.message_id else None,
                "excerpt": v.excerpt,
            }.items()
            if val is not None
        }
        async with self._sessions() as session, session.begin():
            case = await record_case(
                session,
                guild_id=v.guild_id,
                user_id=v.user_id,
                action=v.action,
                reason=v.reason,
                source=v.source,
                source_key=v.source_key,
                moderator_id=v.moderator_id,
                evidence=evidence,
                rule=v.rule,
                points=v.points,
                duration_seconds=inp.duration_seconds,
                expires_at=inp.expires_at,
                workflow_id=inp.workflow_id,
                created_at=v.occurred_at,
            )
        return RecordedCase(
            guild_id=case.guild_id,
            user_id=case.user_id,
            case_number=case.case_number,
            action=case.action,
            reason=case.reason,
            rule=case.rule,
            source=case.source,
            excerpt=v.excerpt,
            created_at=case.created_at,
        )
