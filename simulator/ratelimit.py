"""Per-route rate-limit buckets that produce Discord's X-RateLimit-* headers."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from .config import RateLimitConfig


@dataclass
class Bucket:
    """A fixed-window token bucket for one route + major parameter."""

    limit: int
    window: float
    remaining: int
    reset_at: float


@dataclass
class Decision:
    """What the limiter decided for one request."""

    headers: dict[str, str]
    limited: bool
    retry_after: float


def rate_limited_body(retry_after: float, is_global: bool = False) -> dict[str, object]:
    """The JSON body Discord sends with a 429."""
    return {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }


def rate_limited_headers(retry_after: float, scope: str = "user") -> dict[str, str]:
    """Extra headers Discord sends with a 429."""
    return {"Retry-After": str(max(math.ceil(retry_after), 0)), "X-RateLimit-Scope": scope}


class RateLimiter:
    """Computes bucket state per ``METHOD /route/template`` and major parameter."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self.buckets: dict[tuple[str, str], Bucket] = {}

    @staticmethod
    def bucket_hash(key: str) -> str:
        """Stable opaque bucket id, like Discord's X-RateLimit-Bucket."""
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def consume(self, method: str, template: str, major: str) -> Decision:
        """Take one token from the route's bucket and return headers (and 429 status)."""
        key = f"{method} {template}"
        limit, window = self.config.routes.get(key, (self.config.limit, self.config.window))
        now = time.time()
        bucket = self.buckets.get((key, major))
        if bucket is None or now >= bucket.reset_at:
            bucket = Bucket(limit, window, limit, now + window)
            self.buckets[(key, major)] = bucket
        limited = self.config.enforce and bucket.remaining <= 0
        if not limited:
            bucket.remaining = max(bucket.remaining - 1, 0)
        reset_after = max(bucket.reset_at - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(key),
        }
        return Decision(headers, limited, reset_after)

    def reset(self) -> None:
        """Forget all bucket state."""
        self.buckets.clear()
