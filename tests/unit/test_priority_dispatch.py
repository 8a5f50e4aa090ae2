"""The gateway's priority dispatch: under a backlog, medium work is served before low, in order."""

import asyncio

from domain.priority import HIGH, LOCKDOWN, LOW, MEDIUM, report_priority
from gateway.dispatch import EVENT_PRIORITY, PriorityDispatch


async def test_a_backlog_serves_medium_before_low_and_keeps_arrival_order():
    dispatch = PriorityDispatch(workers=1)
    order: list[str] = []
    gate = asyncio.Event()

    def job(name: str, wait: bool = False):
        async def run() -> None:
            if wait:
                await gate.wait()
            order.append(name)

        return run

    dispatch.start()
    dispatch.submit(LOW, job("blocker", wait=True))  # occupies the only worker
    await asyncio.sleep(0)
    for i in range(50):
        dispatch.submit(LOW, job(f"xp{i}"))
    dispatch.submit(MEDIUM, job("message-a"))
    dispatch.submit(MEDIUM, job("message-b"))
    assert dispatch.backlog() == 52
    gate.set()
    while dispatch.backlog() or len(order) < 53:
        await asyncio.sleep(0.001)
    await dispatch.stop()
    assert order[:3] == ["blocker", "message-a", "message-b"]
    assert order[3:] == [f"xp{i}" for i in range(50)]
    assert dispatch.served[LOW] == 51 and dispatch.served[MEDIUM] == 2


async def test_a_failing_handler_does_not_stop_the_pool():
    dispatch = PriorityDispatch(workers=1)
    done = asyncio.Event()

    async def boom() -> None:
        raise RuntimeError("handler bug")

    async def after() -> None:
        done.set()

    dispatch.start()
    dispatch.submit(LOW, boom)
    dispatch.submit(LOW, after)
    await asyncio.wait_for(done.wait(), 2)
    await dispatch.stop()
    assert not dispatch.running


def test_raids_and_spam_are_high_engagement_low():
    assert EVENT_PRIORITY["on_member_join"] == HIGH
    assert EVENT_PRIORITY["on_raw_reaction_add"] == LOW
    assert EVENT_PRIORITY["on_message"] == MEDIUM
    assert report_priority("spam") == HIGH and report_priority("automod") == MEDIUM
    assert LOCKDOWN < HIGH < MEDIUM < LOW  # Temporal serves the smaller key first


async def test_stop_returns_when_a_running_handler_swallows_its_cancellation():
    dispatch = PriorityDispatch(workers=2)
    started = asyncio.Event()

    async def swallowing() -> None:  # as discord.py's _run_event does
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

    dispatch.start()
    dispatch.submit(MEDIUM, swallowing)
    await started.wait()
    await asyncio.wait_for(dispatch.stop(), 2)
    assert not dispatch.running
