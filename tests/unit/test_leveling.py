"""Level curves, progress, XP gain per message, voice eligibility."""

from __future__ import annotations

import random

import pytest
from temporalio.converter import DataConverter

from domain.leveling import (
    LevelingRules,
    LevelProgress,
    VoiceState,
    VoiceXPRules,
    compile_leveling,
    gain_for_message,
    level_for_xp,
    multipliers,
    progress,
    total_xp_for_level,
    voice_minute_eligible,
    xp_to_next,
)


def mee6_cumulative_by_loop(level: int) -> int:
    """Reference: add up MEE6's per-level requirement one level at a time."""
    return sum(5 * k * k + 50 * k + 100 for k in range(level))


# --- curves -------------------------------------------------------------------------------


def test_mee6_steps_match_mee6():
    assert xp_to_next("mee6", 0) == 100
    assert xp_to_next("mee6", 1) == 155  # 5 + 50 + 100
    assert xp_to_next("mee6", 2) == 220  # 20 + 100 + 100
    assert xp_to_next("mee6", 3) == 295  # 45 + 150 + 100
    assert xp_to_next("mee6", 10) == 1_100  # 500 + 500 + 100


def test_mee6_cumulative_by_hand():
    assert total_xp_for_level("mee6", 0) == 0
    assert total_xp_for_level("mee6", 1) == 100
    assert total_xp_for_level("mee6", 2) == 255  # 100 + 155
    assert total_xp_for_level("mee6", 3) == 475  # + 220
    assert total_xp_for_level("mee6", 5) == 1_150  # + 295 + 380
    # 5 * (0² + ... + 9²) + 50 * (0 + ... + 9) + 10 * 100 = 5 * 285 + 50 * 45 + 1000
    assert total_xp_for_level("mee6", 10) == 4_675
    # 5 * 328350 + 50 * 4950 + 100 * 100
    assert total_xp_for_level("mee6", 100) == 1_899_250


def test_mee6_closed_form_matches_the_running_sum():
    for level in range(300):
        assert total_xp_for_level("mee6", level) == mee6_cumulative_by_loop(level)


def test_linear_and_flat_curves():
    assert [xp_to_next("linear", n) for n in range(4)] == [100, 200, 300, 400]
    assert total_xp_for_level("linear", 3) == 600  # 100 + 200 + 300
    assert total_xp_for_level("linear", 2, base=50) == 150  # 50 + 100
    assert [xp_to_next("flat", n) for n in (0, 1, 50)] == [100, 100, 100]
    assert total_xp_for_level("flat", 7) == 700
    assert total_xp_for_level("flat", 7, base=30) == 210
    assert xp_to_next("flat", 3, base=30) == 30


@pytest.mark.parametrize("curve", ["mee6", "linear", "flat"])
@pytest.mark.parametrize("base", [1, 7, 100])
def test_level_for_every_small_total_matches_a_walk(curve, base):
    level, threshold = 0, xp_to_next(curve, 0, base=base)
    for total in range(30_000):
        while total >= threshold:
            level += 1
            threshold += xp_to_next(curve, level, base=base)
        assert level_for_xp(curve, total, base=base) == level, total


@pytest.mark.parametrize("curve", ["mee6", "linear", "flat"])
def test_level_for_huge_totals_is_exact(curve):
    rng = random.Random(7)
    totals = [rng.randrange(10**digits) for digits in range(10, 400, 7)] + [2**52 - 1, 2**52]
    for total in totals:
        level = level_for_xp(curve, total)
        assert total_xp_for_level(curve, level) <= total < total_xp_for_level(curve, level + 1)


def test_progress_at_boundaries():
    assert progress("mee6", 0) == LevelProgress(0, 0, 100, 0, at_max=False)
    assert progress("mee6", 99) == LevelProgress(0, 99, 1, 99, at_max=False)
    assert progress("mee6", 100) == LevelProgress(1, 0, 155, 100, at_max=False)
    assert progress("mee6", 254) == LevelProgress(1, 154, 1, 254, at_max=False)
    assert progress("mee6", 255) == LevelProgress(2, 0, 220, 255, at_max=False)
    assert progress("mee6", 4_675).level == 10
    assert progress("mee6", 4_674).level == 9


