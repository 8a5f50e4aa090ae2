"""Small helpers shared by the integration and end-to-end tests."""

import asyncio
import contextlib
import inspect

from gateway.bot import SuiteBot
from simulator.testing import connected_client
from storage.servers import put_server_config


async def eventually(probe, timeout: float = 15.0, interval: float = 0.05):
    """Poll `probe` (sync or async) until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {probe}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_bot(sim, temporal, task_queue, sessions, *, config=None):
    """The suite's gateway (sandbox mode) connected to `sim`, yielded once the guild's rules are
    loaded; `config` is stored as the guild's first config before the bot starts."""
    guild = sim.world.guild_id
    if config is not None:
        async with sessions() as session, session.begin():
            await put_server_config(session, guild, config, expected_version=0, changed_by="t")
    bot = SuiteBot(
        temporal=temporal,
        task_queue=task_queue,
        sessions=sessions,
        sandbox=True,
        guild_ready_timeout=0.05,  # discord.py waits this long for more guilds (default 2 s)
    )
    async with connected_client(sim, client=bot):  # type: ignore[arg-type] # any Client works
        await eventually(lambda: (r := bot.rules.get(guild)) is not None and r.version >= 1)
        yield bot
