"""FastAPI dependencies as Annotated aliases: the database session, the caller's token, Temporal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.auth import Caller, authenticate
from api.errors import ApiError

log = logging.getLogger(__name__)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
CallerDep = Annotated[Caller, Depends(authenticate)]


@dataclass(frozen=True)
class Temporal:
    """The Temporal client and the task queue the suite's worker polls."""

    client: Client
    task_queue: str


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


TemporalDep = Annotated[Temporal, Depends(_temporal)]