def test_max_level_caps_the_level_but_xp_keeps_counting():
    assert progress("mee6", 1_149, max_level=5) == LevelProgress(4, 379, 1, 1_149, at_max=False)
    assert progress("mee6", 1_150, max_level=5) == LevelProgress(5, 0, 0, 1_150, at_max=True)
    capped = progress("mee6", 1_000_000, max_level=5)
    assert capped == LevelProgress(5, 1_000_000 - 1_150, 0, 1_000_000, at_max=True)
    assert progress("flat", 5_000, max_level=0) == LevelProgress(0, 5_000, 0, 5_000, at_max=True)
    assert level_for_xp("linear", 10**9, max_level=3) == 3


def test_bad_curve_arguments_are_refused():
    with pytest.raises(ValueError, match="negative"):
        progress("mee6", -1)
    with pytest.raises(ValueError, match="negative"):
        xp_to_next("mee6", -1)
    with pytest.raises(ValueError, match="unknown curve"):
        xp_to_next("steep", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="base"):
        total_xp_for_level("flat", 3, base=0)
    with pytest.raises(ValueError, match="max_level"):
        progress("mee6", 10, max_level=-1)


# --- gain per message ---------------------------------------------------------------------


def test_roll_maps_uniformly_onto_the_gain_range():
    rules = LevelingRules()
    gain = lambda roll: gain_for_message(rules, channel_id=1, role_ids=(), roll=roll)  # noqa: E731
    assert gain(0.0) == 15
    assert gain(0.999_999_999) == 25
    assert gain(1 - 2**-53) == 25  # the largest float below 1
    assert [gain(i / 11) for i in range(11)] == list(range(15, 26))  # each value equally likely
    for bad in (1.0, -0.01, float("nan")):
        with pytest.raises(ValueError, match="roll"):
            gain(bad)


def test_channel_multiplier_times_the_highest_role_multiplier():
    rules = LevelingRules(
        min_gain=20,
        max_gain=20,
        channel_multipliers=multipliers({10: 2.0}),
        role_multipliers=multipliers({1: 1.5, 2: 3.0, 3: 0.5}),
    )

    def gain(channel_id, role_ids):
        return gain_for_message(rules, channel_id=channel_id, role_ids=role_ids, roll=0.5)

    assert gain(99, []) == 20
    assert gain(10, []) == 40
    assert gain(10, [1]) == 60  # 20 * 2 * 1.5
    assert gain(10, [1, 2]) == 120  # the highest role counts, roles don't compound
    assert gain(99, [1, 2, 777]) == 60  # a role without a multiplier doesn't count as 1.0
    assert gain(99, [3]) == 10  # a penalty role on its own applies
    assert gain(99, [3, 1]) == 30


def test_gain_rounds_half_to_even():
    rules = LevelingRules(min_gain=15, max_gain=15, channel_multipliers=multipliers({1: 1.5}))
    assert gain_for_message(rules, channel_id=1, role_ids=(), roll=0.0) == 22  # 22.5
    rules = LevelingRules(min_gain=17, max_gain=17, channel_multipliers=multipliers({1: 1.5}))
    assert gain_for_message(rules, channel_id=1, role_ids=(), roll=0.0) == 26  # 25.5


def test_excluded_channels_and_roles_earn_nothing():
    rules = LevelingRules(
        no_xp_channel_ids=frozenset({5}),
        no_xp_role_ids=frozenset({66}),
        role_multipliers=multipliers({7: 3.0}),
    )
    assert gain_for_message(rules, channel_id=5, role_ids=[7], roll=0.5) == 0
    assert gain_for_message(rules, channel_id=1, role_ids=[7, 66], roll=0.5) == 0
    assert gain_for_message(rules, channel_id=1, role_ids=[7], roll=0.5) > 0
    zero = LevelingRules(channel_multipliers=multipliers({1: 0}))
    assert gain_for_message(zero, channel_id=1, role_ids=(), roll=0.5) == 0


