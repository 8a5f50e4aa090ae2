"""Level role rewards: stacking or replacing, and never touching unrelated roles."""

from __future__ import annotations

import pytest

from domain.role_rewards import RoleChanges, RoleReward, reward_roles_for, role_changes

BRONZE, SILVER, GOLD, MOD, EVENTS = 501, 502, 503, 900, 901
REWARDS = (RoleReward(5, BRONZE), RoleReward(10, SILVER), RoleReward(20, GOLD))


@pytest.mark.parametrize(
    ("level", "stacked", "replaced"),
    [
        (0, set(), set()),
        (4, set(), set()),
        (5, {BRONZE}, {BRONZE}),
        (9, {BRONZE}, {BRONZE}),
        (10, {BRONZE, SILVER}, {SILVER}),
        (19, {BRONZE, SILVER}, {SILVER}),
        (20, {BRONZE, SILVER, GOLD}, {GOLD}),
        (500, {BRONZE, SILVER, GOLD}, {GOLD}),
    ],
)
def test_reward_roles_for_a_level(level, stacked, replaced):
    assert reward_roles_for(REWARDS, level, stack=True) == stacked
    assert reward_roles_for(REWARDS, level, stack=False) == replaced


def test_rewards_sharing_a_level_are_all_kept_when_replacing():
    rewards = (*REWARDS, RoleReward(10, EVENTS))
    assert reward_roles_for(rewards, 12, stack=False) == {SILVER, EVENTS}


def test_level_up_in_stack_mode_only_adds():
    changes = role_changes(REWARDS, 10, {BRONZE, MOD}, stack=True)
    assert changes == RoleChanges(add=frozenset({SILVER}), remove=frozenset())


def test_level_up_in_replace_mode_swaps_the_reward_and_keeps_other_roles():
    changes = role_changes(REWARDS, 10, {BRONZE, MOD, EVENTS}, stack=False)
    assert changes == RoleChanges(add=frozenset({SILVER}), remove=frozenset({BRONZE}))


def test_a_returning_member_gets_everything_back():
    assert role_changes(REWARDS, 25, set(), stack=True).add == {BRONZE, SILVER, GOLD}
    assert role_changes(REWARDS, 25, {MOD}, stack=False) == RoleChanges(
        add=frozenset({GOLD}), remove=frozenset()
    )


def test_a_reset_member_loses_reward_roles_only():
    changes = role_changes(REWARDS, 0, {BRONZE, SILVER, GOLD, MOD, EVENTS}, stack=True)
    assert changes == RoleChanges(add=frozenset(), remove=frozenset({BRONZE, SILVER, GOLD}))


def test_unrelated_roles_are_never_touched():
    unrelated = {MOD, EVENTS, 1, 2, 3}
    for level in range(0, 30):
        for stack in (True, False):
            for current in (set(), unrelated, unrelated | {BRONZE, GOLD}):
                changes = role_changes(REWARDS, level, current, stack=stack)
                assert not (changes.add | changes.remove) & unrelated


def test_in_line_members_need_no_changes():
    assert not role_changes(REWARDS, 12, {BRONZE, SILVER, MOD}, stack=True)
    assert not role_changes(REWARDS, 12, {SILVER}, stack=False)
    assert role_changes(REWARDS, 12, {SILVER}, stack=True)


def test_a_role_rewarded_at_two_levels_is_not_removed_when_replacing():
    rewards = (RoleReward(5, BRONZE), RoleReward(10, SILVER), RoleReward(20, BRONZE))
    changes = role_changes(rewards, 20, {BRONZE, SILVER}, stack=False)
    assert changes == RoleChanges(add=frozenset(), remove=frozenset({SILVER}))


def test_rewards_accept_any_iterable_and_refuse_negative_levels():
    assert role_changes(iter(REWARDS), 10, [BRONZE], stack=True).add == {SILVER}
    with pytest.raises(ValueError):
        RoleReward(-1, BRONZE)
