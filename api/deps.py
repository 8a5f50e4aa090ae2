"""FastAPI dependencies as Annotated aliases: the database session, the caller's token, Temporal."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.auth import Caller, authenticate, read_only, request_session
from api.errors import ApiError

log = logging.getLogger(__name__)

__all__ = ["CallerDep", "SessionDep", "Temporal", "TemporalDep", "read_only"]

_session = request_session  # the same callable as authenticate's: one session per request
SessionDep = Annotated[AsyncSession, Depends(_session)]
CallerDep = Annotated[Caller, Depends(authenticate)]


@dataclass(frozen=True)
class Temporal:
    """The Temporal client and the task queue the suite's worker polls.

    Built with `unavailable` instead of a client when Temporal could not be reached: reading
    `client` raises that 503 then, so the endpoint's own checks (role, scope, 404s) answer first.
    """

    _client: Client | None
    task_queue: str
    unavailable: ApiError | None = None

    @property
    def client(self) -> Client:
        """The connected client, or the 503 saying Temporal cannot be reached."""
        if self._client is None:
            raise self.unavailable or ApiError(503, "unavailable", "Temporal is not connected.")
        return self._client


async def _temporal(request: Request) -> Temporal:
    """The app's Temporal client; connected on first use from the settings when none was given.

    Reads never need Temporal, so the API starts (and serves them) while Temporal is down; a call
    that must signal a workflow answers 503 until it is back.
    """
    state = request.app.state
    if state.temporal is None or state.task_queue is None:
        async with state.temporal_lock:
            from dcs.settings import Settings
            from dcs.temporal import connect

            try:
                settings = Settings()
                if state.temporal is None:
                    state.temporal = await asyncio.wait_for(connect(settings), timeout=10)
            except Exception as exc:
                log.warning("Temporal unreachable: %s", exc)
                raise ApiError(
                    503,
                    "unavailable",
                    "The moderation service (Temporal) cannot be reached; try again shortly.",
                ) from exc
            state.task_queue = state.task_queue or settings.temporal_task_queue
    return Temporal(state.temporal, state.task_queue)


async def _temporal_when_used(request: Request) -> Temporal:
    """`_temporal`, with the 503 deferred to the endpoint's first use of `client`.

    Dependencies resolve before the endpoint's body, where the role and scope are checked
    (`caller.require`): raising here would answer a viewer's write with 503 while Temporal is
    down instead of 403. Every endpoint checks the caller before it touches the client.
    """
    try:
        return await _temporal(request)
    except ApiError as exc:
        return Temporal(None, request.app.state.task_queue or "", unavailable=exc)


TemporalDep = Annotated[Temporal, Depends(_temporal_when_used)]