def test_voice_gain_uses_the_voice_range():
    rules = LevelingRules(voice=VoiceXPRules(enabled=True, min_gain=5, max_gain=10))
    compiled = compile_leveling(rules)
    assert compiled.gain(channel_id=1, role_ids=(), roll=0.0, voice=True) == 5
    assert compiled.gain(channel_id=1, role_ids=(), roll=0.99, voice=True) == 10


def test_rules_are_frozen_hashable_and_normalised():
    one = LevelingRules(channel_multipliers=((2, 1.5), (1, 2)), role_multipliers=((9, 1.25),))
    two = LevelingRules(
        channel_multipliers=multipliers({1: 2.0, 2: 1.5}), role_multipliers=multipliers({9: 1.25})
    )
    assert one == two
    assert hash(one) == hash(two)
    assert one.channel_multipliers == ((1, 2.0), (2, 1.5))
    assert multipliers({2: 1.5, 1: 2}) == ((1, 2.0), (2, 1.5))
    with pytest.raises(AttributeError):
        one.min_gain = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_gain": 30, "max_gain": 20}, "min_gain"),
        ({"min_gain": -1}, "min_gain"),
        ({"cooldown_seconds": -1}, "cooldown"),
        ({"channel_multipliers": {1: -0.5}}, "multiplier"),
        ({"role_multipliers": {1: float("nan")}}, "multiplier"),
        ({"curve": "steep"}, "curve"),
        ({"max_level": -1}, "max_level"),
        ({"voice": VoiceXPRules}, None),
    ],
)
def test_bad_rules_are_refused(kwargs, message):
    if message is None:  # VoiceXPRules validates itself
        with pytest.raises(ValueError, match="voice"):
            VoiceXPRules(min_gain=11, max_gain=10)
        return
    with pytest.raises(ValueError, match=message):
        LevelingRules(**kwargs)


def test_rules_round_trip_through_the_temporal_converter():
    rules = LevelingRules(
        channel_multipliers=multipliers({5: 2.0}),
        role_multipliers=multipliers({6: 1.5}),
        no_xp_channel_ids=frozenset({7}),
        no_xp_role_ids=frozenset({8}),
        max_level=50,
        voice=VoiceXPRules(enabled=True),
    )
    converter = DataConverter.default.payload_converter
    payloads = converter.to_payloads([rules])
    assert converter.from_payloads(payloads, [LevelingRules]) == [rules]


# --- voice eligibility ---------------------------------------------------------------------

VOICE_ON = LevelingRules(voice=VoiceXPRules(enabled=True, min_listeners=2))
TALKING = VoiceState(
    self_mute=False,
    self_deaf=False,
    server_mute=False,
    server_deaf=False,
    is_bot=False,
    channel_id=42,
    afk_channel=False,
)


def test_an_unmuted_member_with_company_is_eligible():
    assert voice_minute_eligible(TALKING, 2, VOICE_ON)
    assert voice_minute_eligible(TALKING, 10, VOICE_ON)


@pytest.mark.parametrize(
    "change",
    [
        {"self_mute": True},
        {"self_deaf": True},
        {"server_mute": True},
        {"server_deaf": True},
        {"is_bot": True},
        {"afk_channel": True},
        {"channel_id": None},
    ],
)
def test_muted_deafened_bots_afk_and_absent_members_are_not(change):
    from dataclasses import replace

    assert not voice_minute_eligible(replace(TALKING, **change), 5, VOICE_ON)


def test_no_farming_alone_and_voice_off_by_default():
    assert not voice_minute_eligible(TALKING, 1, VOICE_ON)  # one other listener is too few
    assert not voice_minute_eligible(TALKING, 0, VOICE_ON)
    assert not voice_minute_eligible(TALKING, 5, LevelingRules())  # voice XP is opt-in
    alone_ok = LevelingRules(voice=VoiceXPRules(enabled=True, min_listeners=0))
    assert voice_minute_eligible(TALKING, 0, alone_ok)
