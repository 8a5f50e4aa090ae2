"""The scam-feed refresh: a real HTTP server, a real Temporal worker, a real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import func, select
from temporalio.client import Client, ScheduleActionStartWorkflow, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.scam_feed import (
    FETCH_FAILED,
    MALFORMED_FEED,
    RefreshScamFeedInput,
    ScamFeedActivities,
)
from dcs.scam_snapshot import shipped_detector
from dcs.settings import load_settings
from gateway.scam_list import ScamListCache
from storage.models import ScamDomainList
from storage.scam_domains import latest
from workflows.scam_feed import SCHEDULE_ID, ScamFeedRefreshWorkflow, ensure_scam_feed_schedule

FEED = ["fresh-scam-one.com", "fresh-scam-two.net", "quiet-harbour-tea.org"]


class FeedServer:
    """A local HTTP server whose answers the test sets; counts the requests it served."""

    def __init__(self) -> None:
        self.body = json.dumps({"domains": FEED}).encode()
        self.statuses: list[int] = []  # consumed first; then 200
        self.hits = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            return web.Response(status=status, text="unavailable")
        return web.Response(body=self.body, content_type="application/json")


@pytest.fixture
async def feed_server():
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/feed", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/feed"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def worker(temporal_env, session_factory, task_queue):
    activities = ScamFeedActivities(session_factory)
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[ScamFeedRefreshWorkflow],
        activities=[activities.refresh_scam_feed],
    ):
        yield temporal_env.client


async def run_refresh(client: Client, task_queue: str, inp: RefreshScamFeedInput):
    return await client.execute_workflow(
        ScamFeedRefreshWorkflow.run,
        inp,
        id=f"scam-feed-test-{uuid.uuid4()}",
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=60),
    )


async def row_count(session_factory) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(ScamDomainList)) or 0


async def test_refresh_stores_a_snapshot_only_when_the_list_changed(
    worker, session_factory, task_queue, feed_server
):
    cache = ScamListCache(session_factory)
    assert await cache.refresh() is False  # nothing stored yet: the shipped list is used
    assert cache.snapshot_id is None
    assert cache.detector.check_host("quiet-harbour-tea.org") is None

    first = await run_refresh(worker, task_queue, RefreshScamFeedInput(feed_server.url))
    assert first.changed is True
    assert first.domain_count == 3
    async with session_factory() as session:
        stored = await latest(session)
    assert stored is not None
    assert stored.id == first.snapshot_id
    assert stored.domains == tuple(sorted(FEED))
    assert stored.source == feed_server.url
    assert stored.sha256 == first.sha256

    # the gateway's cache picks the stored list up, once
    assert await cache.refresh() is True
    assert cache.snapshot_id == first.snapshot_id
    hit = cache.detector.check_host("quiet-harbour-tea.org")
    assert hit is not None
    assert hit.reason == "listed"
    assert shipped_detector().check_host("quiet-harbour-tea.org") is None
    assert await cache.refresh() is False

    # the same domains in another shape and order: no new row
    feed_server.body = "\n".join(reversed(FEED)).encode()
    again = await run_refresh(worker, task_queue, RefreshScamFeedInput(feed_server.url))
    assert again.changed is False
    assert again.snapshot_id == first.snapshot_id
    assert await row_count(session_factory) == 1

    # a changed list: a new row, and the cache follows
    feed_server.body = json.dumps([*FEED, "another-fresh-one.xyz"]).encode()
    changed = await run_refresh(worker, task_queue, RefreshScamFeedInput(feed_server.url))
    assert changed.changed is True
    assert changed.snapshot_id != first.snapshot_id
    assert await row_count(session_factory) == 2
    assert await cache.refresh() is True
    assert cache.snapshot_id == changed.snapshot_id


async def test_malformed_feed_fails_without_retry_and_keeps_the_list(
    worker, session_factory, task_queue, feed_server
):
    good = await run_refresh(worker, task_queue, RefreshScamFeedInput(feed_server.url))
    feed_server.body = b"<html><body>Service temporarily unavailable</body></html>"
    feed_server.hits = 0
    with pytest.raises(WorkflowFailureError) as failure:
        await run_refresh(
            worker,
            task_queue,
            RefreshScamFeedInput(feed_server.url, max_attempts=5, retry_initial_seconds=0.1),
        )
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == MALFORMED_FEED
    assert cause.non_retryable is True
    assert feed_server.hits == 1  # not retried
    assert await row_count(session_factory) == 1
    async with session_factory() as session:
        stored = await latest(session)
    assert stored is not None
    assert stored.id == good.snapshot_id
    assert stored.domains == tuple(sorted(FEED))


async def test_fetch_failures_are_retried_until_the_feed_answers(
    worker, session_factory, task_queue, feed_server
):
    feed_server.statuses = [503, 500]
    result = await run_refresh(
        worker,
        task_queue,
        RefreshScamFeedInput(feed_server.url, max_attempts=5, retry_initial_seconds=0.1),
    )
    assert result.changed is True
    assert feed_server.hits == 3


async def test_unreachable_feed_is_a_retryable_error(session_factory):
    activities = ScamFeedActivities(session_factory)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as error:
        # port 9 (discard) on loopback: nothing listens, the connection is refused
        await env.run(activities.refresh_scam_feed, RefreshScamFeedInput("http://127.0.0.1:9/x"))
    assert error.value.type == FETCH_FAILED
    assert error.value.non_retryable is False


async def test_oversized_feed_is_malformed(session_factory, feed_server):
    feed_server.body = json.dumps(["a.com"] * 1000).encode()
    activities = ScamFeedActivities(session_factory, max_bytes=1000)
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(
            activities.refresh_scam_feed, RefreshScamFeedInput(feed_server.url)
        )
    assert error.value.type == MALFORMED_FEED
    assert error.value.non_retryable is True
    assert await row_count(session_factory) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_schedule_is_created_updated_and_runs_the_refresh(
    worker, session_factory, task_queue, feed_server
):
    client = worker
    settings = load_settings(
        scam_feed_url=feed_server.url, temporal_task_queue=task_queue, scam_feed_refresh_hours=6
    )
    handle = await ensure_scam_feed_schedule(client, settings)
    try:
        assert handle is not None
        described = await handle.describe()
        assert described.id == SCHEDULE_ID
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(hours=6)]
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "ScamFeedRefresh"
        assert action.task_queue == task_queue

        # created with an immediate first run, which the worker executes
        for _ in range(100):
            if await row_count(session_factory) == 1:
                break
            await asyncio.sleep(0.2)
        assert await row_count(session_factory) == 1

        # a second call updates the same schedule in place
        settings = load_settings(
            scam_feed_url=feed_server.url,
            temporal_task_queue=task_queue,
            scam_feed_refresh_hours=12,
        )
        again = await ensure_scam_feed_schedule(client, settings)
        assert again is not None
        described = await again.describe()
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(hours=12)]

        # no URL: the schedule is removed
        off = load_settings(scam_feed_url="", temporal_task_queue=task_queue)
        assert await ensure_scam_feed_schedule(client, off) is None
        with pytest.raises(RPCError):
            await client.get_schedule_handle(SCHEDULE_ID).describe()
    finally:
        try:
            await client.get_schedule_handle(SCHEDULE_ID).delete()
        except RPCError:
            pass
