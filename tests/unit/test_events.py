"""Events, pure: the RSVP book (capacity, waitlist, reconcile), reminders across DST, refusals."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dcs.recurrence import next_occurrence, rule_problem
from domain.events import (
    DECLINED,
    GOING,
    MAYBE,
    WAITLIST,
    EventSpec,
    ReminderSpec,
    RsvpBook,
    RsvpCounts,
    pending_reminders,
    problems,
    refusal,
    reminder_at,
    reminder_schedule,
)

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)


def spec(**kw) -> EventSpec:
    base = EventSpec(title="Game night", start=NOW + timedelta(days=2), timezone="Europe/Berlin")
    return replace(base, **kw)


def test_capacity_seats_the_first_and_queues_the_rest():
    book = RsvpBook(capacity=2)
    assert book.choose(1, GOING).status == GOING
    assert book.choose(2, GOING).status == GOING
    third = book.choose(3, GOING)
    assert (third.status, third.position) == (WAITLIST, 1)
    assert book.choose(4, GOING).position == 2
    assert book.counts() == RsvpCounts(going=2, waitlist=2)


def test_a_seat_freed_promotes_the_first_in_line():
    book = RsvpBook(capacity=2)
    for user in (1, 2, 3, 4):
        book.choose(user, GOING)
    left = book.choose(1, DECLINED)
    assert left.promoted == (3,)
    assert book.members(GOING) == (2, 3) and book.members(WAITLIST) == (4,)
    assert book.withdraw(2, GOING).promoted == (4,)
    assert book.counts() == RsvpCounts(going=2, declined=1)


def test_a_waitlisted_member_leaving_promotes_nobody():
    book = RsvpBook(capacity=1)
    book.choose(1, GOING)
    book.choose(2, GOING)
    assert book.choose(2, None).promoted == ()
    assert book.members(GOING) == (1,)


def test_the_same_choice_twice_changes_nothing_and_keeps_the_place():
    book = RsvpBook(capacity=1)
    book.choose(1, GOING)
    book.choose(2, GOING)
    again = book.choose(2, GOING, source="button")
    assert not again.changed and again.position == 1
    assert book.entries[2].source == "button"


def test_one_state_per_member_the_last_choice_wins():
    book = RsvpBook()
    book.choose(1, GOING)
    book.choose(1, MAYBE)
    assert book.statuses() == {1: MAYBE}
    assert not book.withdraw(1, GOING).changed  # taking off the old reaction leaves maybe
    assert book.status_of(1) == MAYBE


def test_raising_capacity_promotes_and_lowering_it_queues():
    book = RsvpBook(capacity=1)
    for user in (1, 2, 3):
        book.choose(user, GOING)
    assert book.set_capacity(3) == (2, 3)
    assert book.set_capacity(1) == ()
    assert book.members(WAITLIST) == (2, 3)


def test_reconcile_follows_the_reactions_on_the_post():
    book = RsvpBook()
    book.choose(1, GOING)  # its removal was missed
    book.choose(2, MAYBE, source="button")  # buttons stand
    book.choose(3, GOING)
    book.reconcile({GOING: [3, 4], MAYBE: [5], DECLINED: [4]})
    assert book.statuses() == {2: MAYBE, 3: GOING, 4: GOING, 5: MAYBE}


def test_reconcile_keeps_a_current_choice_among_several_reactions():
    book = RsvpBook()
    book.choose(1, DECLINED)
    book.reconcile({GOING: [1], DECLINED: [1]})
    assert book.status_of(1) == DECLINED


def test_reconcile_after_shuffled_events_matches_the_truth():
    rng = random.Random(7)
    truth: dict[int, str | None] = {}
    events = []
    for user in range(300):
        for choice in rng.sample([GOING, MAYBE, DECLINED], k=rng.randint(1, 3)):
            events.append((user, choice, True))
            truth[user] = choice
        if rng.random() < 0.3:
            events.append((user, choice, False))  # the last choice, taken back
            truth[user] = None
    rng.shuffle(events)  # gateway events out of order
    book = RsvpBook()
    for user, choice, added in events:
        if added:
            book.choose(user, choice)
        else:
            book.withdraw(user, choice)
    reactions = {c: [u for u, t in truth.items() if t == c] for c in (GOING, MAYBE, DECLINED)}
    book.reconcile(reactions)
    assert book.statuses() == {u: c for u, c in truth.items() if c is not None}


def test_snapshot_and_restore_keep_order_and_sequence():
    book = RsvpBook(capacity=1)
    for user in (5, 6, 7):
        book.choose(user, GOING)
    again = RsvpBook.restore(1, book.snapshot())
    assert again.members(WAITLIST) == (6, 7)
    again.choose(8, GOING)
    assert again.members(WAITLIST) == (6, 7, 8)


def test_a_day_before_is_the_same_local_time_across_dst():
    # Berlin moves to summer time on 2027-03-28 at 02:00
    start = datetime(2027, 3, 28, 18, 0, tzinfo=UTC)  # 20:00 CEST
    event = spec(start=start)
    assert reminder_at(event, 24 * 60) == datetime(2027, 3, 27, 19, 0, tzinfo=UTC)  # 20:00 CET
    assert reminder_at(event, 60) == datetime(2027, 3, 28, 17, 0, tzinfo=UTC)
    assert reminder_at(event, 25 * 60) == datetime(2027, 3, 27, 18, 0, tzinfo=UTC)


def test_new_york_fall_back():
    start = datetime(2027, 11, 8, 0, 0, tzinfo=UTC)  # 19:00 EST on the 7th, the day DST ends
    event = spec(start=start, timezone="America/New_York")
    assert reminder_at(event, 24 * 60) == datetime(2027, 11, 6, 23, 0, tzinfo=UTC)  # 19:00 EDT


def test_schedule_sorted_and_deduplicated():
    event = spec(reminders=(ReminderSpec(0), ReminderSpec(60, "bring snacks"), ReminderSpec(60)))
    schedule = reminder_schedule(event)
    assert [r.key for r in schedule] == ["r60", "r0"]
    assert schedule[0].message == "bring snacks"


def test_pending_reminders_drop_the_stale_and_skip_the_sent():
    event = spec()
    at_24h = reminder_at(event, 24 * 60)
    due, ahead = pending_reminders(event, (), at_24h + timedelta(minutes=5))
    assert [r.key for r in due] == ["r1440"] and [r.key for r in ahead] == ["r60", "r0"]
    due, _ = pending_reminders(event, (), at_24h + timedelta(hours=2))
    assert due == ()  # two hours late: stale, not sent
    due, _ = pending_reminders(event, ("r1440",), at_24h + timedelta(minutes=5))
    assert due == ()


def test_problems_name_every_field():
    bad = EventSpec(
        title="",
        start=NOW - timedelta(hours=1),
        timezone="Mars/Olympus",
        capacity=0,
    )
    found = problems(bad, NOW)
    assert any(p.startswith("title") for p in found)
    assert any("Mars/Olympus" in p for p in found)
    naive = spec(start=datetime(2027, 3, 22, 20, 0))
    assert problems(naive, NOW) == ["start: needs a time zone (never guessed as UTC)"]
    past = spec(start=NOW - timedelta(hours=1), capacity=0)
    assert problems(past, NOW) == [
        "start: must be in the future",
        "capacity: must be at least 1 (or unset for no limit)",
    ]


@pytest.mark.parametrize(
    ("kw", "choice", "roles", "expected"),
    [
        ({}, GOING, (), ""),
        ({"allowed_role_ids": (9,)}, GOING, (1,), "this event is open to certain roles only"),
        ({"allowed_role_ids": (9,)}, GOING, (9,), ""),
        ({"allowed_role_ids": (9,)}, DECLINED, (), ""),
        ({"signup_deadline": NOW}, MAYBE, (), "sign-up for this event has closed"),
        ({"signup_deadline": NOW}, None, (), ""),
    ],
)
def test_refusal(kw, choice, roles, expected):
    assert refusal(spec(**kw), choice, roles, NOW) == expected


def test_recurrence_rules():
    start = datetime(2027, 3, 26, 19, 0, tzinfo=UTC)  # Friday 20:00 CET
    weekly = spec(start=start, end=start + timedelta(hours=2), recurrence="FREQ=WEEKLY;BYDAY=FR")
    following = next_occurrence(weekly)
    assert following is not None
    assert following.start == datetime(2027, 4, 2, 18, 0, tzinfo=UTC)  # still 20:00, now CEST
    assert following.end == following.start + timedelta(hours=2)
    assert next_occurrence(spec(recurrence="FREQ=DAILY;COUNT=1")) is None
    twice = spec(start=start, recurrence="FREQ=WEEKLY;COUNT=2")
    second = next_occurrence(twice)
    assert second is not None and next_occurrence(second, first_start=start) is None
    assert rule_problem("FREQ=WEEKLY;BYDAY=FR", start, "Europe/Berlin") == ""
    assert "at most once a day" in rule_problem("FREQ=HOURLY", start, "Europe/Berlin")
    assert "not a valid RRULE" in rule_problem("WEEKLY", start, "Europe/Berlin")
