"""Analytics arithmetic: metric names, UTC buckets, ranges and their limits, zero-filled series,
daily totals preferred over hourly sums, derived averages, report weeks."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.analytics import (
    BASE_METRICS,
    METRIC_MAX_LENGTH,
    TICKET_RESOLUTION_SECONDS,
    TICKETS_CLOSED,
    Point,
    RangeError,
    action_metric,
    bucket_floor,
    bucket_starts,
    fill_series,
    is_recomputed,
    iso_week_label,
    iso_week_range,
    prefer_daily,
    stats_range,
    violation_metric,
    week_ending,
)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_metric_names_fit_the_column_and_say_who_owns_them():
    assert violation_metric("blocked_terms") == "violations:blocked_terms"
    assert action_metric("ban") == "actions:ban"
    assert len(violation_metric("x" * 200)) == METRIC_MAX_LENGTH
    assert violation_metric("  ") == "violations:unknown"
    assert is_recomputed("violations:caps") and is_recomputed("tickets_closed")
    assert not is_recomputed("messages") and not is_recomputed("ai_calls")


def test_buckets_are_utc_hours_days_and_iso_weeks():
    moment = datetime(2026, 12, 3, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2 Dec 23:30 UTC
    assert bucket_floor(moment, "hour") == at(2, 23)
    assert bucket_floor(moment, "day") == at(2)
    assert bucket_floor(moment, "week") == datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
    naive = datetime(2026, 12, 2, 5, 59)  # read as UTC
    assert bucket_floor(naive, "hour") == at(2, 5)
    assert bucket_starts(at(2, 22, 10), at(3, 1), "hour") == [at(2, 22), at(2, 23), at(3, 0)]
    assert bucket_starts(at(2, 22), at(3, 0, 1), "day") == [at(2), at(3)]


def test_range_defaults_alignment_and_limits():
    now = at(6, 12, 34)
    rng = stats_range(None, None, "day", now=now)
    assert rng.start == at(6) - timedelta(days=7) and rng.end == at(7)
    assert len(rng.buckets) == 8
    assert rng.first_day == date(2026, 11, 29) and rng.last_day == date(2026, 12, 6)
    hourly = stats_range(at(1, 5, 30), at(1, 8), "hour", now=now)
    assert hourly.buckets == [at(1, 5), at(1, 6), at(1, 7)] and hourly.last_day == date(2026, 12, 1)
    weekly = stats_range(at(2), at(16), "week", now=now)
    assert [b.date() for b in weekly.buckets] == [
        date(2026, 11, 30),
        date(2026, 12, 7),
        date(2026, 12, 14),
    ]
    with pytest.raises(RangeError, match="before"):
        stats_range(at(3), at(2), "day", now=now)
    with pytest.raises(RangeError, match="at most 744"):
        stats_range(at(1), at(1) + timedelta(days=32), "hour", now=now)
    assert len(stats_range(at(1), at(1) + timedelta(days=31), "hour", now=now).buckets) == 744


def test_series_are_zero_filled_summed_per_bucket_and_averaged():
    rng = stats_range(at(1), at(4), "day", now=at(4))
    points = [
        Point("messages", date(2026, 12, 1), 3, 5),
        Point("messages", date(2026, 12, 1), 17, 2),
        Point("messages", date(2026, 12, 3), None, 9),
        Point("violations:caps", date(2026, 12, 2), 4, 1),
        Point("messages", date(2026, 12, 9), None, 100),  # outside: ignored
        Point(TICKETS_CLOSED, date(2026, 12, 1), 1, 2),
        Point(TICKET_RESOLUTION_SECONDS, date(2026, 12, 1), 1, 3600),
        Point(TICKETS_CLOSED, date(2026, 12, 3), 1, 1),
        Point(TICKET_RESOLUTION_SECONDS, date(2026, 12, 3), 1, 7200),
    ]
    series = fill_series(points, rng.buckets, "day")
    assert series.values["messages"] == [7, 0, 9]
    assert series.values["violations:caps"] == [0, 1, 0]
    assert series.values["joins"] == [0, 0, 0]
    assert set(BASE_METRICS) <= set(series.values)
    assert series.total("messages") == 16
    assert series.with_prefix("violations:") == {"caps": 1}
    assert series.averages()["ticket_resolution_avg_seconds"] == [1800.0, None, 7200.0]
    # the range's average is total seconds over total closed, not a mean of daily means
    assert series.average_totals()["ticket_resolution_avg_seconds"] == pytest.approx(3600.0)


def test_a_rolled_up_day_wins_over_its_hourly_sum_and_today_comes_from_hours():
    d1, d2 = date(2026, 12, 1), date(2026, 12, 2)
    daily = {("messages", d1): 40}
    hourly = {("messages", d1): 39, ("messages", d2): 7, ("joins", d1): 2}
    points = prefer_daily(daily, hourly)
    assert sorted((p.metric, p.day, p.value) for p in points) == [
        ("joins", d1, 2),
        ("messages", d1, 40),
        ("messages", d2, 7),
    ]
    assert all(p.hour is None for p in points)


def test_report_weeks():
    assert iso_week_range("2026-W49") == (date(2026, 11, 30), date(2026, 12, 7))
    assert iso_week_label(date(2026, 12, 6)) == "2026-W49"
    assert week_ending(date(2026, 12, 6)) == (date(2026, 11, 30), date(2026, 12, 7))
    for bad in ("2026-49", "2026-W54", "W49"):
        with pytest.raises(ValueError, match="ISO week"):
            iso_week_range(bad)
