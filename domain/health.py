"""Readiness verdicts and the health-check alert rule, as plain functions of check results.

A check is `ok`, `error` or `skipped` (not configured). Readiness needs the required checks
(database, Temporal) to pass; the others are reported but do not make the process unready, since
the API serves reads without the gateway, AI or Telegram. Alerts go out once per failing check
and again only after it has recovered, so a five-minute schedule does not page every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["ok", "error", "skipped"]

REQUIRED = frozenset({"database", "temporal"})
"""Checks whose failure makes `/health/ready` answer 503."""
HEARTBEAT_SECONDS = 30.0
"""How often the gateway writes its heartbeat."""
HEARTBEAT_STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)
"""A heartbeat older than this means the gateway is down or cut off from Discord."""


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; `detail` is a short, secret-free explanation."""

    name: str
    status: Status
    latency_ms: float = 0.0
    detail: str = ""


def ready(results: list[CheckResult]) -> bool:
    """Whether every required check passed (a missing required check is a failure)."""
    passed = {r.name for r in results if r.status == "ok"}
    return REQUIRED <= passed


def heartbeat_result(
    beat_at: datetime | None, detail: str, now: datetime, latency_ms: float = 0.0
) -> CheckResult:
    """The gateway check from its last heartbeat: fresh and connected is ok, anything else not."""
    if beat_at is None:
        return CheckResult("gateway", "error", latency_ms, "no heartbeat yet (gateway not started)")
    age = now - beat_at
    if age > HEARTBEAT_STALE_AFTER:
        seconds = int(age.total_seconds())
        return CheckResult("gateway", "error", latency_ms, f"last heartbeat {seconds}s ago")
    if detail != "connected":
        return CheckResult("gateway", "error", latency_ms, detail or "disconnected")
    return CheckResult("gateway", "ok", latency_ms, "connected")


@dataclass(frozen=True)
class AlertPlan:
    """What one health-check run must do: alert newly failing checks, clear recovered ones."""

    alert: tuple[CheckResult, ...]
    recovered: tuple[str, ...]


def plan_alerts(results: list[CheckResult], alerted: set[str]) -> AlertPlan:
    """Alert each failing check not yet alerted; a passing or skipped one clears its mark."""
    alert = tuple(r for r in results if r.status == "error" and r.name not in alerted)
    healthy = {r.name for r in results if r.status != "error"}
    return AlertPlan(alert, tuple(sorted(alerted & healthy)))


def alert_text(result: CheckResult) -> str:
    """The staff's message for a failing check."""
    return f"Health check failed: {result.name}: {result.detail or 'error'}"
