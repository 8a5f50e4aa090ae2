"""Liveness (`/health`) and readiness (`/health/ready`) of the API process and what it depends on.

Readiness answers 200 when the required checks (database, Temporal) pass and 503 otherwise; the
gateway, AI and Telegram checks are reported alongside without deciding it, since the API serves
reads without them. Both are unauthenticated (load balancers and orchestrators probe them) and
reveal no secrets: only statuses, latencies and short error descriptions.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client

from activities.health import HealthChecker
from domain.health import ready

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The API process is up."""
    return {"status": "ok"}


def health_checker(request: Request) -> HealthChecker:
    """The app's checker (tests install their own), built from the settings on first use."""
    state = request.app.state
    checker: HealthChecker | None = getattr(state, "health_checker", None)
    if checker is None:
        from dcs.settings import Settings

        async def temporal() -> Client:
            if state.temporal is None:
                from dcs.temporal import connect

                async with state.temporal_lock:
                    if state.temporal is None:
                        state.temporal = await connect(Settings())
            client: Client = state.temporal
            return client

        checker = HealthChecker(state.sessions, Settings(), temporal)
        state.health_checker = checker
    return checker


@router.get(
    "/health/ready",
    responses={503: {"description": "A required check (database or Temporal) failed."}},
)
async def ready_check(request: Request) -> JSONResponse:
    """Every check with its status (ok, error, skipped), latency and detail."""
    results = await health_checker(request).run_all()
    is_ready = ready(results)
    body: dict[str, Any] = {
        "status": "ready" if is_ready else "unready",
        "checks": [asdict(r) for r in results],
    }
    return JSONResponse(body, status_code=200 if is_ready else 503)
