"""dcs.metrics helpers, the readiness and alert rules of domain.health, the Grafana dashboard."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from dcs import metrics
from domain.health import CheckResult, alert_text, heartbeat_result, plan_alerts, ready

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("post", "/channels/123456789012345678/messages", "POST /channels/{id}/messages"),
        (
            "DELETE",
            "/channels/123456789012345678/messages/223456789012345678?x=1",
            "DELETE /channels/{id}/messages/{id}",
        ),
        ("GET", "/users/@me", "GET /users/@me"),
        (
            "POST",
            "/webhooks/123456789012345678/secret-token-abc/messages/@original",
            "POST /webhooks/{id}/{token}/messages/@original",
        ),
    ],
)
def test_route_template_drops_ids_and_tokens(method, path, expected):
    assert metrics.route_template(method, path) == expected


def test_discord_429_counts_per_route():
    route = "GET /guilds/{id}/roles"
    before = sample("dcs_discord_rate_limited_total", route=route)
    metrics.record_discord_response("GET", "/guilds/111111111111111111/roles", 200)
    assert sample("dcs_discord_rate_limited_total", route=route) == before
    metrics.record_discord_response("GET", "/guilds/111111111111111111/roles", 429)
    assert sample("dcs_discord_rate_limited_total", route=route) == before + 1
    assert sample("dcs_discord_requests_total", route=route, status="429") >= 1


def test_ai_call_counts_errors_and_remembers_the_last_outcome():
    labels = {"purpose": "unit", "provider": "fake-ai"}
    with metrics.observe_ai_call("unit", "fake-ai"):
        pass
    assert metrics.LAST_AI_OUTCOME["fake-ai"][1] == ""
    with pytest.raises(TimeoutError), metrics.observe_ai_call("unit", "fake-ai"):
        raise TimeoutError
    assert sample("dcs_ai_calls_total", **labels, outcome="ok") == 1
    assert sample("dcs_ai_calls_total", **labels, outcome="error") == 1
    assert sample("dcs_ai_call_seconds_count", **labels) == 2
    assert metrics.LAST_AI_OUTCOME["fake-ai"][1] == "TimeoutError"


def test_every_defined_metric_is_listed():
    kinds = (type(metrics.EVENTS), type(metrics.EVENT_SECONDS), type(metrics.EVENT_BACKLOG))
    defined = [m for m in vars(metrics).values() if isinstance(m, kinds)]
    assert len(defined) == len(metrics.METRIC_NAMES) == 15
    assert "dcs_gateway_events_total" in metrics.METRIC_NAMES
    assert "dcs_gateway_event_seconds" in metrics.METRIC_NAMES


def test_ready_needs_database_and_temporal_only():
    ok = [CheckResult("database", "ok"), CheckResult("temporal", "ok")]
    assert ready([*ok, CheckResult("gateway", "error"), CheckResult("ai", "skipped")])
    assert not ready([CheckResult("database", "ok"), CheckResult("temporal", "error")])
    assert not ready([CheckResult("database", "ok")])  # a missing required check fails


def test_heartbeat_fresh_stale_and_disconnected():
    assert heartbeat_result(NOW - timedelta(seconds=20), "connected", NOW).status == "ok"
    stale = heartbeat_result(NOW - timedelta(minutes=5), "connected", NOW)
    assert stale.status == "error" and "300s" in stale.detail
    assert heartbeat_result(NOW, "disconnected", NOW).status == "error"
    assert heartbeat_result(None, "", NOW).status == "error"


def test_alerts_once_per_failure_until_recovery():
    failing = [CheckResult("database", "ok"), CheckResult("gateway", "error", detail="down")]
    first = plan_alerts(failing, set())
    assert [r.name for r in first.alert] == ["gateway"] and first.recovered == ()
    assert alert_text(first.alert[0]) == "Health check failed: gateway: down"
    again = plan_alerts(failing, {"gateway"})
    assert again.alert == () and again.recovered == ()
    healed = plan_alerts([CheckResult("gateway", "ok"), CheckResult("ai", "skipped")], {"gateway"})
    assert healed.alert == () and healed.recovered == ("gateway",)


def test_grafana_dashboard_queries_only_defined_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(dashboard["panels"]) >= 10
    used = set()
    for expr in exprs:
        for name in re.findall(r"\bdcs_[a-z_]+", expr):
            used.add(re.sub(r"_(bucket|count|sum)$", "", name))
    assert used, "the dashboard queries no dcs_ metric"
    assert used <= metrics.METRIC_NAMES, used - metrics.METRIC_NAMES
    assert metrics.METRIC_NAMES <= used  # every metric has a panel
