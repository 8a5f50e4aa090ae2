"""Achievements from config: thresholds, granted once, streaks, event attendance."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from temporalio.converter import DataConverter

from domain.achievements import (
    DEFAULT_ACHIEVEMENTS,
    AchievementGrant,
    AchievementRule,
    MemberCounters,
    event_attendance_award,
    grant,
    newly_earned,
    next_streak,
)

NOTHING: frozenset[str] = frozenset()


def keys(rules):
    return [rule.key for rule in rules]


def test_default_set_covers_the_basics():
    assert keys(DEFAULT_ACHIEVEMENTS) == [
        "first_message",
        "messages_100",
        "messages_1000",
        "streak_7",
        "streak_30",
        "first_event",
        "reactions_10",
        "level_10",
    ]
    by_key = {rule.key: rule for rule in DEFAULT_ACHIEVEMENTS}
    assert (by_key["messages_1000"].counter, by_key["messages_1000"].threshold) == (
        "messages",
        1_000,
    )
    assert (by_key["streak_30"].counter, by_key["streak_30"].threshold) == ("streak_days", 30)
    assert (by_key["level_10"].counter, by_key["level_10"].threshold) == ("level", 10)


def test_thresholds_are_inclusive():
    assert newly_earned(DEFAULT_ACHIEVEMENTS, MemberCounters(), NOTHING) == ()
    assert keys(newly_earned(DEFAULT_ACHIEVEMENTS, MemberCounters(messages=1), NOTHING)) == [
        "first_message"
    ]
    assert keys(newly_earned(DEFAULT_ACHIEVEMENTS, MemberCounters(messages=99), NOTHING)) == [
        "first_message"
    ]
    counters = MemberCounters(messages=100, level=10, reactions_received=10)
    assert keys(newly_earned(DEFAULT_ACHIEVEMENTS, counters, NOTHING)) == [
        "first_message",
        "reactions_10",
        "level_10",
        "messages_100",
    ]  # by threshold, config order on ties


def test_already_earned_achievements_are_never_returned():
    counters = MemberCounters(messages=5_000, streak_days=40, events_attended=3)
    earned = frozenset({"first_message", "streak_7", "first_event"})
    assert keys(newly_earned(DEFAULT_ACHIEVEMENTS, counters, earned)) == [
        "streak_30",
        "messages_100",
        "messages_1000",
    ]


def test_each_achievement_is_granted_once_as_counters_grow():
    earned: set[str] = set()
    granted: list[str] = []
    counters = MemberCounters()
    for day in range(1, 1_200):
        counters = replace(counters, messages=day, streak_days=min(day, 31), level=day // 50)
        new = newly_earned(DEFAULT_ACHIEVEMENTS, counters, frozenset(earned))
        granted += keys(new)
        earned |= set(keys(new))
    assert sorted(granted) == sorted(
        ["first_message", "messages_100", "messages_1000", "streak_7", "streak_30", "level_10"]
    )


def test_duplicate_keys_in_config_are_granted_once():
    rules = (
        AchievementRule("chatty", "Chatty", "50 messages", "messages", 50),
        AchievementRule("chatty", "Chatty again", "10 messages", "messages", 10),
    )
    assert keys(newly_earned(rules, MemberCounters(messages=60), NOTHING)) == ["chatty"]


def test_grant_adds_up_bonus_xp_and_roles():
    rules = (
        AchievementRule("helper", "Helper", "Helped in 5 tickets", "tickets_helped", 5, 77, 50),
        AchievementRule("inviter", "Inviter", "Invited 3", "invites", 3, None, 25),
        AchievementRule("talker", "Talker", "60 voice minutes", "voice_minutes", 60, 78),
    )
    counters = MemberCounters(tickets_helped=5, invites=3, voice_minutes=59)
    got = grant(rules, counters, NOTHING)
    assert keys(got.earned) == ["inviter", "helper"]
    assert got.xp_bonus == 75
    assert got.role_ids == {77}
    assert grant(rules, counters, frozenset({"helper", "inviter"})) == AchievementGrant()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": " "}, "blank"),
        ({"counter": "karma"}, "counter"),
        ({"threshold": 0}, "threshold"),
        ({"xp_bonus": -5}, "xp_bonus"),
    ],
)
def test_bad_rules_are_refused(kwargs, message):
    base = {
        "key": "k",
        "name": "n",
        "description": "d",
        "counter": "messages",
        "threshold": 1,
    }
    with pytest.raises(ValueError, match=message):
        AchievementRule(**{**base, **kwargs})


def test_counters_round_trip_through_the_temporal_converter():
    converter = DataConverter.default.payload_converter
    counters = MemberCounters(messages=3, streak_days=2, xp=1_000)
    payloads = converter.to_payloads([counters, DEFAULT_ACHIEVEMENTS[0]])
    assert converter.from_payloads(payloads, [MemberCounters, AchievementRule]) == [
        counters,
        DEFAULT_ACHIEVEMENTS[0],
    ]


# --- streaks ------------------------------------------------------------------------------


def test_streak_rules():
    monday = date(2025, 3, 3)
    assert next_streak(None, 0, monday) == 1  # first activity ever
    assert next_streak(monday, 4, monday) == 4  # same day: unchanged
    assert next_streak(monday, 4, date(2025, 3, 4)) == 5  # the next day
    assert next_streak(monday, 4, date(2025, 3, 5)) == 1  # a day missed
    assert next_streak(monday, 4, date(2026, 3, 4)) == 1
    assert next_streak(monday, 4, date(2025, 3, 2)) == 4  # local date went back: left alone


def test_streaks_cross_month_year_and_leap_days():
    assert next_streak(date(2024, 12, 31), 9, date(2025, 1, 1)) == 10
    assert next_streak(date(2024, 2, 28), 9, date(2024, 2, 29)) == 10
    assert next_streak(date(2024, 2, 29), 9, date(2024, 3, 1)) == 10
    assert next_streak(date(2025, 2, 28), 9, date(2025, 3, 1)) == 10
    assert next_streak(date(2024, 2, 28), 9, date(2024, 3, 1)) == 1


def test_a_week_of_daily_activity_earns_the_streak_achievement():
    streak, last = 0, None
    for day in range(1, 8):
        today = date(2025, 5, day)
        streak, last = next_streak(last, streak, today), today
        streak = next_streak(last, streak, today)  # a second message the same day
    assert streak == 7
    counters = MemberCounters(streak_days=streak)
    assert "streak_7" in keys(newly_earned(DEFAULT_ACHIEVEMENTS, counters, NOTHING))


# --- event attendance ---------------------------------------------------------------------


def test_attending_a_first_event_counts_and_earns_bonus_xp():
    rules = (
        AchievementRule("first_event", "Showed up", "1 event", "events_attended", 1, 55, 40),
        AchievementRule("regular", "Regular", "5 events", "events_attended", 5, None, 100),
    )
    before = MemberCounters(events_attended=0, xp=1_000)
    got = event_attendance_award(rules, before, NOTHING, event_xp=50)
    assert got.counters == MemberCounters(events_attended=1, xp=1_000 + 50 + 40)
    assert got.xp == 90
    assert keys(got.grant.earned) == ["first_event"]
    assert got.grant.role_ids == {55}


def test_a_second_event_earns_only_the_event_xp():
    counters = MemberCounters(events_attended=1, xp=200)
    got = event_attendance_award(
        DEFAULT_ACHIEVEMENTS, counters, frozenset({"first_event"}), event_xp=25
    )
    assert (got.counters.events_attended, got.counters.xp, got.xp) == (2, 225, 25)
    assert got.grant.earned == ()


def test_event_xp_must_not_be_negative():
    with pytest.raises(ValueError):
        event_attendance_award(DEFAULT_ACHIEVEMENTS, MemberCounters(), NOTHING, event_xp=-1)
