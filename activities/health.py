"""The readiness checks, shared by `GET /health/ready` and the five-minute health-check schedule.

Every check is cheap and bounded by CHECK_TIMEOUT_S: a `SELECT 1`, Temporal's GetSystemInfo, the
gateway processes' heartbeat rows (one per shard group), the AI configuration (paid APIs are
never called from a probe: the health-check schedule records the worker's last AI outcome in a
health mark instead), and a Telegram `getMe` whose answer is cached for TELEGRAM_CACHE_S.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from dcs import metrics
from dcs.settings import Settings
from domain.health import CheckResult, gateway_result
from storage.health import (
    alerted_checks,
    claim_alert,
    clear_alert,
    gateway_marks,
    get_mark,
    put_mark,
)

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0
TELEGRAM_CACHE_S = 60.0
AI_MARK = "ai"
"""Health mark holding the worker's last AI outcome per provider (written by the schedule)."""
AI_ERROR_WINDOW = timedelta(minutes=15)
"""A provider whose last call failed within this window makes the `ai` check an error."""

TemporalGetter = Callable[[], Awaitable[Client]]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _describe(exc: BaseException) -> str:
    """A short, secret-free description (exception type and its first line)."""
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class HealthChecker:
    """Runs the checks for one process; keeps the Telegram answer cached between probes."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        temporal: TemporalGetter,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._temporal = temporal
        self._http = http
        self._telegram_cache: tuple[float, CheckResult] | None = None

    async def run_all(self) -> list[CheckResult]:
        """Every check, concurrently; each one's failure is its own result, never an exception."""
        results = await asyncio.gather(
            self.database(), self.temporal(), self.gateway(), self.ai(), self.telegram()
        )
        for r in results:
            metrics.HEALTH_CHECK.labels(r.name).set(0 if r.status == "error" else 1)
        return list(results)

    async def database(self) -> CheckResult:
        """`SELECT 1` on the suite's database."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            return CheckResult("database", "error", _ms(start), _describe(exc))
        return CheckResult("database", "ok", _ms(start))

    async def temporal(self) -> CheckResult:
        """The Temporal frontend answers GetSystemInfo (connecting first if need be)."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                client = await self._temporal()
                await client.workflow_service.get_system_info(
                    GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT_S)
                )
        except Exception as exc:
            return CheckResult("temporal", "error", _ms(start), _describe(exc))
        return CheckResult("temporal", "ok", _ms(start))

    async def gateway(self) -> CheckResult:
        """Every gateway process's heartbeat is fresh and connected (each shard id, when sharded).

        The decision, including which shard layout is current, is `domain.health.gateway_result`.
        """
        start = time.perf_counter()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), self._sessions() as session:
                marks = await gateway_marks(session)
        except Exception as exc:
            return CheckResult("gateway", "error", _ms(start), _describe(exc))
        return gateway_result(marks, datetime.now(UTC), _ms(start))

    async def ai(self) -> CheckResult:
        """Providers configured, and the last AI failure the worker saw (no provider is called)."""
        from activities.ai_review import provider_order

        start = time.perf_counter()
        providers = provider_order(self._settings)
        if not providers:
            return CheckResult("ai", "skipped", _ms(start), "no provider key: local classifier")
        configured = "configured: " + ", ".join(providers)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), self._sessions() as session:
                mark = await get_mark(session, AI_MARK)
        except Exception as exc:
            return CheckResult("ai", "error", _ms(start), _describe(exc))
        if mark is None or not mark.detail:
            return CheckResult("ai", "ok", _ms(start), configured)
        recent = datetime.now(UTC) - mark.at <= AI_ERROR_WINDOW
        failing = recent and mark.detail.startswith("failing")
        detail = f"{configured}; {mark.detail}"
        return CheckResult("ai", "error" if failing else "ok", _ms(start), detail)

    async def telegram(self) -> CheckResult:
        """`getMe` on the Bot API, cached for TELEGRAM_CACHE_S (it is polled every probe)."""
        from approvals.telegram_config import telegram_endpoint

        endpoint = telegram_endpoint(self._settings)
        if endpoint is None:
            return CheckResult("telegram", "skipped", 0.0, "not configured")
        cached = self._telegram_cache
        if cached is not None and time.monotonic() - cached[0] < TELEGRAM_CACHE_S:
            return cached[1]
        start = time.perf_counter()
        url = f"{endpoint.bot_base_url}{endpoint.token}/getMe"
        try:
            if self._http is not None:
                resp = await self._http.get(url, timeout=CHECK_TIMEOUT_S)
            else:
                async with httpx.AsyncClient() as http:
                    resp = await http.get(url, timeout=CHECK_TIMEOUT_S)
            ok = resp.status_code == 200 and bool(resp.json().get("ok"))
            result = CheckResult(
                "telegram",
                "ok" if ok else "error",
                _ms(start),
                "" if ok else f"getMe answered {resp.status_code}",
            )
        except Exception as exc:  # the URL holds the token: describe by type only
            result = CheckResult("telegram", "error", _ms(start), type(exc).__name__)
        self._telegram_cache = (time.monotonic(), result)
        return result


