"""Events as iCalendar (RFC 5545), so members can add one event or subscribe to a server's feed.

Times are written in the event's own zone (TZID, with its VTIMEZONE) rather than UTC, so a weekly
RRULE keeps its wall-clock time across daylight-saving changes in every calendar app.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from icalendar import Calendar, Event, vRecur

from domain.events import CANCELLED, EventSpec, zone

PRODID = "-//Discord Community Suite//Events//EN"


def event_uid(guild_id: int, event_id: int) -> str:
    """The event's stable UID: calendar apps update the entry instead of adding another."""
    return f"event-{event_id}@{guild_id}.dcs"


def _vevent(guild_id: int, event_id: int, spec: EventSpec, status: str, sequence: int) -> Event:
    """One VEVENT, its times in the spec's zone."""
    local = zone(spec.timezone)
    event = Event()
    event.add("uid", event_uid(guild_id, event_id))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", spec.start.astimezone(local))
    event.add("dtend", spec.ends_at.astimezone(local))
    event.add("summary", spec.title)
    if spec.description:
        event.add("description", spec.description)
    if spec.location:
        event.add("location", spec.location)
    if spec.recurrence:
        event.add("rrule", vRecur.from_ical(spec.recurrence))
    event.add("status", "CANCELLED" if status == CANCELLED else "CONFIRMED")
    event.add("sequence", sequence)
    return event


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def event_ics(
    guild_id: int, event_id: int, spec: EventSpec, status: str, *, sequence: int = 0
) -> bytes:
    """One event as a calendar file (an edit raises `sequence`)."""
    calendar = _calendar(spec.title)
    calendar.add_component(_vevent(guild_id, event_id, spec, status, sequence))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def calendar_ics(guild_name: str, events: Sequence[tuple[int, int, EventSpec, str]]) -> bytes:
    """A server's feed: each (guild_id, event_id, spec, status) as a VEVENT."""
    calendar = _calendar(f"{guild_name} events" if guild_name else "Server events")
    for guild_id, event_id, spec, status in events:
        calendar.add_component(_vevent(guild_id, event_id, spec, status, 0))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
