"""Telling which invite a member joined through."""

from domain.invites import used_invite


def test_the_code_that_grew_by_one_is_the_one_used():
    assert used_invite({"a": 3, "b": 7}, {"a": 3, "b": 8}) == "b"


def test_a_new_code_used_once_counts():
    assert used_invite({"a": 3}, {"a": 3, "fresh": 1}) == "fresh"


def test_nothing_grew_or_two_grew_is_unknown():
    assert used_invite({"a": 3}, {"a": 3}) is None
    assert used_invite({"a": 3, "b": 1}, {"a": 4, "b": 2}) is None
    assert used_invite({"a": 3}, {"a": 5}) is None  # two joins between looks


def test_a_vanished_code_is_not_guessed():
    assert used_invite({"a": 3, "last-use": 4}, {"a": 3}) is None
