"""Analytics rows: additive counter upserts, the hourly recomputation, and reading series.

`analytics` holds one row per (guild, metric, date, hour); hour -1 (`ANALYTICS_WHOLE_DAY`) is a
day's total, written by the daily rollup (`storage.retention.roll_up_days`). Two kinds of writers
share the table without stepping on each other (domain/analytics.py says which metric is which):

- live counters (`add_counts`): `value = value + n`, for counts nobody can recompute later;
- the hourly rollup (`recompute_hour`): overwrites the metrics derived from source tables with
  their totals recomputed from scratch, so a re-run gives the same numbers.

`server_stats` is the one reader: the stats endpoint and `dcs report` both use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.analytics import (
    ACTIONS_PREFIX,
    EVENT_ATTENDANCE,
    RECOMPUTED_METRICS,
    TICKET_RESOLUTION_SECONDS,
    TICKETS_CLOSED,
    TICKETS_OPENED,
    VIOLATIONS_PREFIX,
    Point,
    Series,
    StatsRange,
    action_metric,
    fill_series,
    hour_floor,
    prefer_daily,
    violation_metric,
)
from storage.models import (
    ANALYTICS_WHOLE_DAY,
    AnalyticsPoint,
    EngagementAward,
    ModerationCase,
    SupportTicket,
)
from storage.servers import ensure_server_exists
from storage.upsert import insert

CounterKey = tuple[int, str, datetime]
"""(guild id, metric, start of the UTC hour)."""

EVENT_AWARD_PREFIX = "event:"
"""`engagement_awards.award_key` of an event attended (`event:<id>[:<occurrence>]`)."""


async def add_counts(session: AsyncSession, counts: Mapping[CounterKey, int]) -> int:
    """Add each count to its hourly row (created at 0 if missing); returns rows touched.

    Keys are written in sorted order, so two writers lock rows in the same order.
    """
    guilds = sorted({guild_id for guild_id, _, _ in counts})
    for guild_id in guilds:
        await ensure_server_exists(session, guild_id)
    written = 0
    for (guild_id, metric, hour), n in sorted(counts.items()):
        if n == 0:
            continue
        start = hour_floor(hour)
        stmt = insert(session, AnalyticsPoint).values(
            guild_id=guild_id, metric=metric, date=start.date(), hour=start.hour, value=n
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id", "metric", "date", "hour"],
                set_={"value": AnalyticsPoint.value + stmt.excluded.value},
            )
        )
        written += 1
    return written


async def hour_totals(session: AsyncSession, hour: datetime) -> dict[tuple[int, str], int]:
    """The recomputed metrics of one UTC hour, per (guild, metric), from the source tables."""
    start = hour_floor(hour)
    end = start + timedelta(hours=1)
    totals: Counter[tuple[int, str]] = Counter()

    cases = await session.execute(
        select(ModerationCase.guild_id, ModerationCase.rule, ModerationCase.action, func.count())
        .where(ModerationCase.created_at >= start, ModerationCase.created_at < end)
        .group_by(ModerationCase.guild_id, ModerationCase.rule, ModerationCase.action)
    )
    for guild_id, rule, action, n in cases:
        totals[(guild_id, action_metric(action))] += n
        if rule:
            totals[(guild_id, violation_metric(rule))] += n

    opened = await session.execute(
        select(SupportTicket.guild_id, func.count())
        .where(SupportTicket.created_at >= start, SupportTicket.created_at < end)
        .group_by(SupportTicket.guild_id)
    )
    for guild_id, n in opened:
        totals[(guild_id, TICKETS_OPENED)] += n

    closed = await session.execute(
        select(SupportTicket.guild_id, SupportTicket.created_at, SupportTicket.closed_at).where(
            SupportTicket.closed_at >= start, SupportTicket.closed_at < end
        )
    )
    for guild_id, created_at, closed_at in closed:
        assert closed_at is not None  # the WHERE compares it
        totals[(guild_id, TICKETS_CLOSED)] += 1
        seconds = int((closed_at - created_at).total_seconds())
        totals[(guild_id, TICKET_RESOLUTION_SECONDS)] += max(0, seconds)

    attended = await session.execute(
        select(EngagementAward.guild_id, func.count())
        .where(
            EngagementAward.award_key.startswith(EVENT_AWARD_PREFIX),
            EngagementAward.granted_at >= start,
            EngagementAward.granted_at < end,
        )
        .group_by(EngagementAward.guild_id)
    )
    for guild_id, n in attended:
        totals[(guild_id, EVENT_ATTENDANCE)] += n
    return dict(totals)


async def recompute_hour(session: AsyncSession, hour: datetime) -> int:
    """Overwrite the hour's recomputed metrics with totals from the source tables.

    Rows of those metrics that no longer have anything behind them (a case erased) are set to
    0 rather than deleted, so the daily rollup's next sum corrects the day too. Idempotent:
    running it twice leaves the same values. Returns the non-zero rows written.
    """
    start = hour_floor(hour)
    await session.execute(
        update(AnalyticsPoint)
        .where(
            AnalyticsPoint.date == start.date(),
            AnalyticsPoint.hour == start.hour,
            AnalyticsPoint.value != 0,
            or_(
                AnalyticsPoint.metric.in_(RECOMPUTED_METRICS),
                AnalyticsPoint.metric.startswith(VIOLATIONS_PREFIX),
                AnalyticsPoint.metric.startswith(ACTIONS_PREFIX),
            ),
        )
        .values(value=0)
        .execution_options(synchronize_session=False)
    )
    totals = await hour_totals(session, start)
    for (guild_id, metric), value in sorted(totals.items()):
        await set_point(session, guild_id, metric, start.date(), start.hour, value, "hourly")
    return len(totals)


async def set_point(
    session: AsyncSession, guild_id: int, metric: str, day: date, hour: int, value: int, rollup: str
) -> None:
    """Write one bucket's total (an upsert: a re-run or a late write just corrects it)."""
    stmt = insert(session, AnalyticsPoint).values(
        guild_id=guild_id, metric=metric, date=day, hour=hour, value=value, meta={"rollup": rollup}
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["guild_id", "metric", "date", "hour"],
            set_={"value": stmt.excluded.value, "metadata": stmt.excluded["metadata"]},
        )
    )


