"""Role hierarchy checks before a moderator's action."""

import pytest

from domain.hierarchy import Rank, hierarchy_problem

BOT = Rank(user_id=1, top_role_position=10)
OWNER = Rank(user_id=2, top_role_position=0, is_owner=True, display_name="Olivia")
MOD = Rank(user_id=3, top_role_position=5, display_name="Max")
MEMBER = Rank(user_id=4, top_role_position=2, display_name="Bob")


def test_a_moderator_may_act_on_a_member_below_them_and_the_bot():
    assert hierarchy_problem(MOD, MEMBER, BOT) is None


def test_a_non_member_with_no_roles_may_be_acted_on():
    assert hierarchy_problem(MOD, Rank(user_id=99), BOT) is None


def test_nobody_acts_on_the_owner_whatever_their_roles():
    admin = Rank(user_id=5, top_role_position=9)
    assert hierarchy_problem(admin, OWNER, BOT) == "You can't act on the server owner."


def test_the_owner_acts_on_anyone_below_the_bot_even_without_roles():
    assert hierarchy_problem(OWNER, MOD, BOT) is None


def test_the_owner_cannot_act_on_someone_above_the_bot():
    high = Rank(user_id=6, top_role_position=11, display_name="High")
    problem = hierarchy_problem(OWNER, high, BOT)
    assert problem is not None and problem.startswith("I can't act on High")


def test_not_on_oneself_nor_on_the_bot():
    assert hierarchy_problem(MOD, MOD, BOT) == "You can't moderate yourself."
    assert hierarchy_problem(MOD, BOT, BOT) == "I can't moderate myself."


@pytest.mark.parametrize("position", [5, 7])
def test_not_on_someone_at_or_above_the_moderator(position):
    peer = Rank(user_id=7, top_role_position=position, display_name="Peer")
    assert hierarchy_problem(MOD, peer, BOT) == (
        "You can't act on Peer: their highest role is not below yours."
    )


def test_not_on_someone_at_the_bots_level_even_for_a_higher_moderator():
    boss = Rank(user_id=8, top_role_position=12)
    level_with_bot = Rank(user_id=9, top_role_position=10)
    problem = hierarchy_problem(boss, level_with_bot, BOT)
    assert problem is not None and "not below mine" in problem
    assert "<@9>" in problem  # no display name: the mention stands in
