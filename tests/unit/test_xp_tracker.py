"""The XP fast path's in-process state: cooldowns, totals, write-behind, bounded memory."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.leveling import LevelingRules, VoiceXPRules, multipliers
from domain.xp_tracker import XPAward, XPDelta, XPTracker

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FIXED = LevelingRules(min_gain=20, max_gain=20)
"""Every message earns exactly 20 XP, so totals are easy to follow."""
GUILD, USER, CHANNEL = 1, 2, 3


def award(tracker, *, at=T0, rules=FIXED, user=USER, guild=GUILD, channel=CHANNEL, **kwargs):
    kwargs.setdefault("roll", 0.5)
    kwargs.setdefault("role_ids", frozenset())
    return tracker.award(rules, guild_id=guild, user_id=user, channel_id=channel, now=at, **kwargs)


def seconds(value: float) -> datetime:
    return T0 + timedelta(seconds=value)


# --- cooldowns ----------------------------------------------------------------------------


def test_cooldown_is_exactly_sixty_seconds():
    tracker = XPTracker()
    assert award(tracker, at=seconds(0)) is not None
    assert award(tracker, at=seconds(1)) is None
    assert award(tracker, at=seconds(59.999)) is None
    assert award(tracker, at=seconds(60)) is not None
    assert award(tracker, at=seconds(119.999_999)) is None
    assert award(tracker, at=seconds(120)) is not None


def test_cooldown_follows_the_rules_and_is_per_member_and_guild():
    tracker = XPTracker()
    quick = LevelingRules(min_gain=20, max_gain=20, cooldown_seconds=10)
    assert award(tracker, rules=quick) is not None
    assert award(tracker, rules=quick, at=seconds(9)) is None
    assert award(tracker, rules=quick, at=seconds(10)) is not None
    assert award(tracker, rules=quick, at=seconds(10), user=99) is not None
    assert award(tracker, rules=quick, at=seconds(10), guild=99) is not None


def test_voice_and_messages_have_separate_cooldowns():
    rules = LevelingRules(min_gain=20, max_gain=20, voice=VoiceXPRules(enabled=True))
    tracker = XPTracker()
    assert award(tracker, rules=rules) is not None
    voice = award(tracker, rules=rules, source="voice", roll=0.0)
    assert voice is not None
    assert voice.gained == 5
    assert award(tracker, rules=rules, source="voice", at=seconds(30)) is None
    assert award(tracker, rules=rules, source="voice", at=seconds(60), roll=0.99) is not None
    (delta,) = tracker.drain()
    assert (delta.xp, delta.messages, delta.voice_minutes) == (20 + 5 + 10, 1, 2)


def test_voice_xp_is_off_unless_enabled():
    tracker = XPTracker()
    assert award(tracker, source="voice") is None
    assert tracker.pending_count() == 0
    with pytest.raises(ValueError, match="source"):
        award(tracker, source="reaction")


def test_messages_that_earn_nothing_do_not_start_a_cooldown():
    rules = LevelingRules(min_gain=20, max_gain=20, no_xp_channel_ids=frozenset({CHANNEL}))
    tracker = XPTracker()
    assert award(tracker, rules=rules) is None
    assert award(tracker, rules=rules, channel=CHANNEL + 1, at=seconds(1)) is not None
    assert award(tracker, rules=rules, role_ids={5}, at=seconds(90)) is None
    assert tracker.tracked_count() == 1


# --- totals and levels --------------------------------------------------------------------


def test_totals_are_unknown_until_loaded_then_level_change_fills_them_in():
    tracker = XPTracker()
    first = award(tracker)
    assert first == XPAward(GUILD, USER, 20, None, None, None, None, leveled_up=False)
    tracker.set_known_total(GUILD, USER, 90)  # the stored total, pending XP not included
    assert tracker.total(GUILD, USER) == 110
    filled = tracker.level_change(FIXED, first)
    assert filled == XPAward(GUILD, USER, 20, 90, 110, 0, 1, leveled_up=True)
    assert tracker.level_change(FIXED, XPAward(GUILD, 77, 20, None, None, None, None, False)) == (
        XPAward(GUILD, 77, 20, None, None, None, None, False)
    )


def test_an_award_reports_a_level_up_exactly_when_it_crosses():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 60)
    assert award(tracker) == XPAward(GUILD, USER, 20, 60, 80, 0, 0, leveled_up=False)
    assert award(tracker, at=seconds(60)) == XPAward(GUILD, USER, 20, 80, 100, 0, 1, True)
    assert award(tracker, at=seconds(120)).leveled_up is False


def test_max_level_caps_reported_levels():
    rules = LevelingRules(min_gain=20, max_gain=20, max_level=1)
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 250)  # level 1, 5 short of level 2
    got = award(tracker, rules=rules)
    assert (got.level_before, got.level_after, got.leveled_up) == (1, 1, False)
    assert got.total_after == 270


def test_multipliers_apply_through_the_tracker():
    rules = LevelingRules(
        min_gain=10,
        max_gain=10,
        channel_multipliers=multipliers({CHANNEL: 2.0}),
        role_multipliers=multipliers({7: 3.0}),
    )
    assert award(XPTracker(), rules=rules, role_ids={7}).gained == 60


# --- write-behind -------------------------------------------------------------------------


def test_drain_hands_over_pending_deltas_and_clears_them():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 1_000)
    award(tracker)
    award(tracker, at=seconds(61))
    award(tracker, user=5, at=seconds(2))
    assert tracker.pending_count() == 2
    assert (tracker.pending_xp(GUILD, USER), tracker.pending_xp(GUILD, 404)) == (40, 0)
    deltas = tracker.drain()
    assert deltas == [
        XPDelta(GUILD, USER, 40, messages=2, voice_minutes=0, last_active=seconds(61)),
        XPDelta(GUILD, 5, 20, messages=1, voice_minutes=0, last_active=seconds(2)),
    ]
    assert tracker.pending_count() == 0
    assert tracker.pending_xp(GUILD, USER) == 0
    assert tracker.drain() == []
    assert tracker.total(GUILD, USER) == 1_040  # counted while the write is in flight


def test_restore_after_a_failed_write_loses_nothing_and_merges_newer_xp():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 500)
    award(tracker)
    failed = tracker.drain()
    award(tracker, at=seconds(60))  # arrives while the write is failing
    assert tracker.total(GUILD, USER) == 540
    tracker.restore(failed)
    assert tracker.total(GUILD, USER) == 540
    assert tracker.pending_count() == 1
    (delta,) = tracker.drain()
    assert (delta.xp, delta.messages, delta.last_active) == (40, 2, seconds(60))


def test_confirm_takes_the_database_total_including_edits_made_elsewhere():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 100)
    award(tracker)
    tracker.drain()
    tracker.confirm(GUILD, USER, 120 + 500)  # the write, plus an edit from another process
    assert tracker.total(GUILD, USER) == 620
    assert award(tracker, at=seconds(60)).total_before == 620


def test_no_duplicate_level_up_while_a_write_is_in_flight():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 90)
    assert award(tracker).leveled_up  # 90 -> 110
    tracker.drain()  # the write is in flight, not yet confirmed
    assert not award(tracker, at=seconds(60)).leveled_up  # 110 -> 130, still level 1


def test_flushes_with_failures_lose_nothing():
    rng = random.Random(3)
    tracker = XPTracker(max_members_per_guild=50)
    stored: dict[tuple[int, int], int] = {}
    messages: dict[tuple[int, int], int] = {}
    gained = awards = 0
    for step in range(20_000):
        user, guild = rng.randrange(300), rng.randrange(3)
        at, roll = seconds(step * 0.5), rng.random()
        got = award(tracker, user=user, guild=guild, at=at, roll=roll, rules=LevelingRules())
        if got is not None:
            gained, awards = gained + got.gained, awards + 1
            if got.total_before is None:
                tracker.set_known_total(guild, user, stored.get((guild, user), 0))
        if step % 97 == 0:
            deltas = tracker.drain()
            if rng.random() < 0.3:  # the write failed
                tracker.restore(deltas)
                continue
            for delta in deltas:
                key = (delta.guild_id, delta.user_id)
                stored[key] = stored.get(key, 0) + delta.xp
                messages[key] = messages.get(key, 0) + delta.messages
                tracker.confirm(*key, stored[key])
    for delta in tracker.drain():
        key = (delta.guild_id, delta.user_id)
        stored[key] = stored.get(key, 0) + delta.xp
        messages[key] = messages.get(key, 0) + delta.messages
    assert sum(stored.values()) == gained
    assert sum(messages.values()) == awards
    assert awards > 1_000


# --- admin edits --------------------------------------------------------------------------


def test_adjust_adds_and_never_goes_below_zero_once_known():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 50)
    assert tracker.adjust(GUILD, USER, 30) == 80
    assert tracker.adjust(GUILD, USER, -1_000) == 0
    (delta,) = tracker.drain()
    assert delta.xp == -50
    assert delta.last_active is None  # an admin edit is not activity


def test_adjust_before_the_total_is_known_is_clamped_when_it_arrives():
    tracker = XPTracker()
    assert tracker.adjust(GUILD, USER, -30) is None
    tracker.set_known_total(GUILD, USER, 10)
    assert tracker.total(GUILD, USER) == 0
    (delta,) = tracker.drain()
    assert delta.xp == -10


def test_reset_zeroes_xp_and_later_xp_counts_from_zero():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 5_000)
    award(tracker)
    tracker.reset(GUILD, USER)
    assert tracker.total(GUILD, USER) == 0
    got = award(tracker, at=seconds(60))
    assert (got.total_before, got.total_after, got.level_after) == (0, 20, 0)
    (delta,) = tracker.drain()
    assert (delta.reset, delta.xp, delta.messages) == (True, 20, 2)
    assert tracker.total(GUILD, USER) == 20
    award(tracker, at=seconds(120))
    (delta,) = tracker.drain()
    assert (delta.reset, delta.xp) == (False, 20)


def test_a_reset_after_a_failed_write_wins_over_the_restored_xp():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 300)
    award(tracker)
    failed = tracker.drain()
    tracker.reset(GUILD, USER)
    tracker.restore(failed)
    assert tracker.total(GUILD, USER) == 0
    (delta,) = tracker.drain()
    assert (delta.reset, delta.xp, delta.messages) == (True, 0, 1)


def test_a_failed_reset_is_restored_as_a_reset():
    tracker = XPTracker()
    tracker.set_known_total(GUILD, USER, 300)
    tracker.reset(GUILD, USER)
    failed = tracker.drain()
    award(tracker)
    tracker.restore(failed)
    assert tracker.total(GUILD, USER) == 20
    (delta,) = tracker.drain()
    assert (delta.reset, delta.xp) == (True, 20)


# --- bounded memory -----------------------------------------------------------------------


def test_memory_stays_bounded_over_a_long_stream_and_pending_is_never_evicted():
    cap = 10_000
    tracker = XPTracker(max_members_per_guild=cap)
    written = gained = 0
    for user in range(200_000):
        got = award(tracker, user=user, at=seconds(user * 0.01))
        gained += got.gained
        assert tracker.tracked_count() <= max(cap, tracker.pending_count())
        if user % 1_000 == 999:
            written += sum(delta.xp for delta in tracker.drain())
            assert tracker.tracked_count() <= cap
    written += sum(delta.xp for delta in tracker.drain())
    assert written == gained == 200_000 * 20
    assert tracker.tracked_count() == cap


def test_members_with_pending_xp_outlive_the_cap_until_the_flush():
    tracker = XPTracker(max_members_per_guild=10)
    for user in range(100):
        award(tracker, user=user)
    assert tracker.tracked_count() == 100
    deltas = tracker.drain()
    assert sorted(delta.user_id for delta in deltas) == list(range(100))
    assert tracker.tracked_count() == 10


def test_the_least_recently_active_are_evicted_first_and_guilds_are_separate():
    tracker = XPTracker(max_members_per_guild=3)
    for user in (1, 2, 3):
        award(tracker, user=user)
        tracker.drain()
    award(tracker, user=1, at=seconds(60))  # 1 is active again
    tracker.drain()
    award(tracker, user=4, at=seconds(61))  # needs room: 2 is the least recently active
    assert award(tracker, user=2, at=seconds(62)) is not None  # forgotten, so no cooldown
    assert award(tracker, user=1, at=seconds(62)) is None  # remembered
    award(tracker, user=1, guild=9)
    assert tracker.tracked_count(9) == 1
    assert tracker.tracked_count(GUILD) == 3  # 1, 4 and 2


def test_cap_must_be_positive():
    with pytest.raises(ValueError):
        XPTracker(max_members_per_guild=0)
