"""The escalation ladder: which sanction active points call for."""

from typing import Any

from domain.ladder import (
    DEFAULT_LADDER,
    LadderRung,
    Sanction,
    choose_sanction,
    harsher,
    ladder_sanction,
    review_sanction,
    rung_for,
)

LADDER = (
    LadderRung(1, "warn"),
    LadderRung(2, "timeout", 10),
    LadderRung(3, "kick"),
    LadderRung(4, "ban"),
)


def test_rung_for_picks_the_highest_rung_reached():
    assert rung_for(LADDER, 0) is None
    assert rung_for(LADDER, 1) == LadderRung(1, "warn")
    assert rung_for(LADDER, 2) == LadderRung(2, "timeout", 10)
    assert rung_for(LADDER, 99) == LadderRung(4, "ban")


def test_a_repeat_offender_climbs_warn_timeout_kick_ban():
    climbed = [ladder_sanction(LADDER, before, 1) for before in range(4)]
    assert [s.action for s in climbed if s] == ["warn", "timeout", "kick", "ban"]
    assert climbed[1] == Sanction("timeout", 10, origin="ladder", points=2)


def test_a_heavy_strike_skips_rungs_and_a_worthless_one_calls_for_nothing():
    assert ladder_sanction(LADDER, 0, 3) == Sanction("kick", None, origin="ladder", points=3)
    assert ladder_sanction(LADDER, 3, 0) is None


def test_below_the_first_rung_nothing_happens():
    ladder = (LadderRung(5, "timeout", 60),)
    assert ladder_sanction(ladder, 2, 1) is None
    assert ladder_sanction(ladder, 4, 1) == Sanction("timeout", 60, origin="ladder", points=5)


def test_the_default_ladder_matches_the_server_config_default():
    from dcs.server_config import EscalationConfig

    steps = EscalationConfig().steps
    assert tuple(LadderRung(s.points, s.action, s.duration_minutes) for s in steps) == (
        DEFAULT_LADDER
    )


def test_an_explicit_moderator_action_bypasses_the_ladder():
    s = choose_sanction(
        action="ban",
        explicit=True,
        already_applied=False,
        duration_minutes=60,
        points_before=0,
        new_points=1,
        ladder=LADDER,
    )
    assert s == Sanction("ban", 60, origin="explicit")


def test_a_manual_discord_action_is_the_running_sanction_not_a_climb():
    s = choose_sanction(
        action="timeout",
        explicit=False,
        already_applied=True,
        duration_minutes=30,
        points_before=3,
        new_points=1,
        ladder=LADDER,
    )
    assert s == Sanction("timeout", 30, origin="manual")
    kick = choose_sanction(
        action="delete",
        explicit=True,
        already_applied=False,
        duration_minutes=None,
        points_before=0,
        new_points=1,
        ladder=LADDER,
    )
    assert kick is None  # 'delete' is not a sanction


def test_review_verdicts_raise_the_ladder_or_call_for_nothing():
    common: dict[str, Any] = dict(
        action="delete", explicit=False, already_applied=False, duration_minutes=None
    )
    none = choose_sanction(
        **common, points_before=3, new_points=1, ladder=LADDER, review_action="none"
    )
    assert none is None
    mute = choose_sanction(
        **common, points_before=0, new_points=1, ladder=LADDER, review_action="mute"
    )
    assert mute == Sanction("timeout", 10, origin="review")
    # the ladder is harsher than a 'warn' verdict: the ladder wins
    warn = choose_sanction(
        **common, points_before=2, new_points=1, ladder=LADDER, review_action="warn"
    )
    assert warn == Sanction("kick", None, origin="ladder", points=3)


def test_review_sanction_and_harsher():
    assert review_sanction("mute", (LadderRung(1, "warn"),)) == Sanction("timeout", 60, "review")
    assert review_sanction("none", LADDER) is None
    assert harsher(None, None) is None
    assert harsher(Sanction("warn"), Sanction("ban")) == Sanction("ban")
    assert harsher(Sanction("ban"), Sanction("kick")) == Sanction("ban")
