"""Spam tracker memory stays bounded over long streams, without forgetting live offenders."""

from __future__ import annotations

import random

from domain.spam import SpamMessage, SpamRules, SpamTracker

T0 = 1_750_000_000.0
OLD = T0 - 400 * 86_400
GUILD = 1
LETTERS = str.maketrans("0123456789", "abcdefghij")


def test_a_million_messages_from_200k_members_stay_under_the_caps():
    rules = SpamRules(max_members=20_000, max_offenders=2_000, max_texts=10_000, max_channels=50)
    tracker = SpamTracker(rules)
    rng = random.Random(4)
    words = [f"{a}{b}{c}" for a in "bcdfgh" for b in "aeiou" for c in "lmnprst"]
    offenders = range(1_000_000_000, 1_000_000_020)
    peak = dict.fromkeys(("members", "offenders", "entries", "texts", "posts", "channels"), 0)
    levels: dict[int, int] = {}
    for i in range(1_000_000):
        now = T0 + i * 0.01  # 100 messages a second for ~2.8 hours
        text = " ".join(rng.choices(words, k=rng.randint(1, 9)))
        author = rng.randrange(200_000)
        message = SpamMessage(GUILD, rng.randrange(200), author, i + 1, text, 0, OLD)
        tracker.observe(message, now)
        if i % 30_000 == 0:
            # Twenty offenders flood every five minutes: within the hour of offence memory,
            # so 200,000 members churning through the tables must not reset their level.
            for offender in offenders:
                for k in range(8):
                    spam = SpamMessage(GUILD, 1, offender, i + 1, f"spam {words[k]}", 0, OLD)
                    verdict = tracker.observe(spam, now + k * 0.05)
                    if verdict is not None and verdict.strike_weight:
                        assert verdict.offence_level == levels.get(offender, 0) + 1
                        levels[offender] = verdict.offence_level
        if i % 10_000 == 0:
            counts = tracker.tracked_counts(GUILD)
            peak = {k: max(v, counts[k]) for k, v in peak.items()}
    assert peak["members"] <= rules.max_members + rules.max_offenders
    assert peak["offenders"] <= rules.max_offenders
    assert peak["entries"] <= rules.max_members * 2  # few members hold more than one entry
    assert peak["texts"] <= rules.max_texts
    assert peak["channels"] <= rules.max_channels
    assert peak["posts"] <= rules.max_texts * 2
    # every offender flooded 34 times, 5 minutes apart, and was never forgotten in between
    assert levels == dict.fromkeys(offenders, 34)


def test_offenders_outlive_a_crowd_of_newcomers_but_not_their_memory():
    rules = SpamRules(max_members=100, offence_memory_seconds=600)
    tracker = SpamTracker(rules)

    def flood(at):
        for k, word in enumerate(("alpha", "bravo", "charlie", "delta", "echo", "fox", "golf")):
            tracker.observe(SpamMessage(GUILD, 1, 7, 1, f"spam {word}", 0, OLD), T0 + at + k * 0.1)

    flood(0)
    assert tracker.offence_level(GUILD, 7, T0 + 1) == 1
    for user in range(1_000, 11_000):  # far more members than the cap, all within the window
        tracker.observe(SpamMessage(GUILD, 2, user, 2, "hello there", 0, OLD), T0 + 1 + user * 1e-4)
    assert tracker.tracked_counts(GUILD)["members"] <= 101
    assert tracker.offence_level(GUILD, 7, T0 + 300) == 1
    assert tracker.offence_level(GUILD, 7, T0 + 601) == 0


def test_idle_members_and_texts_are_dropped_once_their_windows_pass():
    tracker = SpamTracker()
    for user in range(1_000):
        text = f"unique message for member {user:04d}".translate(LETTERS)
        tracker.observe(SpamMessage(GUILD, 1, user, user, text, 0, OLD), T0 + user * 0.01)
    busy = tracker.tracked_counts(GUILD)
    assert busy["members"] == 1_000
    # two windows later a few new messages turn the generations over: the idle are gone
    for k, at in enumerate((100.0, 200.0, 300.0)):
        tracker.observe(SpamMessage(GUILD, 1, 5_000 + k, 0, "late", 0, OLD), T0 + at)
    quiet = tracker.tracked_counts(GUILD)
    assert quiet["members"] <= 2 and quiet["texts"] == 0


def test_a_member_window_survives_the_table_turning_over():
    tracker = SpamTracker(SpamRules(max_members=50))
    text = "check out my channel for giveaways"
    assert tracker.observe(SpamMessage(GUILD, 1, 9, 1, text, 0, OLD), T0) is None
    assert tracker.observe(SpamMessage(GUILD, 2, 9, 2, text, 0, OLD), T0 + 10) is None
    for user in range(20):  # fewer newcomers than half the cap: the member is kept
        tracker.observe(SpamMessage(GUILD, 3, 100 + user, 3, "hi", 0, OLD), T0 + 11)
    verdict = tracker.observe(SpamMessage(GUILD, 3, 9, 4, text, 0, OLD), T0 + 20)
    assert verdict is not None and verdict.kinds == ("duplicates",)
    assert {mid for _, mid in verdict.delete_ids} == {1, 2, 4}
