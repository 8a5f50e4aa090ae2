"""Server analytics without I/O: metric names, UTC buckets, zero-filled series, derived values.

Every metric is an additive count per (guild, metric, UTC hour); a day is the sum of its hours and
a week (ISO, Monday 00:00 UTC) the sum of its days. Averages are never stored: a metric that needs
one is stored as a sum next to a count (`ticket_resolution_seconds` / `tickets_closed`), so it
rolls up correctly and the average is derived when read (`average`).

Where each metric comes from (docs/analytics.md):

- counted by the gateway in memory and flushed as additive upserts: `messages`, `joins`,
  `leaves`, `faq_hits`;
- counted in the transaction that spends an AI call against the server's budget: `ai_calls`;
- added after each AI provider call returns, with its month's totals (storage.ai_usage
  `record_ai_tokens`): `ai_input_tokens`, `ai_output_tokens`, `ai_cost_micro_usd` (USD
  millionths; 0 for a model with no price, domain/ai_cost.py);
- recomputed each hour from the source tables by `maintenance:rollup-hourly` (idempotent):
  `violations:<rule>`, `actions:<action>`, `tickets_opened`, `tickets_closed`,
  `ticket_resolution_seconds`, `event_attendance`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

Granularity = Literal["hour", "day", "week"]
GRANULARITIES: tuple[Granularity, ...] = ("hour", "day", "week")

# Counted live (gateway, AI budget).
MESSAGES = "messages"
JOINS = "joins"
LEAVES = "leaves"
FAQ_HITS = "faq_hits"
AI_CALLS = "ai_calls"
AI_INPUT_TOKENS = "ai_input_tokens"
AI_OUTPUT_TOKENS = "ai_output_tokens"
AI_COST_MICRO_USD = "ai_cost_micro_usd"
AI_USAGE_METRICS = (AI_INPUT_TOKENS, AI_OUTPUT_TOKENS, AI_COST_MICRO_USD)
# Recomputed hourly from the source tables.
TICKETS_OPENED = "tickets_opened"
TICKETS_CLOSED = "tickets_closed"
TICKET_RESOLUTION_SECONDS = "ticket_resolution_seconds"
EVENT_ATTENDANCE = "event_attendance"
VIOLATIONS_PREFIX = "violations:"
ACTIONS_PREFIX = "actions:"

GATEWAY_METRICS = (MESSAGES, JOINS, LEAVES, FAQ_HITS)
LIVE_METRICS = (*GATEWAY_METRICS, AI_CALLS, *AI_USAGE_METRICS)
RECOMPUTED_METRICS = (TICKETS_OPENED, TICKETS_CLOSED, TICKET_RESOLUTION_SECONDS, EVENT_ATTENDANCE)
RECOMPUTED_PREFIXES = (VIOLATIONS_PREFIX, ACTIONS_PREFIX)
BASE_METRICS = (*LIVE_METRICS, *RECOMPUTED_METRICS)
"""Always present in a stats answer (zero-filled); prefixed metrics appear when they occurred."""

METRIC_MAX_LENGTH = 64
"""`analytics.metric` is VARCHAR(64)."""

AVERAGES: Mapping[str, tuple[str, str]] = {
    "ticket_resolution_avg_seconds": (TICKET_RESOLUTION_SECONDS, TICKETS_CLOSED),
}
"""Derived averages: name -> (sum metric, count metric)."""

MAX_BUCKETS: Mapping[Granularity, int] = {"hour": 24 * 31, "day": 366, "week": 106}
"""The widest range one stats request may ask for, in buckets of its granularity."""
DEFAULT_SPAN: Mapping[Granularity, timedelta] = {
    "hour": timedelta(hours=24),
    "day": timedelta(days=7),
    "week": timedelta(weeks=12),
}


def _bounded(prefix: str, name: str) -> str:
    return (prefix + (name.strip() or "unknown"))[:METRIC_MAX_LENGTH]


def violation_metric(rule: str) -> str:
    """`violations:<rule>` (cut to the column's 64 characters)."""
    return _bounded(VIOLATIONS_PREFIX, rule)


def action_metric(action: str) -> str:
    """`actions:<action>` (warn, timeout, kick, ban, delete, note, ...)."""
    return _bounded(ACTIONS_PREFIX, action)


def is_recomputed(metric: str) -> bool:
    """True for metrics the hourly rollup owns (it may overwrite or zero them)."""
    return metric in RECOMPUTED_METRICS or metric.startswith(RECOMPUTED_PREFIXES)


# --- buckets --------------------------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def day_start(day: date) -> datetime:
    """Midnight UTC of `day`."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def week_monday(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def bucket_floor(moment: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket holding `moment`: its UTC hour, day, or ISO week."""
    hour = hour_floor(moment)
    if granularity == "hour":
        return hour
    day = hour.date()
    return day_start(week_monday(day) if granularity == "week" else day)


def _step(granularity: Granularity) -> timedelta:
    return {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[
        granularity
    ]


def bucket_ceil(moment: datetime, granularity: Granularity) -> datetime:
    """The first bucket boundary at or after `moment`."""
    floor = bucket_floor(moment, granularity)
    return floor if floor == as_utc(moment) else floor + _step(granularity)


def bucket_starts(start: datetime, end: datetime, granularity: Granularity) -> list[datetime]:
    """Starts of the buckets covering [start, end): `start` floored, `end` rounded up."""
    first = bucket_floor(start, granularity)
    stop = bucket_ceil(end, granularity)
    step = _step(granularity)
    out: list[datetime] = []
    at = first
    while at < stop:
        out.append(at)
        at += step
    return out


def bucket_of(day: date, hour: int | None, granularity: Granularity) -> datetime:
    """The bucket a stored row (its date, and hour 0-23 or None for a whole day) falls in."""
    moment = day_start(day) + timedelta(hours=hour or 0)
    return bucket_floor(moment, granularity)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """UTC hour starts covering [start, end)."""
    return bucket_starts(start, end, "hour")


class RangeError(ValueError):
    """A stats range that cannot be served: empty, reversed, or wider than allowed."""


@dataclass(frozen=True)
class StatsRange:
    """A validated request: bucket-aligned [start, end) and its bucket starts."""

    start: datetime
    end: datetime
    granularity: Granularity
    buckets: list[datetime]

    @property
    def first_day(self) -> date:
        """The first UTC date the range touches."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last UTC date the range touches (end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).date()


def stats_range(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity,
    *,
    now: datetime,
) -> StatsRange:
    """Align a requested range to whole buckets; defaults: up to now, the granularity's span.

    Raises RangeError for an empty or reversed range, or one over MAX_BUCKETS buckets.
    """
    end = as_utc(end) if end is not None else as_utc(now)
    start = as_utc(start) if start is not None else end - DEFAULT_SPAN[granularity]
    if start >= end:
        raise RangeError("`from` must be before `to`.")
    first = bucket_floor(start, granularity)
    stop = bucket_ceil(end, granularity)
    count = (stop - first) // _step(granularity)
    limit = MAX_BUCKETS[granularity]
    if count > limit:
        raise RangeError(
            f"The range covers {count} {granularity} buckets; at most {limit} are allowed "
            f"with granularity={granularity}."
        )
    return StatsRange(first, stop, granularity, bucket_starts(first, stop, granularity))


# --- series ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One stored value: a metric's count in an hour (0-23) or a whole day (hour None)."""

    metric: str
    day: date
    hour: int | None
    value: int


@dataclass
class Series:
    """Zero-filled series per metric over a range's buckets, with totals and averages."""

    buckets: list[datetime]
    values: dict[str, list[int]] = field(default_factory=dict)

    def total(self, metric: str) -> int:
        """The metric's sum over the range (0 when it never occurred)."""
        return sum(self.values.get(metric, ()))

    def totals(self) -> dict[str, int]:
        """Every metric's sum."""
        return {m: sum(v) for m, v in self.values.items()}

    def with_prefix(self, prefix: str) -> dict[str, int]:
        """Totals of the metrics named `prefix<name>`, by name, largest first."""
        found = {m[len(prefix) :]: sum(v) for m, v in self.values.items() if m.startswith(prefix)}
        return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    def averages(self) -> dict[str, list[float | None]]:
        """Each derived average per bucket (None where its count is 0)."""
        out: dict[str, list[float | None]] = {}
        for name, (sum_metric, count_metric) in AVERAGES.items():
            sums = self.values.get(sum_metric, [0] * len(self.buckets))
            counts = self.values.get(count_metric, [0] * len(self.buckets))
            out[name] = [average(s, c) for s, c in zip(sums, counts, strict=True)]
        return out

    def average_totals(self) -> dict[str, float | None]:
        """Each derived average over the whole range."""
        return {
            name: average(self.total(sum_metric), self.total(count_metric))
            for name, (sum_metric, count_metric) in AVERAGES.items()
        }


def average(total: int, count: int) -> float | None:
    """The mean (total / count), or None when nothing was counted."""
    return total / count if count else None


def fill_series(
    points: Iterable[Point],
    buckets: Sequence[datetime],
    granularity: Granularity,
    metrics: Iterable[str] = BASE_METRICS,
) -> Series:
    """Sum points into their buckets; every metric named or seen gets a zero-filled series.

    Points outside the buckets are ignored.
    """
    index = {b: i for i, b in enumerate(buckets)}
    values: dict[str, list[int]] = {m: [0] * len(buckets) for m in metrics}
    for p in points:
        i = index.get(bucket_of(p.day, p.hour, granularity))
        if i is None:
            continue
        values.setdefault(p.metric, [0] * len(buckets))[i] += p.value
    return Series(list(buckets), values)


def prefer_daily(
    daily: Mapping[tuple[str, date], int], hourly_sums: Mapping[tuple[str, date], int]
) -> list[Point]:
    """Whole-day points: the rolled-up total where there is one, else the day's hourly sum.

    The daily rollup covers complete days only, so today (and any day it has not reached yet)
    comes from its hourly rows.
    """
    merged = {**hourly_sums, **daily}
    return [Point(metric, day, None, value) for (metric, day), value in sorted(merged.items())]


# --- reports --------------------------------------------------------------------------------


def iso_week_range(week: str) -> tuple[date, date]:
    """'2026-W49' -> (its Monday, the next Monday). Raises ValueError for a bad week."""
    try:
        year_part, week_part = week.upper().split("-W")
        monday = date.fromisocalendar(int(year_part), int(week_part), 1)
    except ValueError as exc:
        raise ValueError(f"not an ISO week like 2026-W49: {week!r}") from exc
    return monday, monday + timedelta(weeks=1)


def week_ending(end: date) -> tuple[date, date]:
    """The seven days ending with `end` (inclusive): (first day, the day after `end`)."""
    return end - timedelta(days=6), end + timedelta(days=1)


def iso_week_label(monday: date) -> str:
    """'2026-W49' for a date in that ISO week."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"
