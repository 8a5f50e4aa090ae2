"""Moderation endpoints: the case log (more actions arrive with the moderation feature)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from api.deps import CallerDep, SessionDep
from storage.cases import CaseRecord, list_cases

router = APIRouter(prefix="/api/servers/{server_id}/moderation", tags=["moderation"])


class CaseOut(BaseModel):
    """One numbered moderation case."""

    case_number: int
    user_id: str
    moderator_id: str | None
    action: str
    reason: str
    rule: str | None
    source: str
    points: int
    evidence: dict[str, Any] | None
    workflow_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, case: CaseRecord) -> CaseOut:
        """Snowflakes go out as strings: JavaScript clients lose precision on 64-bit ints."""
        return cls(
            case_number=case.case_number,
            user_id=str(case.user_id),
            moderator_id=str(case.moderator_id) if case.moderator_id is not None else None,
            action=case.action,
            reason=case.reason,
            rule=case.rule,
            source=case.source,
            points=case.points,
            evidence=case.evidence,
            workflow_id=case.workflow_id,
            created_at=case.created_at,
        )


class CasePage(BaseModel):
    """A page of cases, newest first; pass `next_cursor` as `before` for the next page."""

    items: list[CaseOut]
    next_cursor: int | None


@router.get("/logs", response_model=CasePage)
async def moderation_logs(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    user_id: Annotated[int | None, Query(description="Only cases about this member")] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset")] = None,
    before: Annotated[int | None, Query(ge=1, description="Cursor: a case number")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Moderation history of a server, filtered and paged by case number."""
    caller.require(server_id, "viewer")
    cases = await list_cases(
        session,
        server_id,
        user_id=user_id,
        action=action,
        source=source,
        since=since,
        until=until,
        before_case=before,
        limit=limit + 1,
    )
    page = cases[:limit]
    next_cursor = page[-1].case_number if len(cases) > limit else None
    return CasePage(items=[CaseOut.of(c) for c in page], next_cursor=next_cursor)
