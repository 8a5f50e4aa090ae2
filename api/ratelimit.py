"""Per-token rate limits and failed-authentication accounting for the management API.

Both live in memory per API process (a restart forgets them): they protect the process and make
brute force visible; they are not a quota shared between several API replicas.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from dcs import metrics

log = logging.getLogger("dcs.security")

FAILURE_WINDOW_SECONDS = 600.0


class RateLimited(ApiError):
    """429 with the seconds to wait; rendered in the API's single error format plus Retry-After."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            "rate_limited",
            f"Too many requests for this token; retry in {self.retry_after} s.",
            {"retry_after": self.retry_after},
        )


@dataclass
class TokenBucket:
    """`capacity` requests at once, refilled at capacity per minute (a steady rate with bursts)."""

    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a request may pass (and is counted), else the seconds until one may."""
        rate = self.capacity / 60.0
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


@dataclass
class RateLimiter:
    """One bucket per API token id; the bucket size is the per-minute limit of the token's role."""

    per_minute: int = 120
    admin_per_minute: int = 300
    _buckets: dict[int, TokenBucket] = field(default_factory=dict)

    def limit_for(self, role: str) -> int:
        """Requests per minute (and burst size) for a role."""
        return self.admin_per_minute if role == "admin" else self.per_minute

    def check(self, token_id: int, role: str, *, now: float | None = None) -> None:
        """Count one request of the token or raise RateLimited."""
        current = time.monotonic() if now is None else now
        bucket = self._buckets.get(token_id)
        if bucket is None:
            limit = float(self.limit_for(role))
            bucket = self._buckets[token_id] = TokenBucket(limit, limit, current)
        wait = bucket.take(current)
        if wait > 0:
            raise RateLimited(wait)


@dataclass
class AuthFailures:
    """Failed authentications per client IP and per token prefix within a sliding window.

    Reaching `threshold` failures for one key logs one WARNING alert per window (the key is an IP
    or the token's first 8 characters, never the secret), so an operator's log alerting sees
    a brute-force attempt without the log leaking what was tried.
    """

    threshold: int = 20
    window: float = FAILURE_WINDOW_SECONDS
    _events: dict[str, deque[float]] = field(default_factory=dict)
    _alerted: dict[str, float] = field(default_factory=dict)
    max_keys: int = 10_000

    def record(self, *, client: str, token_prefix: str | None, now: float | None = None) -> bool:
        """Count one failure; True when it raised an alert."""
        current = time.monotonic() if now is None else now
        keys = [f"ip:{client}"] + ([f"token:{token_prefix}"] if token_prefix else [])
        alerted = False
        for key in keys:
            if key not in self._events and len(self._events) >= self.max_keys:
                self._events.pop(next(iter(self._events)))  # forget the oldest key, stay bounded
            events = self._events.setdefault(key, deque())
            events.append(current)
            while events and current - events[0] > self.window:
                events.popleft()
            last = self._alerted.get(key)
            if len(events) >= self.threshold and (last is None or current - last > self.window):
                self._alerted[key] = current
                log.warning(
                    "ALERT: %d failed API authentications from %s in %d s",
                    len(events),
                    key,
                    int(self.window),
                )
                alerted = True
        return alerted

    def count(self, key: str) -> int:
        """Failures of a key (`ip:…` or `token:…`) still in the window."""
        return len(self._events.get(key, ()))


def _settings_limits() -> tuple[int, int, int]:
    """The limits from the settings; their defaults if the settings cannot be read (no 500s)."""
    from dcs.settings import Settings

    try:
        s = Settings()
    except ValueError as exc:
        log.warning("settings unreadable, default API rate limits apply: %s", exc)
        return 120, 300, 20
    return (
        s.api_rate_limit_per_minute,
        s.api_rate_limit_admin_per_minute,
        s.api_auth_failure_alert_threshold,
    )


def _ensure(app: FastAPI) -> None:
    state = app.state
    missing = getattr(state, "rate_limiter", None) is None
    if missing or getattr(state, "auth_failures", None) is None:
        per_minute, admin, threshold = _settings_limits()
        if getattr(state, "rate_limiter", None) is None:
            state.rate_limiter = RateLimiter(per_minute, admin)
        if getattr(state, "auth_failures", None) is None:
            state.auth_failures = AuthFailures(threshold)


def check_rate(request: Request, token_id: int, role: str) -> None:
    """The app's limiter for this request (built from the settings on first use)."""
    _ensure(request.app)
    try:
        request.app.state.rate_limiter.check(token_id, role)
    except RateLimited:
        metrics.API_RATE_LIMITED.labels(role).inc()
        raise


def record_auth_failure(request: Request, token: str, reason: str) -> None:
    """Count and log a refused credential: the client, the token's prefix and why, no secret."""
    _ensure(request.app)
    client = request.client.host if request.client else "unknown"
    prefix = token[:8] if token else None
    log.warning(
        "API authentication failed from %s (token prefix %s): %s", client, prefix or "-", reason
    )
    request.app.state.auth_failures.record(client=client, token_prefix=prefix)
    metrics.API_AUTH_FAILURES.labels(reason).inc()


def install_rate_limit_handler(app: FastAPI) -> None:
    """Render RateLimited like every ApiError, adding Retry-After (a subclass handler wins)."""

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(exc.retry_after)})
