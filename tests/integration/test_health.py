"""Readiness (`/health/ready`) and the `maintenance:health-check` schedule on a real Temporal dev
server: required checks decide the status code, the gateway's heartbeat row is read, Telegram's
getMe is cached, and a failing check alerts the staff once until it recovers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from support import eventually
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.health import AI_MARK, HealthActivities, HealthChecker
from api.app import create_app
from dcs.settings import load_settings
from domain.approvals import TELEGRAM_ALERT, StaffAlert
from storage.health import GATEWAY_KEY, put_mark, write_heartbeats
from workflows.health_check import (
    HEALTH_CHECK_ID,
    HealthCheckResult,
    HealthCheckWorkflow,
    ensure_health_check_schedule,
)

LOCAL = {
    "ai_provider": "local",
    "telegram_bot_token": None,
    "telegram_chat_id": None,
    "discord_bot_token": "test-bot-token",  # not sandbox mode: no local Telegram stands in
}


def checker(sessions, client: Client | None, http=None, **settings: Any) -> HealthChecker:
    async def temporal() -> Client:
        if client is None:
            raise ConnectionRefusedError("Temporal is down")
        return client

    return HealthChecker(sessions, load_settings(**{**LOCAL, **settings}), temporal, http=http)


async def ready(sessions, health: HealthChecker) -> httpx.Response:
    app = create_app(sessions)
    app.state.health_checker = health
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.get("/health/ready")


def by_name(resp: httpx.Response) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in resp.json()["checks"]}


async def test_ready_when_database_and_temporal_answer(temporal_env, session_factory):
    resp = await ready(session_factory, checker(session_factory, temporal_env.client))
    assert resp.status_code == 200 and resp.json()["status"] == "ready"
    checks = by_name(resp)
    assert checks["database"]["status"] == "ok" and checks["temporal"]["status"] == "ok"
    assert checks["gateway"]["status"] == "error"  # no heartbeat: reported, not fatal
    assert checks["ai"]["status"] == "skipped" and checks["telegram"]["status"] == "skipped"
    assert all(c["latency_ms"] >= 0 for c in checks.values())


async def test_default_checker_uses_the_apps_temporal_client(temporal_env, session_factory):
    app = create_app(session_factory, temporal=temporal_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        resp = await client.get("/health/ready")
        assert (await client.get("/health")).json() == {"status": "ok"}
    assert by_name(resp)["temporal"]["status"] == "ok"
    assert by_name(resp)["database"]["status"] == "ok"


async def test_unready_without_temporal(session_factory):
    resp = await ready(session_factory, checker(session_factory, None))
    assert resp.status_code == 503 and resp.json()["status"] == "unready"
    temporal = by_name(resp)["temporal"]
    assert temporal["status"] == "error" and "ConnectionRefusedError" in temporal["detail"]
    assert by_name(resp)["database"]["status"] == "ok"


async def test_gateway_heartbeat_fresh_then_stale(temporal_env, session_factory):
    beats = asyncio.create_task(write_heartbeats(session_factory, lambda: True, every_s=0.05))
    try:
        health = checker(session_factory, temporal_env.client)
        await eventually(lambda: _gateway_ok(health), timeout=5)
    finally:
        beats.cancel()
        await asyncio.gather(beats, return_exceptions=True)
    async with session_factory() as session, session.begin():
        old = datetime.now(UTC) - timedelta(minutes=10)
        await put_mark(session, GATEWAY_KEY, old, "connected")
    stale = await health.gateway()
    assert stale.status == "error" and "last heartbeat" in stale.detail


async def _gateway_ok(health: HealthChecker) -> bool:
    return (await health.gateway()).status == "ok"


async def test_ai_reports_configuration_and_the_workers_last_failure(temporal_env, session_factory):
    health = checker(
        session_factory, temporal_env.client, ai_provider="anthropic", anthropic_api_key="sk-x1"
    )
    first = await health.ai()
    assert first.status == "ok" and first.detail == "configured: anthropic"
    async with session_factory() as session, session.begin():
        await put_mark(session, AI_MARK, datetime.now(UTC), "failing: anthropic (TimeoutError)")
    failing = await health.ai()
    assert failing.status == "error" and "TimeoutError" in failing.detail
    resp = await ready(session_factory, health)
    assert resp.status_code == 200  # AI trouble is reported; the local classifier still answers


async def test_telegram_get_me_is_cached_and_failures_reported(temporal_env, session_factory):
    calls: list[str] = []
    answers = iter([httpx.Response(200, json={"ok": True, "result": {"id": 1}})])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return next(answers, httpx.Response(401, json={"ok": False}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        settings = {"telegram_bot_token": "123:abc", "telegram_chat_id": "-100"}
        health = checker(session_factory, temporal_env.client, http=http, **settings)
        assert (await health.telegram()).status == "ok"
        assert (await health.telegram()).status == "ok"
        assert calls == ["/bot123:abc/getMe"]  # the second probe came from the cache
        again = checker(session_factory, temporal_env.client, http=http, **settings)
        refused = await again.telegram()
    assert refused.status == "error" and "401" in refused.detail and "abc" not in refused.detail


async def test_health_check_schedule_alerts_once_until_recovery(
    temporal_env, session_factory, task_queue
):
    client = temporal_env.client
    alerts: list[StaffAlert] = []

    @activity.defn(name=TELEGRAM_ALERT)
    async def telegram_alert(alert: StaffAlert) -> None:
        alerts.append(alert)

    checks = HealthActivities(checker(session_factory, client), session_factory)
    await ensure_health_check_schedule(client, task_queue)
    await ensure_health_check_schedule(client, task_queue)  # idempotent on every worker start
    try:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[HealthCheckWorkflow],
            activities=[
                checks.run_health_checks,
                checks.alerted,
                checks.mark_alerts,
                telegram_alert,
            ],
        ):
            first = await trigger(client)
            assert first.failing == ["gateway"] and first.alerted == ["gateway"]
            assert [a.text for a in alerts] == [
                "Health check failed: gateway: no heartbeat yet (gateway not started)"
            ]
            second = await trigger(client)
            assert second.failing == ["gateway"] and second.alerted == []
            assert len(alerts) == 1  # at most one alert per failing check

            async with session_factory() as session, session.begin():
                await put_mark(session, GATEWAY_KEY, datetime.now(UTC), "connected")
            healed = await trigger(client)
            assert healed.failing == [] and healed.recovered == ["gateway"]
            assert alerts[-1].text == "Health check recovered: gateway"

            async with session_factory() as session, session.begin():
                await put_mark(session, GATEWAY_KEY, datetime.now(UTC), "disconnected")
            relapse = await trigger(client)
            assert relapse.alerted == ["gateway"]  # alerted again after recovering
            assert alerts[-1].text == "Health check failed: gateway: disconnected"
    finally:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(HEALTH_CHECK_ID).delete()


async def trigger(client: Client) -> HealthCheckResult:
    """Run the schedule's workflow now and return its result."""
    handle = client.get_schedule_handle(HEALTH_CHECK_ID)
    before = (await handle.describe()).info.num_actions
    await handle.trigger()

    async def started():
        info = (await handle.describe()).info
        return info.recent_actions[-1] if info.num_actions > before else None

    action = await eventually(started)
    run = client.get_workflow_handle(
        action.action.workflow_id,
        run_id=action.action.first_execution_run_id,
        result_type=HealthCheckResult,
    )
    result: HealthCheckResult = await run.result()
    return result


