"""Server analytics: zero-filled series per metric over hour, day or ISO-week buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from domain.analytics import MAX_BUCKETS, Granularity, RangeError, Series, StatsRange, stats_range
from storage.analytics import server_stats
from storage.types import utcnow

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["analytics"],
    responses=error_responses(*AUTHENTICATED),
)

_LIMITS = ", ".join(f"{g}: {n}" for g, n in MAX_BUCKETS.items())


class StatsOut(BaseModel):
    """Series aligned with `buckets`; every metric that occurred (and the base ones) is present."""

    server_id: str
    granularity: Granularity
    from_: datetime = Field(alias="from", description="Start of the first bucket (UTC)")
    to: datetime = Field(description="End of the last bucket (UTC, exclusive)")
    buckets: list[datetime] = Field(description="Start of each bucket (UTC)")
    series: dict[str, list[int]] = Field(
        description="Per metric, one count per bucket (zeros where nothing happened)"
    )
    totals: dict[str, int] = Field(description="Per metric, the sum over the range")
    averages: dict[str, list[float | None]] = Field(
        description="Derived averages per bucket (sum / count; null where the count is 0)"
    )
    average_totals: dict[str, float | None] = Field(
        description="Derived averages over the whole range"
    )

    @classmethod
    def of(cls, server_id: int, rng: StatsRange, series: Series) -> StatsOut:
        """The answer for a computed series."""
        return cls.model_validate(
            {
                "server_id": str(server_id),
                "granularity": rng.granularity,
                "from": rng.start,
                "to": rng.end,
                "buckets": rng.buckets,
                "series": series.values,
                "totals": series.totals(),
                "averages": series.averages(),
                "average_totals": series.average_totals(),
            }
        )


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True)
async def get_stats(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    from_: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="ISO 8601 date or time (no offset: UTC); floored to its bucket. "
            "Default: `to` less 24 hours (hour), 7 days (day) or 12 weeks (week)",
        ),
    ] = None,
    to: Annotated[
        datetime | None,
        Query(description="ISO 8601 date or time (no offset: UTC), exclusive; default now"),
    ] = None,
    granularity: Annotated[
        Granularity, Query(description=f"Bucket size; at most this many buckets: {_LIMITS}")
    ] = "day",
) -> StatsOut:
    """Counts per metric in UTC buckets, zero-filled, with totals and derived averages.

    Metrics: `messages`, `joins`, `leaves`, `faq_hits`, `ai_calls`, `ai_input_tokens`,
    `ai_output_tokens`, `ai_cost_micro_usd` (USD millionths the providers billed; 0 for a model
    with no price), `tickets_opened`, `tickets_closed`, `ticket_resolution_seconds` (a sum:
    divide by `tickets_closed`, or read `averages.ticket_resolution_avg_seconds`),
    `event_attendance`, and `violations:<rule>` and `actions:<action>` for those that occurred.
    Weeks are ISO weeks (Monday 00:00 UTC).
    """
    caller.require(server_id, "viewer")
    try:
        rng = stats_range(from_, to, granularity, now=utcnow())
    except RangeError as exc:
        raise ApiError(422, "invalid_range", str(exc), [{"loc": "query.from"}]) from None
    except OverflowError:
        raise ApiError(
            422, "invalid_range", "`from` or `to` is out of range in UTC.", [{"loc": "query"}]
        ) from None
    series = await server_stats(session, server_id, rng)
    return StatsOut.of(server_id, rng, series)
