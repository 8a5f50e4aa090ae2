"""Fault injection: answer the next N matching REST requests with a chosen error."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from .ratelimit import rate_limited_body, rate_limited_headers

_DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
    504: (0, "504: Gateway Timeout"),
}


@dataclass
class FaultRule:
    """Match ``method`` (None = any) and ``path`` regex (searched in the API-relative path)."""

    id: int
    method: str | None
    path: str
    status: int
    remaining: int
    retry_after: float = 1.0
    is_global: bool = False
    code: int | None = None
    message: str | None = None
    body: dict[str, Any] | None = None
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        """Whether this still-armed rule applies to the request."""
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return bool(self._pattern.search(path))

    def response(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and extra headers for one injected failure."""
        if self.status == 429:
            body = self.body or rate_limited_body(self.retry_after, self.is_global)
            scope = "global" if self.is_global else "user"
            headers = rate_limited_headers(self.retry_after, scope)
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            return 429, body, headers
        code, message = _DEFAULT_ERRORS.get(self.status, (0, f"{self.status}: Error"))
        body = self.body or {
            "code": self.code if self.code is not None else code,
            "message": self.message or message,
        }
        return self.status, body, {}

    def describe(self) -> dict[str, Any]:
        """JSON view of the rule for the control API."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "remaining": self.remaining,
            "hits": self.hits,
            "retry_after": self.retry_after,
            "global": self.is_global,
        }


class FaultInjector:
    """Holds armed rules; the first armed match wins and is decremented."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(
        self,
        path: str,
        status: int,
        *,
        method: str | None = None,
        count: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
        code: int | None = None,
        message: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> FaultRule:
        """Arm a rule answering the next ``count`` matching requests with ``status``."""
        if not 400 <= status <= 599:
            raise ValueError("fault status must be a 4xx or 5xx code")
        rule = FaultRule(
            id=next(self._ids),
            method=method,
            path=path,
            status=status,
            remaining=count,
            retry_after=retry_after,
            is_global=is_global,
            code=code,
            message=message,
            body=body,
        )
        self.rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return (and consume one use of) the first rule matching the request."""
        for rule in self.rules:
            if rule.matches(method, path):
                rule.remaining -= 1
                rule.hits += 1
                return rule
        return None

    def clear(self) -> None:
        """Disarm every rule."""
        self.rules.clear()