@contextlib.asynccontextmanager
async def beating(sessions, key: str, connected=lambda: True):
    """One gateway process's heartbeat writer (the gateway's own loop), beating every 50 ms."""
    beats = asyncio.create_task(write_heartbeats(sessions, connected, every_s=0.05, key=key))
    try:
        yield
    finally:
        beats.cancel()
        await asyncio.gather(beats, return_exceptions=True)


async def _gateway_check(sessions, health: HealthChecker) -> dict[str, Any]:
    resp = await ready(sessions, health)
    assert resp.status_code == 200, resp.text  # the gateway is reported, not required
    return by_name(resp)["gateway"]


async def test_each_shard_group_beats_its_own_mark_and_a_dead_group_shows(
    temporal_env, session_factory
):
    from dcs.self_check import SelfCheck
    from gateway.bot import build_bot

    options = {"temporal": temporal_env.client, "task_queue": "q", "sessions": session_factory}
    keys = [
        build_bot(shard_count=4, shard_ids=ids, sandbox=True, **options).heartbeat_key()
        for ids in ([0, 1], [2, 3])
    ]
    assert keys == ["gateway:4:0-1", "gateway:4:2-3"]  # what each group's setup_hook writes
    assert build_bot(sandbox=True, **options).heartbeat_key() == GATEWAY_KEY  # unsharded

    health = checker(session_factory, temporal_env.client)
    async with beating(session_factory, keys[0]):
        async with beating(session_factory, keys[1]):
            await eventually(lambda: _gateway_ok(health), timeout=5)
            check = await _gateway_check(session_factory, health)
            assert check["status"] == "ok"
            assert check["detail"] == "connected: shards 0-3 of 4 (2 processes)"
        # group 1 stopped beating: its last beat ages past the limit while group 0 goes on
        async with session_factory() as session, session.begin():
            await put_mark(session, keys[1], datetime.now(UTC) - timedelta(minutes=3), "connected")
        check = await _gateway_check(session_factory, health)
        assert check["status"] == "error"
        stale = re.fullmatch(
            r"shards of 4: stale 2-3 \(last heartbeat (\d+)s ago\)", check["detail"]
        )
        assert stale is not None and int(stale[1]) >= 180, check["detail"]
        self_check = SelfCheck(health._settings, session_factory, health._temporal)
        finding = await self_check._gateway()  # the self-check's gateway finding
        assert finding.status == "fail" and "stale 2-3" in finding.detail
        assert "DISCORD_SHARD_IDS" in finding.fix

        # group 1 back but not connected to Discord; then connected again
        async with beating(session_factory, keys[1], connected=lambda: False):
            await eventually(
                lambda: _gateway_detail(health, "shards of 4: disconnected 2-3"), timeout=5
            )
        async with beating(session_factory, keys[1]):
            await eventually(lambda: _gateway_ok(health), timeout=5)
            finding = await SelfCheck(
                health._settings, session_factory, health._temporal
            )._gateway()
            assert finding.status == "ok" and "shards 0-3 of 4" in finding.detail