async def _hourly_points(
    session: AsyncSession, guild_id: int, first: date, last: date
) -> list[Point]:
    rows = await session.execute(
        select(
            AnalyticsPoint.metric, AnalyticsPoint.date, AnalyticsPoint.hour, AnalyticsPoint.value
        ).where(
            AnalyticsPoint.guild_id == guild_id,
            AnalyticsPoint.date >= first,
            AnalyticsPoint.date <= last,
            AnalyticsPoint.hour != ANALYTICS_WHOLE_DAY,
        )
    )
    return [Point(metric, day, hour, int(value)) for metric, day, hour, value in rows]


async def _daily_points(
    session: AsyncSession, guild_id: int, first: date, last: date
) -> list[Point]:
    """Whole-day rows, and the hourly sums of days the daily rollup has not written."""
    in_range = (
        AnalyticsPoint.guild_id == guild_id,
        AnalyticsPoint.date >= first,
        AnalyticsPoint.date <= last,
    )
    daily_rows = await session.execute(
        select(AnalyticsPoint.metric, AnalyticsPoint.date, AnalyticsPoint.value).where(
            *in_range, AnalyticsPoint.hour == ANALYTICS_WHOLE_DAY
        )
    )
    daily = {(metric, day): int(value) for metric, day, value in daily_rows}
    hourly_rows = await session.execute(
        select(AnalyticsPoint.metric, AnalyticsPoint.date, func.sum(AnalyticsPoint.value))
        .where(*in_range, AnalyticsPoint.hour != ANALYTICS_WHOLE_DAY)
        .group_by(AnalyticsPoint.metric, AnalyticsPoint.date)
    )
    hourly = {(metric, day): int(total or 0) for metric, day, total in hourly_rows}
    return prefer_daily(daily, hourly)


async def server_stats(session: AsyncSession, guild_id: int, stats_range: StatsRange) -> Series:
    """Zero-filled series per metric over the range's buckets.

    Hour buckets read hourly rows; day and week buckets read whole-day totals, falling back to
    the hourly rows for days not rolled up yet (today).
    """
    first, last = stats_range.first_day, stats_range.last_day
    if stats_range.granularity == "hour":
        points = await _hourly_points(session, guild_id, first, last)
    else:
        points = await _daily_points(session, guild_id, first, last)
    return fill_series(points, stats_range.buckets, stats_range.granularity)