def ai_outcome_detail() -> str:
    """The process's last AI outcome per provider, from the metrics' in-process record.

    "failing: anthropic (TimeoutError)" when every provider's latest call failed, else
    "last calls ok" (or "" when this process made no AI call since it started).
    """
    outcomes = dict(metrics.LAST_AI_OUTCOME)
    if not outcomes:
        return ""
    failing = {p: err for p, (_at, err) in outcomes.items() if err}
    if failing and len(failing) == len(outcomes):
        return "failing: " + ", ".join(f"{p} ({e})" for p, e in sorted(failing.items()))
    if failing:
        return "last call failed: " + ", ".join(f"{p} ({e})" for p, e in sorted(failing.items()))
    return "last calls ok"


@dataclass(frozen=True)
class HealthReport:
    """Every check's result (the schedule's activity returns it to its workflow)."""

    checks: list[CheckResult]


@dataclass(frozen=True)
class AlertMarkInput:
    """Which checks to mark as alerted (first claim wins) or clear (recovered)."""

    alert: list[CheckResult]
    recovered: list[str]
    at: datetime


class HealthActivities:
    """The health-check schedule's activities (run in the worker)."""

    def __init__(self, checker: HealthChecker, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._checker = checker
        self._sessions = sessions
        self._alerted_in_memory: set[str] = set()
        """Fallback while the database is down: this worker's own memory of alerted checks."""

    @activity.defn(name="run_health_checks")
    async def run_health_checks(self) -> HealthReport:
        """Run every check; also record the worker's last AI outcome for the API's probe."""
        detail = ai_outcome_detail()
        if detail:
            try:
                async with self._sessions() as session, session.begin():
                    await put_mark(session, AI_MARK, datetime.now(UTC), detail)
            except Exception:  # the database check below reports the cause
                log.warning("could not record the AI outcome", exc_info=True)
        return HealthReport(await self._checker.run_all())

    @activity.defn(name="health_alerted_checks")
    async def alerted(self) -> list[str]:
        """Checks alerted about and not recovered since (this worker's memory if the DB is down)."""
        try:
            async with self._sessions() as session:
                return sorted(await alerted_checks(session))
        except Exception:  # the database check reports it; alerts must still go out once
            log.warning("health marks unreadable; using this worker's memory", exc_info=True)
            return sorted(self._alerted_in_memory)

    @activity.defn(name="mark_health_alerts")
    async def mark_alerts(self, inp: AlertMarkInput) -> list[str]:
        """Claim the alerts (returns the checks this run must announce) and clear recovered ones.

        Claimed in one transaction before anything is sent, so two overlapping runs never both
        announce a check; a database error is retried by Temporal.
        """
        self._alerted_in_memory -= set(inp.recovered)
        claimed = []
        try:
            async with self._sessions() as session, session.begin():
                for name in inp.recovered:
                    await clear_alert(session, name)
                for result in inp.alert:
                    if await claim_alert(session, result.name, inp.at, result.detail):
                        claimed.append(result.name)
        except Exception:  # database down: dedupe in this worker's memory instead
            log.warning("health marks unwritable; using this worker's memory", exc_info=True)
            claimed = [r.name for r in inp.alert if r.name not in self._alerted_in_memory]
        self._alerted_in_memory |= {r.name for r in inp.alert}
        return claimed
