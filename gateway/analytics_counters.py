"""Analytics the gateway alone sees (messages, joins, leaves, FAQ answers), counted in memory.

`count` is a dict increment on the hot path. Every FLUSH_SECONDS (and when the gateway stops) the
pending counts are added to their hourly `analytics` rows in one transaction. A failed write
puts the batch back, merged with what was counted meanwhile, so a database outage loses nothing
while the process lives; a batch is only dropped from memory once its transaction committed, so
nothing is counted twice. A process killed outright loses at most one interval of counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.analytics import hour_floor
from storage.analytics import CounterKey, add_counts

log = logging.getLogger(__name__)

FLUSH_SECONDS = 60.0


class AnalyticsCounters:
    """Per-(guild, metric, UTC hour) counts waiting to be written."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.flush_seconds = flush_seconds
        self._pending: Counter[CounterKey] = Counter()
        self._lock = asyncio.Lock()
        self.flush_failures = 0

    def count(self, guild_id: int, metric: str, n: int = 1, at: datetime | None = None) -> None:
        """One more (or `n` more) of `metric` in the guild, in the hour of `at` (default now)."""
        self._pending[(guild_id, metric, hour_floor(at or self._clock()))] += n

    def pending(self) -> dict[CounterKey, int]:
        """What has not been written yet (a copy)."""
        return dict(self._pending)

    async def flush(self) -> int:
        """Write what is pending in one transaction; on failure keep it. Returns rows written."""
        async with self._lock:  # the periodic flush and the shutdown flush never overlap
            batch, self._pending = self._pending, Counter()
            if not batch:
                return 0
            try:
                async with self._sessions() as session, session.begin():
                    written = await add_counts(session, batch)
            except Exception:
                self._pending.update(batch)  # merged with what was counted meanwhile
                self.flush_failures += 1
                log.exception("analytics flush of %d counters failed; will retry", len(batch))
                return 0
            return written

    async def run_flusher(self) -> None:
        """Flush every `flush_seconds` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(self.flush_seconds)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())
