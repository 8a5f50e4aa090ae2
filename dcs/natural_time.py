"""Times as members type them ("friday 8pm", "in 2 hours", "24h,1h,0"), read in a time zone.

Wall-clock phrases are read in the member's or server's zone and returned as aware UTC; a text
with its own offset keeps it; "in 2 hours" is elapsed time, so it is right across a
daylight-saving change. dateparser is imported on first use: it takes a second to import.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import zone

_EXAMPLES = "try 'friday 8pm', 'in 2 hours' or '2026-12-24 19:00'"
_UNITS = {
    "w": 7 * 24 * 60, "week": 7 * 24 * 60, "weeks": 7 * 24 * 60,
    "d": 24 * 60, "day": 24 * 60, "days": 24 * 60,
    "h": 60, "hr": 60, "hrs": 60, "hour": 60, "hours": 60,
    "m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_RELATIVE = re.compile(r"^in\s+(.+)$")
_BARE_AT = re.compile(r"\bat\s+(\d{1,2})(?![\d:.]|\s*[ap]\.?m)")
_AT_START = {"0", "at start", "start", "at the start", "now"}


def _parser() -> Any:
    import dateparser  # slow to import: only when a time is read

    return dateparser


def _normalise(text: str) -> str:
    """Phrasings dateparser misses: 'next monday at 9' becomes 'monday 9:00'."""
    cleaned = " ".join(text.lower().split())
    cleaned = re.sub(r"^next\s+(?=(mon|tue|wed|thu|fri|sat|sun))", "", cleaned)
    return _BARE_AT.sub(lambda m: f"{m.group(1)}:00", cleaned)


def parse_when(text: str, timezone: str, now: datetime) -> datetime:
    """A future instant in UTC, from a member's text read in `timezone`."""
    tz = zone(timezone)
    cleaned = _normalise(text)
    relative = _RELATIVE.match(cleaned)
    if relative is not None:
        try:
            when = now.astimezone(UTC) + parse_duration(relative.group(1))
        except ValueError:
            when = None
        if when is not None:
            return when
    base = now.astimezone(tz).replace(tzinfo=None)
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base,
        "TIMEZONE": timezone,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    local = _parser().parse(cleaned, settings=settings) if cleaned else None
    if local is None:
        raise ValueError(f"could not read {text!r} as a date and time; {_EXAMPLES}")
    found = local.replace(tzinfo=tz).astimezone(UTC) if local.tzinfo is None else local
    found = found.astimezone(UTC)
    if found <= now:
        shown = found.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise ValueError(f"{text!r} is {shown} ({timezone}), which is in the past")
    return found


def parse_duration(text: str) -> timedelta:
    """A length of time: '2h', '90m', '1h30m', '2 hours', '1 day'; a bare number is minutes."""
    cleaned = text.strip().lower().replace(",", " ").replace(" and ", " ")
    if cleaned.isdigit():
        return timedelta(minutes=int(cleaned))
    minutes = 0.0
    consumed = ""
    for amount, unit in _PART.findall(cleaned):
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r}; try '2h', '90m' or '1h30m'")
        minutes += float(amount) * _UNITS[unit]
        consumed += amount + unit
    if not consumed or consumed != re.sub(r"\s+", "", cleaned):
        raise ValueError(f"could not read {text!r} as a duration; try '2h', '90m' or '1h30m'")
    return timedelta(minutes=round(minutes))


def parse_offsets(text: str) -> tuple[int, ...]:
    """Reminder offsets in minutes before the start: '24h,1h,0' or '1d, 30m, at start'."""
    result: list[int] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        minutes = 0 if part in _AT_START else parse_duration(part) // timedelta(minutes=1)
        if minutes not in result:
            result.append(minutes)
    if not result:
        raise ValueError(f"no reminder times in {text!r}; try '24h,1h,0'")
    return tuple(sorted(result, reverse=True))
