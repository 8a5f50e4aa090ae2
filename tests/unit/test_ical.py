"""iCalendar output: valid RFC 5545 that calendar apps (and icalendar) read back as we meant it."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrulestr
from icalendar import Calendar

from dcs.ical import calendar_ics, event_ics
from domain.events import CANCELLED, SCHEDULED, EventSpec

START = datetime(2027, 3, 19, 19, 0, tzinfo=UTC)  # 20:00 in Berlin, a week before DST starts


def _spec(**changes) -> EventSpec:
    base = EventSpec(
        title="Game night",
        start=START,
        timezone="Europe/Berlin",
        end=START + timedelta(hours=2),
        description="bring snacks; and, commas",
        location="Voice #1",
        recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=3",
    )
    return replace(base, **changes)


def _only_event(data: bytes):
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_one_event_has_every_field():
    """UID, times with TZID and a VTIMEZONE, RRULE, status and text fields are all there."""
    calendar, event = _only_event(event_ics(7, 42, _spec(), SCHEDULED, sequence=3))
    assert str(calendar["PRODID"]).startswith("-//Discord Community Suite")
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["X-WR-CALNAME"]) == "Game night"
    assert str(event["UID"]) == "event-42@7.dcs"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == START + timedelta(
        hours=2
    )
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=1)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=3;BYDAY=FR"
    assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 3
    assert str(event["SUMMARY"]) == "Game night"
    assert str(event["DESCRIPTION"]) == "bring snacks; and, commas"
    assert str(event["LOCATION"]) == "Voice #1"
    assert event.decoded("DTSTAMP").tzinfo is not None


def test_cancelled_and_no_end_or_rule():
    """A cancelled event says so; with no end it lasts an hour; no rule, no RRULE."""
    spec = _spec(end=None, recurrence=None, description="", location="")
    _, event = _only_event(event_ics(7, 1, spec, CANCELLED))
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert "RRULE" not in event and "LOCATION" not in event and "DESCRIPTION" not in event


def test_round_trip_is_stable():
    """parse -> to_ical -> parse gives the same calendar."""
    data = calendar_ics("Cozy", [(7, 1, _spec(), SCHEDULED), (7, 2, _spec(title="B"), CANCELLED)])
    first = Calendar.from_ical(data)
    again = Calendar.from_ical(first.to_ical())
    assert first == again
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == ["event-1@7.dcs", "event-2@7.dcs"]
    assert str(again["X-WR-CALNAME"]) == "Cozy events"


def test_feed_lists_each_zone_once():
    """Two events in one zone and one in another give two VTIMEZONEs."""
    tokyo = _spec(timezone="Asia/Tokyo", recurrence=None)
    data = calendar_ics(
        "S", [(7, 1, _spec(), SCHEDULED), (7, 2, _spec(), SCHEDULED), (7, 3, tokyo, SCHEDULED)]
    )
    calendar = Calendar.from_ical(data)
    assert sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")) == [
        "Asia/Tokyo",
        "Europe/Berlin",
    ]


def test_weekly_rule_keeps_wall_time_across_dst():
    """The weekly RRULE read back expands to 20:00 Berlin each week: 19:00 UTC, then 18:00 UTC."""
    _, event = _only_event(event_ics(7, 42, _spec(), SCHEDULED))
    start = event.decoded("DTSTART")
    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start)
    instants = [when.astimezone(UTC) for when in rule]
    assert instants == [
        datetime(2027, 3, 19, 19, 0, tzinfo=UTC),
        datetime(2027, 3, 26, 19, 0, tzinfo=UTC),  # DST starts 28 March
        datetime(2027, 4, 2, 18, 0, tzinfo=UTC),
    ]
