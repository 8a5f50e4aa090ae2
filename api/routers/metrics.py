"""`GET /metrics`: this process's Prometheus metrics, with the pending-approval gauges refreshed.

Open by default, like most exporters: it shows counts and latencies, no ids, no content. Set
METRICS_TOKEN to require `Authorization: Bearer <token>`, or METRICS_API_ENABLED=false to answer
404 (the worker and gateway expose theirs on METRICS_PORT_WORKER / METRICS_PORT_GATEWAY).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError
from dcs import metrics
from storage.models import PendingApproval

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@dataclass(frozen=True)
class MetricsAccess:
    """Whether `/metrics` is served, and the bearer token it requires (None: open)."""

    enabled: bool = True
    token: str | None = None


def metrics_access(request: Request) -> MetricsAccess:
    """The app's access rule (tests install their own), read from the settings on first use."""
    access: MetricsAccess | None = getattr(request.app.state, "metrics_access", None)
    if access is None:
        from dcs.settings import Settings

        settings = Settings()
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        access = MetricsAccess(settings.metrics_api_enabled, token)
        request.app.state.metrics_access = access
    return access


async def refresh_approval_gauges(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Count pending approvals and the oldest one's age (one indexed aggregate query)."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.min(PendingApproval.created_at)).where(
                    PendingApproval.status == "pending"
                )
            )
        ).one()
    count, oldest = int(row[0]), row[1]
    metrics.PENDING_APPROVALS.set(count)
    if oldest is None:
        metrics.OLDEST_PENDING_SECONDS.set(0)
    else:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - oldest).total_seconds()
        metrics.OLDEST_PENDING_SECONDS.set(max(age, 0.0))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def prometheus_metrics(request: Request) -> Response:
    """Every metric of this process in the Prometheus text exposition format."""
    access = metrics_access(request)
    if not access.enabled:
        raise ApiError(404, "not_found", "Metrics are turned off (METRICS_API_ENABLED=false).")
    if access.token is not None:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {access.token}".encode()):
            raise ApiError(401, "unauthorized", "A valid metrics token is required.")
    try:
        await refresh_approval_gauges(request.app.state.sessions)
    except Exception:  # the scrape still answers; readiness reports the database
        log.warning("could not refresh the approval gauges", exc_info=True)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
