"""Announcement requests: every problem at once (cron fields, zone, interval, one-off in the
past, exactly one timing), and the post's mentions (only the chosen role)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.announcements import (
    AnnouncementSpec,
    cron_problems,
    embed,
    mentions,
    problems,
    schedule_id,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["0 9 * * mon-fri", "*/15 * * * *", "0 0 1 1 *", "30 18 * * 5", "0 9,17 1-15 jan-jun 0-7",
     "@daily", "@hourly", "0 12 * * SUN"],
)  # fmt: skip
def test_valid_cron_expressions(expression):
    assert cron_problems(expression) == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("61 * * * *", ["cron minute: '61' is outside 0-59"]),
        ("0 24 * * *", ["cron hour: '24' is outside 0-23"]),
        ("0 0 0 * *", ["cron day of month: '0' is outside 1-31"]),
        ("0 0 * 13 *", ["cron month: '13' is outside 1-12"]),
        ("0 0 * * fry", ["cron day of week: 'fry' is outside 0-7"]),
        ("*/0 * * * *", ["cron minute: '*/0' has a step of 0"]),
        ("0 17-9 * * *", ["cron hour: '17-9' runs backwards"]),
        ("0 9 * *", ["cron: '0 9 * *' has 4 fields; expected 5"]),
    ],
)
def test_each_cron_problem_names_its_field(expression, expected):
    found = cron_problems(expression)
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert got.startswith(want)


def test_every_problem_is_listed_at_once():
    spec = AnnouncementSpec(
        channel_id=1,
        title="",
        body="x" * 5000,
        colour=0x1000000,
        cron="99 99 * * *",
        interval_seconds=10,
        timezone="Nowhere/City",
    )
    found = problems(spec, NOW)
    joined = " | ".join(found)
    for expected in (
        "title: must not be empty",
        "body: longer than",
        "colour:",
        "exactly one of cron, interval_seconds and at",
        "cron minute",
        "cron hour",
        "interval_seconds: must be between 60",
        "'Nowhere/City' is not a known time zone",
    ):
        assert expected in joined


def test_a_one_off_must_be_in_the_future_and_aware():
    past = AnnouncementSpec(channel_id=1, title="t", at=NOW - timedelta(seconds=1))
    assert problems(past, NOW) == [f"at: {past.at.isoformat()} is in the past"]  # type: ignore[union-attr]
    naive = AnnouncementSpec(channel_id=1, title="t", at=datetime(2030, 1, 1))
    assert problems(naive, NOW) == ["at: needs a UTC offset or a timezone"]
    ok = AnnouncementSpec(channel_id=1, title="t", at=NOW + timedelta(minutes=5))
    assert problems(ok, NOW) == [] and ok.kind == "once"


def test_a_role_ping_allows_only_that_role():
    spec = AnnouncementSpec(channel_id=1, title="t", body="@everyone hi", role_id=42, cron="@daily")
    assert mentions(spec) == ("<@&42>", {"parse": [], "roles": ["42"]})
    assert mentions(AnnouncementSpec(channel_id=1, title="t")) == ("", {"parse": []})
    assert embed(spec) == {"title": "t", "color": spec.colour, "description": "@everyone hi"}
    assert schedule_id(7, 3) == "announce:7:3"
