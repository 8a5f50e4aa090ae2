"""Recurring events: the next occurrence of an RRULE, read on the event's local calendar.

A weekly game night at 20:00 Europe/Berlin stays at 20:00 local across daylight-saving changes,
so the rule is expanded on naive local times and each instant is placed in the zone afterwards.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dateutil.rrule import rrulestr

from domain.events import EventSpec, zone

MAX_RULE = 500
_DAILY_OR_RARER = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}


def rule_problem(rule: str, start: datetime, timezone: str) -> str:
    """Why an RRULE cannot be used ('' when it can): unreadable, or more often than daily."""
    if len(rule) > MAX_RULE:
        return f"recurrence: at most {MAX_RULE} characters"
    body = rule.removeprefix("RRULE:")
    try:
        rrulestr(body, dtstart=start.astimezone(zone(timezone)).replace(tzinfo=None))
    except (ValueError, TypeError) as exc:
        return f"recurrence: not a valid RRULE ({exc})"
    parts = dict(p.partition("=")[::2] for p in body.upper().split(";"))
    if parts.get("FREQ") not in _DAILY_OR_RARER:
        return "recurrence: at most once a day (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
    return ""


def next_occurrence(spec: EventSpec, first_start: datetime | None = None) -> EventSpec | None:
    """The spec of the occurrence after this one, or None when the rule has ended.

    `first_start` is the series' first start: COUNT and INTERVAL are counted from it.
    """
    if not spec.recurrence:
        return None
    tz = zone(spec.timezone)
    local = spec.start.astimezone(tz).replace(tzinfo=None)
    first = (first_start or spec.start).astimezone(tz).replace(tzinfo=None)
    rule = rrulestr(spec.recurrence.removeprefix("RRULE:"), dtstart=first)
    following = rule.after(local)
    if following is None:
        return None
    start = following.replace(tzinfo=tz).astimezone(UTC)
    shift = start - spec.start
    return replace(
        spec,
        start=start,
        end=spec.end + shift if spec.end else None,
        signup_deadline=spec.signup_deadline + shift if spec.signup_deadline else None,
    )
