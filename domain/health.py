"""Readiness verdicts and the health-check alert rule, as plain functions of check results.

A check is `ok`, `error` or `skipped` (not configured). Readiness needs the required checks
(database, Temporal) to pass; the others are reported but do not make the process unready, since
the API serves reads without the gateway, AI or Telegram. Alerts go out once per failing check
and again only after it has recovered, so a five-minute schedule does not page every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


GATEWAY_MARK = "gateway"
"""Key of the heartbeat of an unsharded gateway; a shard group's is `gateway:<count>:<ids>`."""


def format_shard_ids(ids: Iterable[int]) -> str:
    """Shard ids as compact ranges: [0, 1, 2, 5] → "0-2,5" (the DISCORD_SHARD_IDS syntax)."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def gateway_mark_key(shard_count: int | None, shard_ids: Iterable[int] | None = None) -> str:
    """The heartbeat key of one gateway process.

    Unsharded (no count): `gateway`, as before shard groups existed. Sharded: `gateway:4:0-1`
    for shards 0 and 1 of 4; `shard_ids` None means every shard of the count.
    """
    if shard_count is None:
        return GATEWAY_MARK
    if shard_count < 1:
        raise ValueError(f"shard count must be at least 1, not {shard_count}")
    ids = sorted(set(range(shard_count) if shard_ids is None else shard_ids))
    if not ids or ids[0] < 0 or ids[-1] >= shard_count:
        raise ValueError(f"shard ids {ids} are not within 0..{shard_count - 1}")
    return f"{GATEWAY_MARK}:{shard_count}:{format_shard_ids(ids)}"


def parse_gateway_mark_key(key: str) -> tuple[int, frozenset[int]] | None:
    """(shard count, shard ids) of a shard group's heartbeat key; None for anything else."""
    name, _, rest = key.partition(":")
    count_text, _, ids_text = rest.partition(":")
    if name != GATEWAY_MARK or not count_text.isdigit() or not ids_text:
        return None
    count = int(count_text)
    ids: set[int] = set()
    for part in ids_text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if last < first or last >= count:
            return None
        ids.update(range(first, last + 1))
    return count, frozenset(ids)


@dataclass(frozen=True)
class GatewayMark:
    """One gateway process's last heartbeat: its key, when, and "connected" or not."""

    key: str
    at: datetime
    detail: str


def _fresh(mark: GatewayMark, now: datetime) -> bool:
    return now - mark.at <= HEARTBEAT_STALE_AFTER


def _layout_of(mark: GatewayMark) -> int | None:
    """The mark's shard count (None: unsharded); marks with a malformed key have no layout."""
    parsed = parse_gateway_mark_key(mark.key)
    return parsed[0] if parsed else None


def gateway_result(
    marks: Sequence[GatewayMark], now: datetime, latency_ms: float = 0.0
) -> CheckResult:
    """The gateway check from every gateway process's heartbeat.

    The layout (unsharded, or a shard count) whose latest heartbeat is newest is the current one;
    marks of any other layout are left over from before a re-shard and ignored. Unsharded, the one
    `gateway` mark decides as `heartbeat_result` does. Sharded, every shard id 0..count-1 must be
    covered by a fresh, connected mark; the detail names the shards missing (no group's mark
    covers them), stale (their newest mark is older than HEARTBEAT_STALE_AFTER) or disconnected.
    """
    usable = [m for m in marks if m.key == GATEWAY_MARK or parse_gateway_mark_key(m.key)]
    if not usable:
        return heartbeat_result(None, "", now, latency_ms)
    newest = max(usable, key=lambda m: m.at)
    layout = _layout_of(newest)
    if layout is None:
        return heartbeat_result(newest.at, newest.detail, now, latency_ms)
    groups: list[tuple[frozenset[int], GatewayMark]] = []
    for mark in usable:
        parsed = parse_gateway_mark_key(mark.key)
        if parsed is not None and parsed[0] == layout:
            groups.append((parsed[1], mark))
    missing: list[int] = []
    stale: dict[int, list[int]] = {}  # age in seconds → shards whose newest mark is that old
    disconnected: list[int] = []
    for shard in range(layout):
        covering = [mark for ids, mark in groups if shard in ids]
        if not covering:
            missing.append(shard)
            continue
        fresh = [m for m in covering if _fresh(m, now)]
        if any(m.detail == "connected" for m in fresh):
            continue
        if fresh:
            disconnected.append(shard)
        else:
            age = int((now - max(m.at for m in covering)).total_seconds())
            stale.setdefault(age, []).append(shard)
    processes = sum(1 for _, m in groups if _fresh(m, now) and m.detail == "connected")
    if not (missing or stale or disconnected):
        plural = "es" if processes != 1 else ""
        detail = f"connected: shards 0-{layout - 1} of {layout} ({processes} process{plural})"
        return CheckResult("gateway", "ok", latency_ms, detail)
    problems = []
    if missing:
        problems.append(f"missing {format_shard_ids(missing)} (no heartbeat)")
    for age, shards in sorted(stale.items()):
        problems.append(f"stale {format_shard_ids(shards)} (last heartbeat {age}s ago)")
    if disconnected:
        problems.append(f"disconnected {format_shard_ids(disconnected)}")
    detail = f"shards of {layout}: " + "; ".join(problems)
    return CheckResult("gateway", "error", latency_ms, detail)


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
