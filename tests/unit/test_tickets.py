"""Tickets, pure: the clock (reminder, warning, auto-close), who may do what, the transcript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from domain.catalogue import LANGUAGES, text
from domain.catalogue.tickets import TEXTS
from domain.tickets import (
    ASSIGN,
    AUTO_CLOSE,
    CLAIM,
    CLOSE,
    CLOSED,
    OPEN,
    RATE,
    REMIND,
    REOPEN,
    WARN,
    Clock,
    TicketAction,
    TicketCategory,
    TicketPolicy,
    TicketSpec,
    TranscriptAttachment,
    TranscriptHeader,
    TranscriptMessage,
    due,
    on_message,
    open_problems,
    over_limit,
    refusal,
    render_transcript,
    subject_from,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = TicketPolicy(staff_reminder_minutes=30, auto_close_hours=24, warning_hours=6)


def test_a_new_ticket_reminds_staff_after_the_wait_then_warns_then_closes():
    clock = Clock(T0, T0)
    plan = due(POLICY, clock, T0 + timedelta(minutes=29))
    assert plan.steps == () and plan.next_at == T0 + timedelta(minutes=30)
    assert due(POLICY, clock, T0 + timedelta(minutes=30)).steps == (REMIND,)
    reminded = Clock(T0, T0, reminded=True)
    plan = due(POLICY, reminded, T0 + timedelta(hours=1))
    assert plan.steps == () and plan.next_at == T0 + timedelta(hours=18)
    assert due(POLICY, reminded, T0 + timedelta(hours=18)).steps == (WARN,)
    warned = Clock(T0, T0, reminded=True, warned=True)
    assert due(POLICY, warned, T0 + timedelta(hours=18)).next_at == T0 + timedelta(hours=24)
    assert due(POLICY, warned, T0 + timedelta(hours=24)).steps == (AUTO_CLOSE,)


@pytest.mark.parametrize("hours", [None, 0])
def test_disabled_auto_close_never_comes_due(hours):
    policy = TicketPolicy(staff_reminder_minutes=None, auto_close_hours=hours, warning_hours=6)
    plan = due(policy, Clock(T0, T0), T0 + timedelta(days=365))
    assert plan.steps == () and plan.next_at is None


def test_a_warning_longer_than_the_close_is_clamped_and_zero_means_none():
    assert TicketPolicy(auto_close_hours=2, warning_hours=12).warning == timedelta(hours=2)
    assert TicketPolicy(auto_close_hours=2, warning_hours=0).warning is None


def test_messages_reset_the_clock_and_who_waits():
    clock = Clock(T0, T0, reminded=True, warned=True)
    answered = on_message(clock, from_member=False, at=T0 + timedelta(hours=1))
    assert answered == Clock(T0 + timedelta(hours=1), None, False, False)
    asked = on_message(answered, from_member=True, at=T0 + timedelta(hours=2))
    assert asked.waiting_since == T0 + timedelta(hours=2) and not asked.reminded
    again = on_message(replace_reminded(asked), from_member=True, at=T0 + timedelta(hours=3))
    assert again.waiting_since == T0 + timedelta(hours=2)  # still the first unanswered one
    assert again.reminded and not again.warned and again.last_activity == T0 + timedelta(hours=3)


def replace_reminded(clock: Clock) -> Clock:
    return Clock(clock.last_activity, clock.waiting_since, True, True)


MEMBER, STAFF, OTHER = 1, 2, 3


@pytest.mark.parametrize(
    ("action", "status", "why"),
    [
        (TicketAction(CLAIM, STAFF, True), OPEN, ""),
        (TicketAction(CLAIM, OTHER), OPEN, "ticket.refused.not_staff"),
        (TicketAction(CLAIM, STAFF, True), CLOSED, "ticket.refused.closed"),
        (TicketAction(ASSIGN, STAFF, True), OPEN, "ticket.refused.no_target"),
        (TicketAction(ASSIGN, STAFF, True, target_id=OTHER), OPEN, ""),
        (TicketAction(CLOSE, MEMBER), OPEN, ""),
        (TicketAction(CLOSE, OTHER), OPEN, "ticket.refused.not_staff"),
        (TicketAction(CLOSE, STAFF, True), CLOSED, "ticket.refused.closed"),
        (TicketAction(CLOSE, STAFF, True, reason="x" * 1001), OPEN, "ticket.refused.reason_long"),
        (TicketAction(REOPEN, STAFF, True), CLOSED, ""),
        (TicketAction(REOPEN, STAFF, True), OPEN, "ticket.refused.open"),
        (TicketAction(REOPEN, MEMBER), CLOSED, "ticket.refused.not_staff"),
        (TicketAction(RATE, MEMBER, rating=5), CLOSED, ""),
        (TicketAction(RATE, MEMBER, rating=5), OPEN, "ticket.refused.not_closed"),
        (TicketAction(RATE, STAFF, True, rating=5), CLOSED, "ticket.refused.not_member"),
        (TicketAction(RATE, MEMBER, rating=6), CLOSED, "ticket.refused.rating"),
        (TicketAction("delete", STAFF, True), OPEN, "ticket.refused.unknown"),
    ],
)
def test_who_may_do_what(action, status, why):
    assert refusal(action, status, MEMBER) == why


def test_opening_checks_subject_category_and_where():
    policy = TicketPolicy(categories=(TicketCategory("billing", role_ids=(9,)),))
    good = TicketSpec(1, MEMBER, "Help", "billing", origin_channel_id=5)
    assert open_problems(good, policy) == []
    bad = TicketSpec(1, MEMBER, " ", "nope", source="fax")
    found = open_problems(bad, policy)
    assert any("subject" in f for f in found) and any("unknown 'nope'" in f for f in found)
    assert any("source" in f for f in found) and any("parent_channel_id" in f for f in found)
    assert over_limit(1, TicketPolicy(max_open_per_member=1))
    assert not over_limit(1, TicketPolicy(max_open_per_member=2))


def test_staff_roles_are_the_categorys_then_the_general_ones_without_repeats():
    policy = TicketPolicy(
        support_role_ids=(7, 8), categories=(TicketCategory("billing", role_ids=(9, 7)),)
    )
    assert policy.staff_roles("billing") == (9, 7, 8)
    assert policy.staff_roles(None) == (7, 8)


def test_subject_from_a_question():
    assert subject_from("  How do I\n reset   my password? ") == "How do I reset my password?"
    assert subject_from("") == "Support request" and subject_from(None) == "Support request"
    assert len(subject_from("x" * 300)) == 100


def test_transcript_lists_messages_in_order_with_files_and_the_reason():
    header = TranscriptHeader(
        guild_id=1,
        number=7,
        subject="Login",
        user_id=MEMBER,
        claimed_by=STAFF,
        closed_by=STAFF,
        close_reason="Fixed",
        opened_at=T0,
        closed_at=T0 + timedelta(hours=1),
    )
    messages = [
        TranscriptMessage(20, STAFF, "Max", T0 + timedelta(minutes=5), "Try again"),
        TranscriptMessage(
            10,
            MEMBER,
            "Alice",
            T0,
            "It fails\nevery time",
            attachments=(TranscriptAttachment("shot.png", "http://x/shot.png", 42),),
        ),
        TranscriptMessage(5, 99, "Bot", T0, "", bot=True, embeds=("Ticket #7: Login",)),
    ]
    md = render_transcript(header, messages)
    assert md.startswith("# Ticket #7: Login")
    assert "- Member: Alice (1)" in md and "- Claimed by: Max (2)" in md
    assert "- Reason: Fixed" in md and "- Messages: 3" in md
    assert md.index("[embed] Ticket #7") < md.index("> It fails") < md.index("> Try again")
    assert "> every time" in md and "**Bot [bot]**" in md
    assert "[shot.png](http://x/shot.png) (42 bytes)" in md


def test_every_ticket_text_exists_in_every_language_with_the_same_fields():
    for key, by_language in TEXTS.items():
        assert set(by_language) == set(LANGUAGES), key
        fields = {frozenset(re.findall(r"{(\w+)}", t)) for t in by_language.values()}
        assert len(fields) == 1, key
    assert "Ticket Nr. 3" in text("ticket.welcome.title", "de", number=3, subject="x")
