"""Prometheus metrics end to end: the gateway's counters move, `/metrics` parses, 429s count."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from support import eventually, running_bot
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp
from api.app import create_app
from api.routers.metrics import MetricsAccess
from simulator import DiscordSimulator
from storage.models import PendingApproval
from storage.servers import ensure_server_exists

GUILD = 111111111111111111


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deleted(sim, message_id):
    return any(r.path.endswith(f"/messages/{message_id}") for r in sim.requests("DELETE"))


async def test_gateway_events_and_fast_path_verdicts_are_counted(
    temporal_env, session_factory, task_queue
):
    messages = value("dcs_gateway_events_total", event="on_message")
    timed = value("dcs_gateway_event_seconds_count", event="on_message")
    automod = value("dcs_fastpath_verdicts_total", kind="automod", outcome="deleted")
    async with (
        DiscordSimulator() as sim,
        running_bot(sim, temporal_env.client, task_queue, session_factory) as bot,
    ):
        await sim.post_message("general", "alice", "hello there")
        bad = await sim.post_message("general", "alice", "you idiot")
        await eventually(lambda: deleted(sim, bad.id))
        await eventually(
            lambda: value("dcs_gateway_events_total", event="on_message") >= messages + 2
        )
        assert bot.handled >= 2
    assert value("dcs_gateway_event_seconds_count", event="on_message") >= timed + 2
    assert value("dcs_fastpath_verdicts_total", kind="automod", outcome="deleted") == automod + 1


async def test_metrics_endpoint_speaks_prometheus_with_pending_approval_gauges(
    api, session_factory
):
    async with session_factory() as session, session.begin():
        await ensure_server_exists(session, GUILD)
        for hours, status in ((2, "pending"), (1, "pending"), (5, "approved")):
            session.add(
                PendingApproval(
                    id=str(uuid.uuid4()),
                    guild_id=GUILD,
                    workflow_id="moderation:test",
                    action="ban",
                    reason="test",
                    requested_by="automod",
                    status=status,
                    created_at=datetime.now(UTC) - timedelta(hours=hours),
                )
            )
    resp = await api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    for name in ("dcs_gateway_events", "dcs_discord_rate_limited", "dcs_ai_call_seconds"):
        assert name in families
    assert families["dcs_pending_approvals"].samples[0].value == 2
    oldest = families["dcs_pending_approval_oldest_seconds"].samples[0].value
    assert 2 * 3600 - 60 < oldest < 2 * 3600 + 60


@pytest.mark.parametrize(
    ("access", "headers", "status"),
    [
        (MetricsAccess(token="s3cret-metrics"), {}, 401),
        (MetricsAccess(token="s3cret-metrics"), {"Authorization": "Bearer wrong"}, 401),
        (MetricsAccess(token="s3cret-metrics"), {"Authorization": "Bearer s3cret-metrics"}, 200),
        (MetricsAccess(enabled=False), {}, 404),
    ],
)
async def test_metrics_token_and_switch(session_factory, access, headers, status):
    app = create_app(session_factory)
    app.state.metrics_access = access
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == status


async def test_a_discord_429_from_the_simulator_is_counted(sim):
    route = "POST /channels/{id}/messages"
    before = value("dcs_discord_rate_limited_total", route=route)
    channel = sim.world.channel("general")
    assert channel > 10**15  # a snowflake: the route template hides it
    sim.inject_fault(r"/channels/\d+/messages$", 429, method="POST", retry_after=0.1)
    http = DiscordHttp(sim.api_base, "sandbox-token")
    try:
        with pytest.raises(ApplicationError) as err:
            await http.request("POST", f"/channels/{channel}/messages", json={"content": "hi"})
        assert err.value.type == "DiscordRateLimited"
        assert value("dcs_discord_rate_limited_total", route=route) == before + 1
        await http.request("POST", f"/channels/{channel}/messages", json={"content": "hi"})
    finally:
        await http.aclose()
    assert value("dcs_discord_rate_limited_total", route=route) == before + 1
    assert value("dcs_discord_requests_total", route=route, status="200") >= 1
