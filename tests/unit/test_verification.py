"""The verification gate's pure rules: raid tightening, deadlines, attempts, challenges, config."""

from datetime import UTC, datetime, timedelta

import pytest

from dcs.server_config import ConfigError, parse_server_config
from domain.verification import (
    VerificationPolicy,
    admit,
    check_answer,
    deadline_of,
    due,
    earliest_deadline,
    failed_attempt,
    make_challenge,
    rules_for,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_normal_rules_follow_the_config():
    policy = VerificationPolicy(mode="button", timeout_minutes=30, on_timeout="quarantine")
    rules = rules_for(policy, during_raid=False)
    assert (rules.mode, rules.timeout, rules.on_timeout) == (
        "button",
        timedelta(minutes=30),
        "quarantine",
    )
    assert deadline_of(T0, rules) == T0 + timedelta(minutes=30)


def test_a_raid_shortens_the_deadline_asks_a_challenge_and_kicks():
    policy = VerificationPolicy(
        mode="button", timeout_minutes=30, on_timeout="quarantine", raid_timeout_minutes=5
    )
    rules = rules_for(policy, during_raid=True)
    assert (rules.mode, rules.timeout, rules.on_timeout) == (
        "challenge",
        timedelta(minutes=5),
        "kick",
    )


def test_a_raid_never_lengthens_the_deadline_and_each_tightening_can_be_off():
    policy = VerificationPolicy(
        timeout_minutes=3,
        on_timeout="quarantine",
        raid_timeout_minutes=10,
        raid_challenge=False,
        raid_kick=False,
    )
    rules = rules_for(policy, during_raid=True)
    assert (rules.mode, rules.timeout, rules.on_timeout) == (
        "button",
        timedelta(minutes=3),
        "quarantine",
    )


def test_admit_counts_from_when_the_gate_saw_the_member():
    policy = VerificationPolicy(timeout_minutes=30, raid_timeout_minutes=10)
    entry = admit(policy, 7, T0 - timedelta(minutes=1), T0, raid=True)
    assert entry.deadline == T0 + timedelta(minutes=10)
    assert entry.during_raid and entry.mode == "challenge" and entry.attempts == 0


def test_the_last_wrong_answer_brings_the_deadline_to_now():
    entry = admit(VerificationPolicy(timeout_minutes=30), 7, T0, T0, raid=False)
    later = T0 + timedelta(minutes=2)
    once = failed_attempt(entry, 2, later)
    assert (once.attempts, once.deadline) == (1, entry.deadline)
    twice = failed_attempt(once, 2, later)
    assert (twice.attempts, twice.deadline) == (2, later)


def test_earliest_and_due_deadlines():
    policy = VerificationPolicy(timeout_minutes=30, raid_timeout_minutes=5)
    pending = {
        1: admit(policy, 1, T0, T0, raid=False),
        2: admit(policy, 2, T0, T0, raid=True),
        3: admit(policy, 3, T0, T0 + timedelta(minutes=1), raid=True),
    }
    assert earliest_deadline(pending) == T0 + timedelta(minutes=5)
    assert earliest_deadline({}) is None
    now = T0 + timedelta(minutes=6)
    assert [p.user_id for p in due(pending, now)] == [2, 3]
    assert due(pending, T0) == []


def test_a_challenge_is_a_function_of_its_seed():
    seen = {make_challenge(seed) for seed in range(200)}
    assert make_challenge(42) == make_challenge(42)
    kinds = {c.question.split()[0] for c in seen}
    assert kinds == {"What", "Type"}  # both sums and words come up
    for challenge in seen:
        assert check_answer(challenge, challenge.answer)
        assert len(challenge.question) <= 45  # a modal label's limit


def test_answers_ignore_case_and_spaces_but_nothing_else():
    word = next(c for c in map(make_challenge, range(100)) if c.question.startswith("Type"))
    assert check_answer(word, f"  {word.answer.upper()} ")
    assert not check_answer(word, word.answer + "s")
    total = next(c for c in map(make_challenge, range(100)) if c.question.startswith("What"))
    assert check_answer(total, f" {total.answer}")
    assert not check_answer(total, str(int(total.answer) + 1))
    assert not check_answer(total, "")


def test_verification_config_defaults_off_and_checks_its_roles():
    config = parse_server_config({})
    assert not config.verification.enabled
    assert config.verification.raid.timeout_minutes < config.verification.timeout_minutes
    with pytest.raises(ConfigError, match="verified_role_id"):
        parse_server_config({"verification": {"enabled": True}})
    with pytest.raises(ConfigError, match="quarantine"):
        parse_server_config(
            {"verification": {"enabled": True, "verified_role_id": 5, "on_timeout": "quarantine"}}
        )
    with pytest.raises(ConfigError, match=r"verification\.mode"):
        parse_server_config({"verification": {"mode": "captcha"}})
    ok = parse_server_config(
        {
            "verification": {
                "enabled": True,
                "verified_role_id": 5,
                "unverified_role_id": 6,
                "on_timeout": "quarantine",
            }
        }
    )
    assert ok.verification.on_timeout == "quarantine"
