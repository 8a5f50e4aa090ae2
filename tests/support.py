"""Small helpers shared by the integration and end-to-end tests."""

import asyncio
import inspect


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
