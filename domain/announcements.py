"""Scheduled announcements: what one is, and every reason a request for one is refused.

An announcement is a post (an embed with a title, body and colour, and optionally one role
pinged) made by a Temporal Schedule: recurring on a cron expression or an interval, or once at
one instant. This module is pure: it checks a request against the clock it is given and says
everything that is wrong at once, so a caller can refuse it before anything is created.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=366)
TITLE_MAX = 256
BODY_MAX = 4000
"""Discord's embed description allows 4096; a little room is left for a footer."""
COLOUR_DEFAULT = 0x5865F2

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())
_DAYS = tuple("sun mon tue wed thu fri sat".split())
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (  # name, low, high, names
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_STEP = re.compile(r"^(?P<range>[^/]+)(?:/(?P<step>\d+))?$")


def schedule_id(guild_id: int, number: int) -> str:
    """The Temporal Schedule's id: meaningful, so operators can find it in the Web UI."""
    return f"announce:{guild_id}:{number}"


@dataclass(frozen=True)
class AnnouncementSpec:
    """What to post, where, and when. Exactly one of `cron`, `interval_seconds` and `at`."""

    channel_id: int
    title: str
    body: str = ""
    colour: int = COLOUR_DEFAULT
    role_id: int | None = None
    cron: str | None = None
    interval_seconds: int | None = None
    at: datetime | None = None
    """A one-off's instant (aware)."""
    timezone: str = "UTC"
    """The zone the cron expression's hours are read in (daylight saving included)."""

    @property
    def kind(self) -> str:
        """`cron`, `interval` or `once`."""
        if self.at is not None:
            return "once"
        return "interval" if self.interval_seconds is not None else "cron"


@dataclass(frozen=True)
class AnnouncementRun:
    """The short workflow's input: which announcement a schedule's run posts."""

    guild_id: int
    number: int


@dataclass(frozen=True)
class PostResult:
    """What one run did: the message id, or why nothing was posted."""

    message_id: int | None
    skipped: str | None = None


def cron_problems(expression: str) -> list[str]:
    """Every problem with a five-field cron expression (minute hour day month weekday)."""
    expr = _ALIASES.get(expression.strip().lower(), expression.strip())
    parts = expr.split()
    if len(parts) != 5:
        return [
            f"cron: {expression!r} has {len(parts)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or @daily, @hourly, @weekly, @monthly"
        ]
    problems: list[str] = []
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        problems += [f"cron {name}: {p}" for p in _field_problems(part, low, high, names)]
    return problems


def _field_problems(part: str, low: int, high: int, names: tuple[str, ...]) -> list[str]:
    problems = []
    for item in part.split(","):
        match = _STEP.match(item)
        if match is None:
            problems.append(f"{item!r} is not a value, range or step")
            continue
        if match["step"] is not None and int(match["step"]) == 0:
            problems.append(f"{item!r} has a step of 0")
        span = match["range"]
        if span == "*":
            continue
        ends = span.split("-")
        if len(ends) > 2:
            problems.append(f"{item!r} is not a range")
            continue
        values = [_value(e, low, names) for e in ends]
        for end, value in zip(ends, values, strict=True):
            if value is None or not low <= value <= high:
                problems.append(f"{end!r} is outside {low}-{high}")
        if len(values) == 2 and None not in values and values[0] > values[1]:  # type: ignore[operator]
            problems.append(f"{item!r} runs backwards")
    return problems


def _value(text: str, low: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    return names.index(lowered) + low if lowered in names else None


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone (None when it is)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"timezone: {name!r} is not a known time zone (e.g. Europe/Berlin, UTC)"
    return None


def problems(spec: AnnouncementSpec, now: datetime) -> list[str]:
    """Every reason `spec` cannot be scheduled at `now` (empty when it can)."""
    found: list[str] = []
    if not spec.title.strip():
        found.append("title: must not be empty")
    if len(spec.title) > TITLE_MAX:
        found.append(f"title: longer than {TITLE_MAX} characters")
    if len(spec.body) > BODY_MAX:
        found.append(f"body: longer than {BODY_MAX} characters")
    if not 0 <= spec.colour <= 0xFFFFFF:
        found.append("colour: must be between 0x000000 and 0xFFFFFF")
    when = [w for w in (spec.cron, spec.interval_seconds, spec.at) if w is not None]
    if len(when) != 1:
        found.append("schedule: give exactly one of cron, interval_seconds and at")
    if spec.cron is not None:
        found += cron_problems(spec.cron)
    if spec.interval_seconds is not None and not (
        MIN_INTERVAL.total_seconds() <= spec.interval_seconds <= MAX_INTERVAL.total_seconds()
    ):
        found.append(
            f"interval_seconds: must be between {int(MIN_INTERVAL.total_seconds())} "
            f"and {int(MAX_INTERVAL.total_seconds())}"
        )
    if spec.at is not None:
        if spec.at.tzinfo is None:
            found.append("at: needs a UTC offset or a timezone")
        elif spec.at <= now:
            found.append(f"at: {spec.at.isoformat()} is in the past")
    zone = zone_problem(spec.timezone)
    if zone:
        found.append(zone)
    return found


def embed(spec: AnnouncementSpec, footer: str | None = None) -> dict[str, object]:
    """The Discord embed an announcement posts."""
    body: dict[str, object] = {"title": spec.title, "color": spec.colour}
    if spec.body:
        body["description"] = spec.body
    if footer:
        body["footer"] = {"text": footer}
    return body


def mentions(spec: AnnouncementSpec) -> tuple[str, dict[str, object]]:
    """The content and `allowed_mentions`: only the chosen role is pinged, never @everyone."""
    if spec.role_id is None:
        return "", {"parse": []}
    return f"<@&{spec.role_id}>", {"parse": [], "roles": [str(spec.role_id)]}
