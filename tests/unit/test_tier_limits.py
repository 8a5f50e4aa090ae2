"""The tier table and the pure limit checks (domain.tiers)."""

import pytest

from domain import tiers
from domain.ai_prompt import TIER_MONTHLY_AI_CALLS, monthly_ai_call_limit


def test_the_table_is_the_specs():
    spec = {  # the spec's TierManager.getTierLimits, -1 written as None
        "starter": (1, 5000, 10000),
        "growth": (3, 25000, 50000),
        "scale": (10, None, 200000),
        "enterprise": (None, None, None),
    }
    for name, (servers, members, ai_calls) in spec.items():
        limits = tiers.limits_for(name)
        assert (limits.tier, limits.servers, limits.members, limits.ai_calls) == (
            name,
            servers,
            members,
            ai_calls,
        )
    assert list(tiers.TIER_LIMITS) == list(tiers.TIERS) == list(spec)


def test_an_unknown_tier_gets_starters_limits():
    assert tiers.limits_for("platinum") == tiers.TIER_LIMITS["starter"]
    assert not tiers.is_tier("platinum") and tiers.is_tier("scale")


def test_the_ai_budget_has_one_source():
    assert dict(TIER_MONTHLY_AI_CALLS) == {t: lim.ai_calls for t, lim in tiers.TIER_LIMITS.items()}
    assert monthly_ai_call_limit("growth") == 50_000


@pytest.mark.parametrize(
    ("tier", "count", "allowed"),
    [
        ("starter", 5_000, True),
        ("starter", 5_001, False),
        ("growth", 25_000, True),
        ("growth", 25_001, False),
        ("scale", 10_000_000, True),
        ("enterprise", 10_000_000, True),
    ],
)
def test_members(tier, count, allowed):
    check = tiers.check_members(tier, count)
    assert check.allowed is allowed and check.kind == "members" and check.used == count
    assert ("over" in check.message) is not allowed


def test_members_check_says_what_is_left():
    assert tiers.check_members("starter", 4_000).left == 1_000
    assert tiers.check_members("starter", 6_000).left == 0
    assert tiers.check_members("scale", 6_000).left is None


def test_ai_calls_allow_up_to_the_budget_and_not_one_more():
    assert tiers.check_ai_call("starter", 9_999).allowed
    spent = tiers.check_ai_call("starter", 10_000)
    assert not spent.allowed and spent.left == 0
    assert "local rules" in spent.message
    assert tiers.check_ai_call("enterprise", 10**9).allowed


def test_server_positions_and_the_ones_over():
    assert tiers.check_server_position("starter", 1).allowed
    assert not tiers.check_server_position("starter", 2).allowed
    assert tiers.check_server_position("growth", 3).allowed
    assert tiers.check_server_position("enterprise", 500).allowed
    assert tiers.servers_over_limit("starter", [1, 2, 3]) == [2, 3]
    assert tiers.servers_over_limit("growth", [1, 2, 3]) == []
    assert tiers.servers_over_limit("enterprise", list(range(50))) == []
    with pytest.raises(ValueError, match="1-based"):
        tiers.check_server_position("starter", 0)


def test_the_account_takes_its_best_tier():
    assert tiers.account_tier(["starter", "scale", "growth"]) == "scale"
    assert tiers.account_tier(["mystery"]) == "starter"
    assert tiers.account_tier([]) == "starter"


def test_over_limit_flags():
    assert tiers.over_limits(members=False, servers=False) == ""
    assert tiers.over_limits(members=True, servers=False) == "members"
    assert tiers.over_limits(members=True, servers=True) == "members,servers"


def test_ai_notices_cross_once_each():
    # starter: 80 % is the 8,000th call, 100 % the 10,000th
    assert tiers.ai_notice_percents_crossed(10_000, 7_998, 7_999) == []
    assert tiers.ai_notice_percents_crossed(10_000, 7_999, 8_000) == [80]
    assert tiers.ai_notice_percents_crossed(10_000, 8_000, 8_001) == []
    assert tiers.ai_notice_percents_crossed(10_000, 9_999, 10_000) == [100]
    assert tiers.ai_notice_percents_crossed(10_000, 0, 10_000) == [80, 100]
    assert tiers.ai_notice_percents_crossed(None, 0, 10**9) == []
    assert tiers.ai_notice_percents_crossed(3, 2, 3) == [80, 100]  # ceil(2.4) = 3


def test_notice_texts_name_the_tier_and_the_consequence():
    assert "8,000 of its 10,000" in tiers.ai_notice_text("starter", 80, 8_000)
    assert "local rules" in tiers.ai_notice_text("starter", 100, 10_000)
    check = tiers.check_members("starter", 6_000)
    text = tiers.over_limit_text("starter", ["members"], [check])
    assert "6,000 members" in text and "Moderation keeps working" in text
    assert "back within" in tiers.back_within_text("growth")
