"""Tiers and usage: a server's month of usage against its tier, and the operator's tier change.

`GET /api/servers/{id}/usage?month=YYYY-MM` (viewer): tier, limits, AI calls used and left, the
AI tokens and their cost, members, over-limit flags and the latest notices to the admins.
`PUT /api/servers/{id}/tier` (operator): tiers are billing, so only an admin token for every
server (what `dcs token create --role admin` without `--server` makes) may change one; a
server's own admins get 403. The change is audit-logged (`tier.set`) and applies at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from domain.tiers import TIERS, Tier, parse_month
from storage.tiers import notices_of, set_tier, usage_report

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["tiers"],
    responses=error_responses(*AUTHENTICATED),
)


class LimitsOut(BaseModel):
    """A tier's limits; null is unlimited."""

    servers: int | None
    members: int | None
    ai_calls: int | None


class NoticeOut(BaseModel):
    """A notice to the server's admins about its limits."""

    key: str
    text: str
    created_at: datetime
    delivered_at: datetime | None
    delivery: str


class UsageOut(BaseModel):
    """One server's usage in a month. Members, owner and flags are the latest known."""

    month: str
    server_id: str
    name: str
    tier: Tier
    owner_id: str | None
    account_tier: Tier
    account_servers: int
    members: int | None
    members_counted_at: str | None
    ai_calls: int
    ai_calls_left: int | None
    limits: LimitsOut
    over_limit: list[str]
    ai_budget_spent: bool
    ai_input_tokens: int = Field(description="Input (prompt) tokens the providers billed")
    ai_output_tokens: int = Field(description="Output tokens the providers billed")
    ai_cost_micro_usd: int = Field(
        description="Their cost in USD millionths, from the price table and AI_PRICES; "
        "calls to a model with no price count 0"
    )
    ai_cost_usd: str = Field(description="The same cost in USD, six decimals, e.g. '0.012345'")
    notices: list[NoticeOut]


class TierIn(BaseModel):
    """The tier to put the server on."""

    tier: Tier


class TierOut(BaseModel):
    """The server's tier before and after, and the servers whose over-limit state changed."""

    server_id: str
    before: str
    after: str
    changed: bool
    limit_changes: list[dict[str, str]]


@router.get("/usage", response_model=UsageOut, responses=error_responses(404))
async def get_usage(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    month: Annotated[
        str | None, Query(description="YYYY-MM (UTC); default this month", max_length=7)
    ] = None,
) -> UsageOut:
    """The server's tier, limits and usage in the month, with the AI tokens and their cost."""
    caller.require(server_id, "viewer")
    try:
        month = parse_month(month) if month is not None else datetime.now(UTC).strftime("%Y-%m")
    except ValueError as exc:
        raise ApiError(422, "invalid_month", str(exc)) from None
    rows = await usage_report(session, month, [server_id])
    if not rows:
        raise ApiError(404, "not_found", "The suite does not know this server.")
    notices = await notices_of(session, server_id)
    data = rows[0].to_json(month)
    data["notices"] = [
        NoticeOut(
            key=n.key,
            text=n.text,
            created_at=n.created_at,
            delivered_at=n.delivered_at,
            delivery=n.delivery,
        )
        for n in notices
    ]
    return UsageOut.model_validate(data)


@router.put("/tier", response_model=TierOut, responses=error_responses(400))
async def put_tier(server_id: int, body: TierIn, session: SessionDep, caller: CallerDep) -> TierOut:
    """Put the server on a tier (operator only: an admin token for every server)."""
    caller.require(server_id, "admin")
    if caller.guild_id is not None:
        raise ApiError(
            403,
            "forbidden",
            "Tiers are billing: only the operator changes them (an admin token for every "
            "server, or `dcs tier set`).",
        )
    assert body.tier in TIERS
    async with session.begin():
        change = await set_tier(session, server_id, body.tier, actor=caller.name)
    return TierOut(
        server_id=str(server_id),
        before=change.before,
        after=change.after,
        changed=change.before != change.after,
        limit_changes=[
            {"server_id": str(c.guild_id), "before": c.before, "after": c.after}
            for c in change.changes
        ],
    )
