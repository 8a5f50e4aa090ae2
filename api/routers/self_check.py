"""`POST /api/servers/{id}/test`: the server's self-check (moderator role; changes nothing).

What the bot can do in the guild against what the config needs (permissions, channels, roles),
and whether the database, the gateway, Telegram, the AI providers, Temporal and the server's
schedules and workflows answer. See docs/self-check.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from temporalio.client import Client

from api.deps import CallerDep
from api.errors import AUTHENTICATED, error_responses
from api.routers.oauth import settings_of
from dcs.self_check import SelfCheck

router = APIRouter(
    prefix="/api/servers/{server_id}", tags=["servers"], responses=error_responses(*AUTHENTICATED)
)

Status = Literal["ok", "warn", "fail"]


class CheckOut(BaseModel):
    """One check: `fix` says what to do when it is not ok."""

    name: str
    status: Status
    detail: str
    fix: str


class SelfCheckOut(BaseModel):
    """The self-check: the worst status overall, and every check."""

    server_id: str
    status: Status
    checked_at: datetime
    checks: list[CheckOut]


def self_checker(request: Request) -> SelfCheck:
    """The app's self-check service (tests install their own), built on first use."""
    state = request.app.state
    checker: SelfCheck | None = getattr(state, "self_check", None)
    if checker is None:
        settings = settings_of(request)

        async def temporal() -> Client:
            if state.temporal is None:
                from dcs.temporal import connect

                async with state.temporal_lock:
                    if state.temporal is None:
                        state.temporal = await asyncio.wait_for(connect(settings), timeout=5)
            client: Client = state.temporal
            return client

        checker = state.self_check = SelfCheck(settings, state.sessions, temporal)
    return checker


@router.post("/test", response_model=SelfCheckOut)
async def self_check(
    server_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The server's Discord id")],
    request: Request,
    caller: CallerDep,
) -> SelfCheckOut:
    """Run the server's self-check: overall ok/warn/fail and every check with a fix hint.

    Read-only everywhere: Discord gets GET requests only. A failing check is a 200 with
    `status: fail`, not an error.
    """
    caller.require(server_id, "moderator")
    report = await self_checker(request).run(server_id)
    return SelfCheckOut(
        server_id=str(server_id),
        status=report.status,
        checked_at=datetime.now(UTC),
        checks=[
            CheckOut(name=f.name, status=f.status, detail=f.detail, fix=f.fix)
            for f in report.findings
        ],
    )
