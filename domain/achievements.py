"""Achievements defined in config, not code: a counter, a threshold, an optional reward.

Pure logic: the caller keeps a member's :class:`MemberCounters` and the keys already
earned, and asks :func:`newly_earned` after a counter moves. Streak days are the
server's local dates, which the caller works out (the domain has no clock or time zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, get_args

Counter = Literal[
    "messages",
    "streak_days",
    "events_attended",
    "tickets_helped",
    "reactions_received",
    "invites",
    "level",
    "xp",
    "voice_minutes",
]
COUNTERS: frozenset[str] = frozenset(get_args(Counter))


@dataclass(frozen=True, slots=True)
class AchievementRule:
    """One achievement: reached when ``counter`` >= ``threshold``; granted once per member."""

    key: str
    name: str
    description: str
    counter: Counter
    threshold: int
    role_id: int | None = None
    xp_bonus: int = 0

    def __post_init__(self) -> None:
        if not self.key.strip():
            raise ValueError("achievement key must not be blank")
        if self.counter not in COUNTERS:
            raise ValueError(f"{self.key}: unknown counter {self.counter!r}")
        if self.threshold < 1:
            raise ValueError(f"{self.key}: threshold must be at least 1 (0 is earned by everyone)")
        if self.xp_bonus < 0:
            raise ValueError(f"{self.key}: xp_bonus must not be negative")


@dataclass(frozen=True, slots=True)
class MemberCounters:
    """A member's counters as achievements see them."""

    messages: int = 0
    streak_days: int = 0
    events_attended: int = 0
    tickets_helped: int = 0
    reactions_received: int = 0
    invites: int = 0
    level: int = 0
    xp: int = 0
    voice_minutes: int = 0

    def value(self, counter: Counter) -> int:
        """The value of one counter by name."""
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter!r}")
        result: int = getattr(self, counter)
        return result


DEFAULT_ACHIEVEMENTS: tuple[AchievementRule, ...] = (
    AchievementRule("first_message", "Hello there", "Sent a first message", "messages", 1),
    AchievementRule("messages_100", "Regular", "Sent 100 messages", "messages", 100),
    AchievementRule("messages_1000", "Pillar", "Sent 1,000 messages", "messages", 1_000),
    AchievementRule("streak_7", "Week streak", "Active 7 days in a row", "streak_days", 7),
    AchievementRule("streak_30", "Month streak", "Active 30 days in a row", "streak_days", 30),
    AchievementRule("first_event", "Showed up", "Attended a first event", "events_attended", 1),
    AchievementRule(
        "reactions_10", "Appreciated", "Received 10 reactions", "reactions_received", 10
    ),
    AchievementRule("level_10", "Double digits", "Reached level 10", "level", 10),
)
"""A small starter set; servers replace or extend it in their config."""


def newly_earned(
    rules: Iterable[AchievementRule], counters: MemberCounters, already_earned: frozenset[str]
) -> tuple[AchievementRule, ...]:
    """Achievements reached but not yet earned, by threshold (config order on ties).

    Never returns a key in ``already_earned``, nor the same key twice.
    """
    seen = set(already_earned)
    earned: list[AchievementRule] = []
    for rule in rules:
        if rule.key not in seen and counters.value(rule.counter) >= rule.threshold:
            seen.add(rule.key)
            earned.append(rule)
    return tuple(sorted(earned, key=lambda rule: rule.threshold))


def next_streak(last_active_day: date | None, streak: int, today: date) -> int:
    """Streak after activity on ``today`` (the server's local date).

    Same day: unchanged; the next day: +1; a gap, or no earlier activity: 1. A ``today``
    before the last active day (a time zone change) leaves the streak alone.
    """
    if last_active_day is None:
        return 1
    if today <= last_active_day:
        return streak
    if today - last_active_day == timedelta(days=1):
        return streak + 1
    return 1


@dataclass(frozen=True, slots=True)
class AchievementGrant:
    """What earning some achievements brings: the rules, bonus XP and roles to give."""

    earned: tuple[AchievementRule, ...] = ()
    xp_bonus: int = 0
    role_ids: frozenset[int] = frozenset()


def grant(
    rules: Iterable[AchievementRule], counters: MemberCounters, already_earned: frozenset[str]
) -> AchievementGrant:
    """Newly earned achievements with their bonus XP and roles added up."""
    earned = newly_earned(rules, counters, already_earned)
    return AchievementGrant(
        earned=earned,
        xp_bonus=sum(rule.xp_bonus for rule in earned),
        role_ids=frozenset(rule.role_id for rule in earned if rule.role_id is not None),
    )


@dataclass(frozen=True, slots=True)
class EventAttendanceAward:
    """Result of a member attending an event: counters after, XP to add, achievements."""

    counters: MemberCounters
    xp: int
    grant: AchievementGrant


def event_attendance_award(
    rules: Iterable[AchievementRule],
    counters: MemberCounters,
    already_earned: frozenset[str],
    *,
    event_xp: int,
) -> EventAttendanceAward:
    """What the events feature applies when a member attended an event.

    ``events_attended`` goes up by one and the member earns ``event_xp`` plus the bonus
    XP of any achievement this earns; ``xp`` in the returned counters includes both.
    Achievements are checked once, after the attendance: a bonus that would cross an
    ``xp`` threshold counts at the next check, and ``level`` is left to the XP path
    (add ``xp`` with ``XPTracker.adjust``). The caller grants at most once per (event,
    member), e.g. from the event's workflow.
    """
    if event_xp < 0:
        raise ValueError(f"event_xp must not be negative, got {event_xp}")
    attended = replace(
        counters, events_attended=counters.events_attended + 1, xp=counters.xp + event_xp
    )
    achieved = grant(rules, attended, already_earned)
    total_xp = event_xp + achieved.xp_bonus
    after = replace(attended, xp=counters.xp + total_xp)
    return EventAttendanceAward(counters=after, xp=total_xp, grant=achieved)
