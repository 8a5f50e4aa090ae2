"""Helpers for running a real discord.py client against a simulator in tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import discord

from .server import DiscordSimulator

SANDBOX_CREDENTIAL = "sandbox-bot"  # any value works unless the simulator pins one
_active_patches = 0
_restore: Callable[[], None] | None = None


@dataclass
class SeenEvent:
    """One discord.py event (name without ``on_``) and its arguments."""

    name: str
    args: tuple[Any, ...]
    at: float


class RecordingClient(discord.Client):
    """``discord.Client`` that records every dispatched event so tests can await them."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.seen: list[SeenEvent] = []
        self._seen_changed = asyncio.Event()

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        """Record, then dispatch as usual."""
        self.seen.append(SeenEvent(event, args, time.monotonic()))
        self._seen_changed.set()
        super().dispatch(event, *args, **kwargs)

    def mark(self) -> int:
        """Position in the event log; pass as ``since`` to only see later events."""
        return len(self.seen)

    def events(self, name: str, since: int = 0) -> list[tuple[Any, ...]]:
        """Arguments of every recorded ``name`` event after ``since``."""
        return [e.args for e in self.seen[since:] if e.name == name]

    async def next_event(
        self,
        name: str,
        check: Callable[..., bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> Any:
        """First ``name`` event after ``since`` matching ``check``; waits if needed.

        Returns the single argument for one-argument events, else the argument tuple.
        """
        index = since
        async with asyncio.timeout(timeout):
            while True:
                while index < len(self.seen):
                    event = self.seen[index]
                    index += 1
                    if event.name == name and (check is None or check(*event.args)):
                        return event.args[0] if len(event.args) == 1 else event.args
                self._seen_changed.clear()
                await self._seen_changed.wait()


def default_intents(*, message_content: bool = True, members: bool = True) -> discord.Intents:
    """The intents the suite's bot uses (default + members + message content)."""
    intents = discord.Intents.default()
    intents.members = members
    intents.message_content = message_content
    return intents


@contextlib.asynccontextmanager
async def connected_client(
    sim: DiscordSimulator,
    *,
    intents: discord.Intents | None = None,
    token: str | None = None,
    client: RecordingClient | None = None,
    ready_timeout: float = 10.0,
    **options: Any,
) -> AsyncIterator[RecordingClient]:
    """Start a client against ``sim``, wait for ``on_ready``, yield it, then close it.

    discord.py is pointed at the simulator process-wide while any such client is open.
    """
    global _active_patches, _restore
    if _active_patches == 0:
        _restore = sim.patch_discord_py()
    else:
        sim.patch_discord_py()
    _active_patches += 1
    options.setdefault("guild_ready_timeout", 0.05)
    bot = client or RecordingClient(intents=intents or default_intents(), **options)
    runner = asyncio.create_task(bot.start(token or sim.config.token or SANDBOX_CREDENTIAL))
    try:
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, runner}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if runner in done:
                runner.result()
            raise TimeoutError("discord.py client did not become ready")
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(runner, 5.0)
        _active_patches -= 1
        if _active_patches == 0 and _restore is not None:
            _restore()
            _restore = None
