"""Moderation endpoints: the case log, and actions a moderator takes through the API.

`POST /action` reports the action to the member's moderation workflow, exactly as a slash command
does (signal-with-start of `moderation:{guild}:{user}`); the workflow records the numbered case,
asks for approval when the server lists the action as sensitive, applies it and posts the mod-log.
The API cannot see Discord's role hierarchy, so it trusts moderator tokens with the choice of
member; the workflow still refuses what Discord refuses (the owner, anyone above the bot).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import to_json

from api.deps import CallerDep, SessionDep, TemporalDep, read_only
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.server_config import ConfigError, parse_server_config
from domain.cases import LiftRequest, Violation
from storage.cases import case_log_rows
from storage.servers import get_server_config
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/servers/{server_id}/moderation",
    tags=["moderation"],
    responses=error_responses(*AUTHENTICATED, 400, 503),
)


class CaseOut(BaseModel):
    """One numbered moderation case."""

    case_number: int
    # snowflakes go out as strings: JavaScript clients lose precision on 64-bit integers
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


class CasePage(BaseModel):
    """A page of cases, newest first; pass `next_cursor` as `before` for the next page."""

    items: list[CaseOut]
    next_cursor: int | None


@router.get("/logs", response_model=CasePage)
@read_only
async def moderation_logs(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    user_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only cases about this member")
    ] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset")] = None,
    before: Annotated[int | None, Query(ge=1, description="Cursor: a case number")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Moderation history of a server, filtered and paged by case number."""
    # The body is a `CasePage` (the response model documents it) built as plain dicts in the
    # models' field order and serialized by pydantic-core's `to_json`: the bytes FastAPI's
    # serialization of the model gives, without 50 models built and validated a request.
    caller.require(server_id, "viewer")
    _in_utc_range(since=since, until=until)
    rows = await case_log_rows(
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
    page = rows[:limit]
    next_cursor = page[-1][0] if len(rows) > limit else None
    body = {"items": [_case_out(row) for row in page], "next_cursor": next_cursor}
    return Response(to_json(body), media_type="application/json")


def _case_out(row: Sequence[Any]) -> dict[str, Any]:
    """`CaseOut` of a `case_log_rows` row as a dict, keys in the model's field order.

    The row's columns are `storage.cases.LOG_FIELDS`, in the same order; tests hold the bytes
    equal to the model's own serialization.
    """
    (case_number, user_id, moderator_id, action, reason, rule, source, points, evidence,
     workflow_id, created_at) = row  # fmt: skip
    return {
        "case_number": case_number,
        "user_id": str(user_id),
        "moderator_id": str(moderator_id) if moderator_id is not None else None,
        "action": action,
        "reason": reason,
        "rule": rule,
        "source": source,
        "points": points,
        "evidence": evidence,
        "workflow_id": workflow_id,
        "created_at": created_at,
    }


def _in_utc_range(**moments: datetime | None) -> None:
    """422 for a time that exists with its offset but not in UTC (0001-01-01T00:00+01:00)."""
    for name, moment in moments.items():
        try:
            if moment is not None:
                moment.astimezone(UTC)
        except OverflowError:
            raise ApiError(
                422, "invalid_request", f"{name}: out of range in UTC", [{"loc": name}]
            ) from None


MAX_TIMEOUT_MINUTES = 40320  # Discord's limit: 28 days
POINTS = {"warn": 1, "timeout": 1, "kick": 1, "ban": 0, "note": 0}
"""Strike points, as for the slash commands."""


class ActionIn(BaseModel):
    """A moderator's action on one member."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["warn", "timeout", "kick", "ban", "unban", "note"]
    user_id: Annotated[int, Field(gt=0, lt=2**64, description="The member (string or number)")]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    duration_minutes: Annotated[
        int | None,
        Field(ge=1, le=525_600, description="Timeout length (required), or a temporary ban"),
    ] = None

    @model_validator(mode="after")
    def _duration_fits(self) -> Self:
        if self.action == "timeout":
            if self.duration_minutes is None:
                raise ValueError("a timeout needs duration_minutes")
            if self.duration_minutes > MAX_TIMEOUT_MINUTES:
                raise ValueError(f"a timeout lasts at most {MAX_TIMEOUT_MINUTES} minutes")
        elif self.duration_minutes is not None and self.action != "ban":
            raise ValueError(f"duration_minutes applies to timeout and ban, not {self.action}")
        if not self.reason.strip():
            raise ValueError("reason must not be blank")
        return self


class ActionAccepted(BaseModel):
    """The action was handed to the member's workflow; its case appears in the log."""

    status: Literal["accepted"] = "accepted"
    action: str
    user_id: str
    workflow_id: str
    source_key: str
    """The case's idempotency key: `GET /logs` shows the case once the workflow records it."""


@router.post("/action", status_code=202, response_model=ActionAccepted)
async def moderation_action(
    server_id: int,
    body: ActionIn,
    session: SessionDep,
    caller: CallerDep,
    temporal: TemporalDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=100, description="Repeat a request safely: the same key, one case"),
    ] = None,
) -> ActionAccepted:
    """Warn, time out, kick, ban, unban or note a member (moderator role)."""
    caller.require(server_id, "moderator")
    key = idempotency_key or uuid.uuid4().hex
    source_key = f"api:token:{caller.token_id}:{key}"
    now = datetime.now(UTC)
    signal: str
    argument: Violation | LiftRequest
    if body.action == "unban":
        signal = "lift"
        argument = LiftRequest(
            guild_id=server_id,
            user_id=body.user_id,
            sanction="ban",
            reason=body.reason,
            source_key=source_key,
            requested_at=now,
        )
    else:
        signal = "report"
        argument = Violation(
            guild_id=server_id,
            user_id=body.user_id,
            source_key=source_key,
            source="api",
            action=body.action,
            reason=body.reason,
            occurred_at=now,
            points=POINTS[body.action],
            mod_log_channel_id=await _mod_log_channel(session, server_id),
            duration_minutes=body.duration_minutes,
            explicit=True,
            already_applied=body.action == "note",
        )
    workflow_id = moderation_workflow_id(server_id, body.user_id)
    try:
        await temporal.client.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(server_id, body.user_id),
            id=workflow_id,
            task_queue=temporal.task_queue,
            start_signal=signal,
            start_signal_args=[argument],
        )
    except Exception as exc:
        log.warning("could not signal %s: %s", workflow_id, exc)
        raise ApiError(
            503,
            "unavailable",
            "The moderation service could not be reached; nothing was done. Retry with the "
            "same Idempotency-Key.",
        ) from exc
    return ActionAccepted(
        action=body.action,
        user_id=str(body.user_id),
        workflow_id=workflow_id,
        source_key=source_key,
    )


async def _mod_log_channel(session: SessionDep, server_id: int) -> int | None:
    """The server's mod-log channel, if its stored config names one."""
    stored, _ = await get_server_config(session, server_id)
    if stored is None:
        return None
    try:
        return parse_server_config(stored).mod_log_channel_id
    except ConfigError:
        return None