async def test_a_group_that_never_beat_is_missing(temporal_env, session_factory):
    health = checker(session_factory, temporal_env.client)
    async with beating(session_factory, "gateway:4:0-1"):
        await eventually(
            lambda: _gateway_detail(health, "shards of 4: missing 2-3 (no heartbeat)"), timeout=5
        )


async def test_an_older_layouts_stale_rows_are_ignored(temporal_env, session_factory):
    """Re-sharded from one process, then from 2 shards to 4: the old rows stay, stale, forever."""
    long_ago = datetime.now(UTC) - timedelta(days=3)
    async with session_factory() as session, session.begin():
        await put_mark(session, GATEWAY_KEY, long_ago, "connected")
        await put_mark(session, "gateway:2:0", long_ago, "connected")
        await put_mark(session, "gateway:2:1", long_ago, "disconnected")
    health = checker(session_factory, temporal_env.client)
    assert (await health.gateway()).detail.startswith("last heartbeat")  # newest: still stale
    async with beating(session_factory, "gateway:4:0-1"), beating(session_factory, "gateway:4:2-3"):
        await eventually(lambda: _gateway_ok(health), timeout=5)
        check = await _gateway_check(session_factory, health)
        assert check["detail"] == "connected: shards 0-3 of 4 (2 processes)"


async def _gateway_detail(health: HealthChecker, detail: str) -> bool:
    result = await health.gateway()
    return result.status == "error" and result.detail == detail
