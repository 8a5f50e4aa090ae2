"""Every REST request the bot made, so tests can assert on routes, bodies and outcomes."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote


@dataclass
class RecordedRequest:
    """One REST request and the status the simulator answered with."""

    method: str
    path: str
    route: str | None
    json: Any
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    timestamp: float
    response: Any = None
    injected: bool = False

    @property
    def reason(self) -> str | None:
        """The decoded X-Audit-Log-Reason header, if any."""
        raw = self.headers.get("X-Audit-Log-Reason")
        return unquote(raw) if raw is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON view for the control API."""
        return asdict(self)


class RequestLog:
    """Bounded, filterable log of recorded requests."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)

    def add(self, item: RecordedRequest) -> None:
        """Append a request."""
        self._items.append(item)

    def filter(
        self, method: str | None = None, route: str | None = None, status: int | None = None
    ) -> list[RecordedRequest]:
        """Requests matching method, route template and/or status (None = any)."""
        return [
            r
            for r in self._items
            if (method is None or r.method == method.upper())
            and (route is None or r.route == route)
            and (status is None or r.status == status)
        ]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
