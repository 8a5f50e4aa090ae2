"""The spec's three priority levels, as Temporal task priority keys (1 runs first).

High: raid lockdowns (first of all), spam floods, ban appeals. Medium: rule violations,
support tickets, level-ups. Low: engagement and analytics. Workflows are started with their
level and their activities inherit it, so a backlog of low work never delays a lockdown.
"""

from __future__ import annotations

from typing import Literal

LOCKDOWN = 1
"""Above everything: a raid lockdown (the top of the spec's high level)."""
HIGH = 2
MEDIUM = 3
LOW = 5

Level = Literal["high", "medium", "low"]
KEY_OF_LEVEL: dict[Level, int] = {"high": HIGH, "medium": MEDIUM, "low": LOW}


def report_priority(source: str) -> int:
    """A moderation report's priority: spam floods and appeals high, rule violations medium."""
    return HIGH if source in ("spam", "appeal", "raid") else MEDIUM
