"""The events repository on both backends: rows, RSVP batches, pages, time zones."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from domain.events import CANCELLED, GOING, MAYBE, WAITLIST, EventSpec, ReminderSpec, RsvpCounts
from storage.events import (
    EventState,
    RsvpRow,
    apply_rsvp_changes,
    find_event_by_discord_id,
    find_event_by_message,
    get_event,
    get_member_timezone,
    insert_event,
    list_events,
    list_rsvps,
    mark_attended,
    save_event_state,
    set_member_timezone,
    spec_from_json,
    spec_to_json,
)

GUILD = 900_000_000_000_000_001
START = datetime(2027, 3, 26, 19, 0, tzinfo=UTC)


def _spec(title: str = "Game night", start: datetime = START) -> EventSpec:
    return EventSpec(
        title=title,
        start=start,
        timezone="Europe/Berlin",
        end=start + timedelta(hours=2),
        description="bring snacks",
        location="voice #1",
        capacity=3,
        channel_id=1234,
        ping_role_id=5678,
        reminders=(ReminderSpec(1440, "tomorrow!"), ReminderSpec(0)),
        signup_deadline=start - timedelta(hours=1),
        allowed_role_ids=(11, 22),
        recurrence="FREQ=WEEKLY;BYDAY=FR",
        xp_reward=75,
        discord_sync=True,
    )


def test_spec_round_trips_through_json():
    """Every field comes back equal, and the JSON is plain (strings for datetimes)."""
    spec = _spec()
    data = spec_to_json(spec)
    assert data["start"] == "2027-03-26T19:00:00+00:00"
    assert data["reminders"] == [
        {"minutes_before": 1440, "message": "tomorrow!"},
        {"minutes_before": 0, "message": ""},
    ]
    assert spec_from_json(data) == spec
    bare = EventSpec(title="x", start=START, timezone="UTC")
    assert spec_from_json(spec_to_json(bare)) == bare


async def test_event_row_and_state(session_factory):
    """Insert, save the workflow's state, and find it by message and Discord id."""
    async with session_factory() as session, session.begin():
        event_id = await insert_event(session, GUILD, _spec(), created_by=42)
    async with session_factory() as session:
        row = await get_event(session, GUILD, event_id)
        assert row is not None and row.status == "scheduled" and row.start_at == START
        assert spec_from_json(row.spec) == _spec() and row.created_by == 42
        assert await get_event(session, GUILD + 1, event_id) is None
    moved = _spec(title="Moved", start=START + timedelta(days=1))
    state = EventState(moved, CANCELLED, 2, RsvpCounts(3, 1, 0, 2), 777, 888, "rain")
    async with session_factory() as session, session.begin():
        await save_event_state(session, event_id, state)
    async with session_factory() as session:
        row = await get_event(session, GUILD, event_id)
        assert row is not None and row.title == "Moved" and row.status == CANCELLED
        assert (row.going_count, row.waitlist_count, row.occurrence) == (3, 2, 2)
        assert row.cancel_reason == "rain" and row.start_at == START + timedelta(days=1)
        assert await find_event_by_message(session, 777) == (GUILD, event_id)
        assert await find_event_by_message(session, 778) is None
        assert await find_event_by_discord_id(session, GUILD, 888) == event_id
        assert await find_event_by_discord_id(session, GUILD + 1, 888) is None


async def test_list_events_pages_in_start_order(session_factory):
    """Pages follow start time then id; filters bound status and start."""
    async with session_factory() as session, session.begin():
        ids = [
            await insert_event(session, GUILD, _spec(f"e{i}", START + timedelta(days=i % 3)), None)
            for i in range(7)
        ]
    seen, cursor = [], None
    async with session_factory() as session:
        while True:
            page = await list_events(session, GUILD, cursor=cursor, limit=3)
            seen += [e.id for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        later = await list_events(session, GUILD, since=START + timedelta(days=1))
        window = await list_events(session, GUILD, until=START + timedelta(days=1))
        none = await list_events(session, GUILD, status=CANCELLED)
        with pytest.raises(ValueError, match="cursor"):
            await list_events(session, GUILD, cursor="bogus")
    by_day = sorted(ids, key=lambda i: ((ids.index(i)) % 3, i))
    assert seen == by_day
    assert len(later.items) == 4 and len(window.items) == 3 and none.items == []


async def test_rsvp_changes_upsert_delete_and_attend(session_factory):
    """Upserts replace by key, removals delete, pages follow seq, attendance is marked."""
    async with session_factory() as session, session.begin():
        event_id = await insert_event(session, GUILD, _spec(), None)
        rows = [RsvpRow(u, GOING if u < 4 else WAITLIST, GOING, u, "reaction") for u in range(1, 7)]
        await apply_rsvp_changes(session, GUILD, event_id, 0, rows, [])
    async with session_factory() as session, session.begin():
        await apply_rsvp_changes(
            session, GUILD, event_id, 0, [RsvpRow(2, MAYBE, MAYBE, 7, "button")], [5]
        )
        assert await mark_attended(session, event_id, 0, [1, 3, 99]) == 2
    async with session_factory() as session:
        first = await list_rsvps(session, GUILD, event_id, 0, limit=2)
        rest = await list_rsvps(session, GUILD, event_id, 0, cursor=first.next_cursor)
        waiting = await list_rsvps(session, GUILD, event_id, 0, status=WAITLIST)
        other = await list_rsvps(session, GUILD, event_id, 1)
    order = [(r.user_id, r.status) for r in first.items + rest.items]
    assert order == [(1, GOING), (3, GOING), (4, WAITLIST), (6, WAITLIST), (2, MAYBE)]
    assert rest.next_cursor is None and other.items == []
    assert [r.user_id for r in waiting.items] == [4, 6]
    assert [r.attended for r in first.items] == [True, True]
    assert rest.items[-1].source == "button" and rest.items[-1].choice == MAYBE


async def test_five_thousand_rsvps_in_one_call(session_factory):
    """A burst of 5,000 RSVPs is written (and then withdrawn) in well under a few seconds."""
    async with session_factory() as session, session.begin():
        event_id = await insert_event(session, GUILD, _spec(), None)
    rows = [RsvpRow(10_000 + i, GOING, GOING, i + 1, "reaction") for i in range(5000)]
    began = time.perf_counter()
    async with session_factory() as session, session.begin():
        await apply_rsvp_changes(session, GUILD, event_id, 0, rows, [])
    async with session_factory() as session, session.begin():
        flipped = [RsvpRow(r.user_id, MAYBE, MAYBE, r.seq + 5000, "reaction") for r in rows[:2500]]
        await apply_rsvp_changes(
            session, GUILD, event_id, 0, flipped, [r.user_id for r in rows[2500:]]
        )
    elapsed = time.perf_counter() - began
    async with session_factory() as session:
        page = await list_rsvps(session, GUILD, event_id, 0, limit=5000)
    assert len(page.items) == 2500 and {r.status for r in page.items} == {MAYBE}
    assert elapsed < 5, f"5,000 RSVPs took {elapsed:.2f}s"


async def test_member_timezone_set_replace_clear(session_factory):
    """A member's zone is set, replaced, and cleared with None."""
    async with session_factory() as session, session.begin():
        assert await get_member_timezone(session, 5) is None
        await set_member_timezone(session, 5, "Europe/Berlin")
        await set_member_timezone(session, 5, "America/New_York")
    async with session_factory() as session, session.begin():
        assert await get_member_timezone(session, 5) == "America/New_York"
        await set_member_timezone(session, 5, None)
    async with session_factory() as session:
        assert await get_member_timezone(session, 5) is None
