"""Priority for gateway events when the process falls behind (the spec's EventQueueManager).

discord.py turns every gateway event into a task at once, so under a flood the event loop runs
them first come, first served: a raid's joins would wait behind thousands of reactions. The bot
routes events through :class:`PriorityDispatch` instead. High events (joins, departures, audit-log
entries, interactions, and any event not listed) still start at once; medium ones (messages: the
automod and spam fast path) and low ones (reactions, voice, presence: engagement) wait in one
priority queue served by a fixed pool, medium before low. A backlog of engagement work therefore
never delays raid detection, and only a pool's worth of handlers runs at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from domain.priority import HIGH, LOW, MEDIUM

log = logging.getLogger(__name__)

EVENT_PRIORITY: dict[str, int] = {
    "on_member_join": HIGH,
    "on_raw_member_remove": HIGH,
    "on_audit_log_entry_create": HIGH,
    "on_guild_channel_delete": HIGH,
    "on_guild_role_delete": HIGH,
    "on_interaction": HIGH,
    "on_message": MEDIUM,
    "on_message_edit": MEDIUM,
    "on_raw_reaction_add": LOW,
    "on_raw_reaction_remove": LOW,
    "on_voice_state_update": LOW,
    "on_presence_update": LOW,
    "on_invite_create": LOW,
}
"""Handler name -> level; unlisted handlers (ready, guild events...) run at once, like HIGH."""
WORKERS = 32
"""Queued handlers running at a time (they mostly wait on REST or the database)."""

Job = Callable[[], Coroutine[Any, Any, None]]


class PriorityDispatch:
    """A priority queue of event handlers and the pool that serves it, lowest level first."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._queue: asyncio.PriorityQueue[tuple[int, int, Job]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.served: dict[int, int] = {HIGH: 0, MEDIUM: 0, LOW: 0}

    @property
    def running(self) -> bool:
        """Whether the pool is serving (before start and after stop, events run at once)."""
        return bool(self._tasks)

    def backlog(self) -> int:
        """Handlers waiting."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the pool on the running loop."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._serve()) for _ in range(self._workers)]

    async def stop(self) -> None:
        """Stop the pool; handlers still queued are dropped (the gateway is closing).

        A handler running at that moment may swallow its cancellation (discord.py's
        `_run_event` catches CancelledError), so the workers also stop on a flag after it.
        """
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._stopping = False

    def submit(self, level: int, job: Job) -> None:
        """Queue a handler; equal levels keep their arrival order."""
        self._queue.put_nowait((level, next(self._order), job))

    async def _serve(self) -> None:
        while not self._stopping:
            level, _order, job = await self._queue.get()
            try:
                await job()
            except Exception:  # discord.py's own wrapper reports handler errors; this is a bug
                log.exception("queued event handler failed")
            finally:
                self.served[level] = self.served.get(level, 0) + 1
                self._queue.task_done()
