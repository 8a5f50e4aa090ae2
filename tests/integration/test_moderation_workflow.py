"""The member's moderation workflow on the time-skipping server, with real activities:
the database on both backends and the Discord simulator for the mod-log."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support import eventually
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.discord_rest import DiscordHttp
from dcs.temporal import build_worker, bundled_binary
from domain.cases import Violation
from simulator import DiscordSimulator
from storage.cases import list_cases
from workflows.moderation import (
    IDLE_CLOSE_AFTER,
    ModerationInput,
    ModerationWorkflow,
    moderation_workflow_id,
)

MOD_LOG_ROUTE = "/channels/{channel_id}/messages"


def mod_log_posts(sim: DiscordSimulator, status: int | None = None):
    """POSTs to #mod-log only (the member's warning DM goes to the same route)."""
    channel = sim.world.channel("mod-log")
    return [
        r
        for r in sim.requests("POST", MOD_LOG_ROUTE, status=status)
        if r.path.endswith(f"/channels/{channel}/messages")
    ]


@pytest.fixture
async def sim():
    async with DiscordSimulator() as simulator:
        yield simulator


def violation(sim: DiscordSimulator, key: str, *, points: int = 1, mod_log: bool = True):
    return Violation(
        guild_id=sim.world.guild_id,
        user_id=sim.world.member("alice"),
        source_key=key,
        source="automod",
        action="delete",
        reason="Blocked term (scam*)",
        occurred_at=datetime.now(UTC),
        rule="blocked_terms",
        points=points,
        excerpt="scamcoin",
        mod_log_channel_id=sim.world.channel("mod-log") if mod_log else None,
    )


_started: list = []


@pytest.fixture(autouse=True)
async def _terminate_leftovers():
    """A workflow left waiting would hold the shared time-skipping server's clock back."""
    yield
    while _started:
        handle = _started.pop()
        try:
            await handle.terminate("test finished")
        except Exception:  # already completed
            pass


async def report(client: Client, queue: str, v: Violation):
    """Signal-with-start, exactly as the gateway does it."""
    handle = await client.start_workflow(
        ModerationWorkflow.run,
        ModerationInput(v.guild_id, v.user_id),
        id=moderation_workflow_id(v.guild_id, v.user_id) + f":{uuid.uuid4().hex[:6]}",
        task_queue=queue,
        start_signal="report",
        start_signal_args=[v],
    )
    _started.append(handle)
    return handle


async def signal_same(handle, v: Violation):
    await handle.signal(ModerationWorkflow.report, v)


async def cases_for(session_factory, guild_id):
    async with session_factory() as session:
        return await list_cases(session, guild_id)


@pytest.fixture
def worker_for(time_skipping_env: WorkflowEnvironment, session_factory, sim, task_queue):
    def make():
        http = DiscordHttp(sim.api_base, "sandbox-token")
        return build_worker(time_skipping_env.client, task_queue, session_factory, http)

    return make


async def test_each_report_becomes_one_numbered_case_and_a_mod_log_post(
    time_skipping_env, session_factory, sim, worker_for, task_queue
):
    client = time_skipping_env.client
    async with worker_for():
        # 1 + 1 active points: the default ladder's first rung (a warning by DM), no new case
        handle = await report(client, task_queue, violation(sim, "automod:1"))
        await signal_same(handle, violation(sim, "automod:2"))
        await signal_same(handle, violation(sim, "automod:1"))  # re-delivered: ignored
        cases = await eventually(
            lambda: _at_least(cases_for(session_factory, sim.world.guild_id), 2)
        )
        standing = await eventually(lambda: _standing_done(handle, 2))
    assert [c.case_number for c in cases] == [2, 1]
    assert {c.source_key for c in cases} == {"automod:1", "automod:2"}
    assert all(c.workflow_id == handle.id for c in cases)
    assert standing.active_points == 2
    posts = mod_log_posts(sim, status=200)
    titles = sorted(p.json["embeds"][0]["title"] for p in posts)
    assert titles == ["Case #1", "Case #2"]
    assert len(sim.messages("mod-log")) == 2


async def _at_least(coro, n):
    items = await coro
    return items if len(items) >= n else None


async def _standing_done(handle, n):
    view = await handle.query(ModerationWorkflow.standing)
    return view if view.cases_recorded >= n and view.pending_reports == 0 else None


async def test_rate_limited_mod_log_waits_retry_after_and_posts_once(
    time_skipping_env, session_factory, sim, worker_for, task_queue
):
    sim.inject_fault(r"/channels/\d+/messages$", 429, method="POST", count=2, retry_after=0.2)
    async with worker_for():
        handle = await report(time_skipping_env.client, task_queue, violation(sim, "k-429"))
        await eventually(lambda: _standing_done(handle, 1))
        await eventually(lambda: len(sim.messages("mod-log")) == 1)
    attempts = mod_log_posts(sim)
    assert [a.status for a in attempts] == [429, 429, 200]
    assert attempts[1].timestamp - attempts[0].timestamp >= 0.2


async def test_forbidden_mod_log_is_not_retried_and_the_case_stays(
    time_skipping_env, session_factory, sim, worker_for, task_queue
):
    sim.inject_fault(r"/channels/\d+/messages$", 403, method="POST", count=5)
    async with worker_for():
        handle = await report(time_skipping_env.client, task_queue, violation(sim, "k-403"))
        await eventually(lambda: _standing_done(handle, 1))
        cases = await cases_for(session_factory, sim.world.guild_id)
        desc = await handle.describe()
    assert len(cases) == 1
    assert [a.status for a in mod_log_posts(sim)] == [403]
    assert desc.status == WorkflowExecutionStatus.RUNNING


async def test_quiet_member_workflow_closes_after_the_idle_period(session_factory, sim, task_queue):
    # Its own time-skipping server: a workflow another test left behind on the shared one
    # could hold the virtual clock back while this test waits 30 virtual days.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server")
    )
    http = DiscordHttp(sim.api_base, "sandbox-token")
    try:
        async with build_worker(env.client, task_queue, session_factory, http):
            handle = await report(env.client, task_queue, violation(sim, "k-idle", mod_log=False))
            await eventually(lambda: _standing_done(handle, 1))
            before = await env.get_current_time()
            result = await handle.result()  # the time-skipping server fast-forwards meanwhile
            _started.remove(handle)  # finished, and its server stops below: nothing to terminate
            after = await env.get_current_time()
    finally:
        await http.aclose()
        await env.shutdown()
    assert result.cases_recorded == 1
    assert after - before >= IDLE_CLOSE_AFTER - timedelta(minutes=1)
