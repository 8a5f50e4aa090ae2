"""Timestamp-based Discord snowflakes, so ``created_at`` works in discord.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000


def snowflake_time(snowflake: int) -> datetime:
    """Return the UTC creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(moment: datetime | None) -> str | None:
    """Format an aware datetime the way Discord does (ISO 8601 with offset)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat()


def parse_iso(value: str | None) -> datetime | None:
    """Parse a Discord ISO 8601 timestamp; naive values are taken as UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Return the current aware UTC time."""
    return datetime.now(UTC)


class SnowflakeGenerator:
    """Issues unique snowflakes for any timestamp; "now" ids are strictly increasing.

    The 22 low bits hold a wrapping counter, so ids stay unique without remembering
    them (a clash needs 4M ids issued for the very same millisecond).
    """

    def __init__(self) -> None:
        self._counter = 0
        self._last_now = 0
        self._lock = threading.Lock()

    def next(self, at: datetime | None = None) -> int:
        """Return a new snowflake whose timestamp is ``at`` (default: now)."""
        moment = at or utcnow()
        millis = max(int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS, 0)
        with self._lock:
            self._counter = (self._counter + 1) & 0x3FFFFF
            value = (millis << 22) | self._counter
            if at is None:
                value = max(value, self._last_now + 1)
                self._last_now = value
            return value
