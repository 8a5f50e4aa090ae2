"""Prometheus metrics of every process, defined once (the spec's PerformanceMonitor).

Each process exposes the default registry: the API at `GET /metrics`, the worker and the gateway
on their own port (METRICS_PORT_WORKER, METRICS_PORT_GATEWAY). A metric is only non-zero in the
process that does the work: gateway events in the gateway, AI and Discord REST calls in the
worker, pending approvals in the API (read from the database on each scrape). Labels are bounded
sets (event names, providers, route templates), never ids, so series stay few.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS = Counter(
    "dcs_gateway_events_total",
    "Gateway events handled by the bot, per discord.py event handler.",
    ["event"],
)
EVENT_SECONDS = Histogram(
    "dcs_gateway_event_seconds",
    "Time a gateway event handler ran, per discord.py event handler.",
    ["event"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENT_BACKLOG = Gauge(
    "dcs_gateway_queue_backlog",
    "Medium and low priority gateway events waiting for the dispatch pool.",
)
FASTPATH_VERDICTS = Counter(
    "dcs_fastpath_verdicts_total",
    "Messages the gateway's fast path acted on: kind automod or spam; deleted or kept.",
    ["kind", "outcome"],
)
AI_CALLS = Counter(
    "dcs_ai_calls_total",
    "AI provider calls by purpose (review, support) and provider; outcome ok or error.",
    ["purpose", "provider", "outcome"],
)
AI_SECONDS = Histogram(
    "dcs_ai_call_seconds",
    "Latency of one AI provider call (including its SDK retries).",
    ["purpose", "provider"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0),
)
AI_REFUSED = Counter(
    "dcs_ai_tier_refusals_total",
    "AI calls not made because of the server's tier: reason budget (the month's AI calls are "
    "spent) or over_limit (members or servers over the tier); the local rules answered instead.",
    ["purpose", "reason"],
)
DISCORD_REQUESTS = Counter(
    "dcs_discord_requests_total",
    "Discord REST calls made by activities, per route template and HTTP status.",
    ["route", "status"],
)
DISCORD_RATE_LIMITED = Counter(
    "dcs_discord_rate_limited_total",
    "Discord REST answers 429 (rate limited), per route template.",
    ["route"],
)
PENDING_APPROVALS = Gauge(
    "dcs_pending_approvals",
    "Approvals waiting for a decision (refreshed from the database on each API scrape).",
)
OLDEST_PENDING_SECONDS = Gauge(
    "dcs_pending_approval_oldest_seconds",
    "Age of the oldest pending approval in seconds; 0 when none waits.",
)
HEALTH_CHECK = Gauge(
    "dcs_health_check_ok",
    "1 when the readiness check passed (or was skipped) at its last run, else 0.",
    ["check"],
)

API_AUTH_FAILURES = Counter(
    "dcs_api_auth_failures_total",
    "API requests refused for their credential, per reason (no client or token in the labels).",
    ["reason"],
)
API_RATE_LIMITED = Counter(
    "dcs_api_rate_limited_total",
    "API requests answered 429 by the per-token limiter, per token role.",
    ["role"],
)
HTTP_INTERACTIONS = Counter(
    "dcs_http_interactions_total",
    "Commands, components, autocomplete and forms Discord POSTed to /discord/webhook, by outcome:"
    " answered (the gateway's handler), deferred (it took too long), gateway_down, off.",
    ["outcome"],
)

_ALL = (
    EVENTS,
    EVENT_SECONDS,
    EVENT_BACKLOG,
    FASTPATH_VERDICTS,
    AI_CALLS,
    AI_SECONDS,
    AI_REFUSED,
    DISCORD_REQUESTS,
    DISCORD_RATE_LIMITED,
    PENDING_APPROVALS,
    OLDEST_PENDING_SECONDS,
    HEALTH_CHECK,
    API_AUTH_FAILURES,
    API_RATE_LIMITED,
    HTTP_INTERACTIONS,
)
METRIC_NAMES = frozenset(
    family.name + ("_total" if family.type == "counter" else "")
    for metric in _ALL
    for family in metric.describe()
)
"""Every metric name this module defines (the Grafana dashboard's test checks against it)."""

_SNOWFLAKE = re.compile(r"/\d{15,21}(?=/|$)")
_TOKEN_PART = re.compile(r"(/webhooks/\{id\}|/interactions/\{id\})/[^/]+")


def route_template(method: str, path: str) -> str:
    """`POST /channels/{id}/messages` from a concrete path: ids (and webhook tokens) removed.

    Labels must be a small set; a raw path would make one series per channel and message.
    """
    path = path.split("?", 1)[0]
    path = _SNOWFLAKE.sub("/{id}", path)
    path = _TOKEN_PART.sub(r"\1/{token}", path)
    return f"{method.upper()} {path}"


@contextmanager
def observe_event(event: str) -> Iterator[None]:
    """Count one gateway event handler and time it (errors included: they took time too)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        EVENTS.labels(event).inc()
        EVENT_SECONDS.labels(event).observe(time.perf_counter() - start)


LAST_AI_OUTCOME: dict[str, tuple[float, str]] = {}
"""Provider -> (wall time, "" or the failure's type) of this process's latest call (health)."""


@contextmanager
def observe_ai_call(purpose: str, provider: str) -> Iterator[None]:
    """Count and time one AI provider call; an exception counts as an error and propagates."""
    start = time.perf_counter()
    error = "unfinished"
    try:
        yield
        error = ""
    except BaseException as exc:
        error = type(exc).__name__
        raise
    finally:
        AI_CALLS.labels(purpose, provider, "error" if error else "ok").inc()
        AI_SECONDS.labels(purpose, provider).observe(time.perf_counter() - start)
        LAST_AI_OUTCOME[provider] = (time.time(), error)


def record_discord_response(method: str, path: str, status: int) -> None:
    """Count one Discord REST answer (and a 429 separately, for the rate-limit panel)."""
    route = route_template(method, path)
    DISCORD_REQUESTS.labels(route, str(status)).inc()
    if status == 429:
        DISCORD_RATE_LIMITED.labels(route).inc()


def serve(port: int, host: str = "127.0.0.1") -> bool:
    """Expose the default registry on `port` (worker, gateway); 0 leaves it off."""
    if port <= 0:
        return False
    start_http_server(port, addr=host)
    return True
