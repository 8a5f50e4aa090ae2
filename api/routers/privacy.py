"""GDPR: export everything held about a member in a server, or erase it (admins only).

The erasure first stops the member's Temporal workflows (so nothing writes about them again),
then deletes and anonymises every row in one transaction, with an audit entry that records who
asked and how many rows changed, but not whom it was about. See docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CallerDep, SessionDep, _temporal
from api.errors import AUTHENTICATED, ApiError, error_responses
from storage.privacy import erase_member_audited, export_member
from storage.types import utcnow

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/servers/{server_id}/users/{user_id}",
    tags=["privacy"],
    responses=error_responses(*AUTHENTICATED),
)

UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The member's Discord id")]
WorkflowOutcome = Literal["terminated", "not_running", "unreachable"]


def member_workflow_ids(server_id: int, user_id: int) -> dict[str, str]:
    """The workflows keyed by the member: their moderation process and an anti-nuke incident."""
    return {
        "moderation": f"moderation:{server_id}:{user_id}",
        "anti_nuke": f"antinuke:{server_id}:{user_id}",
    }


async def terminate_member_workflows(
    client: Client | None, server_id: int, user_id: int
) -> dict[str, WorkflowOutcome]:
    """Terminate each running workflow of the member.

    Temporal down is reported, not fatal: the erasure is idempotent, run it again later.
    """
    ids = member_workflow_ids(server_id, user_id)
    if client is None:
        return dict.fromkeys(ids, "unreachable")
    outcomes: dict[str, WorkflowOutcome] = {}
    for name, workflow_id in ids.items():
        try:
            await asyncio.wait_for(
                client.get_workflow_handle(workflow_id).terminate(reason="GDPR erasure"),
                timeout=10,
            )
            outcomes[name] = "terminated"
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # never started, or already closed
                outcomes[name] = "not_running"
            else:
                log.warning("could not terminate a member's %s workflow: %s", name, exc.status)
                outcomes[name] = "unreachable"
        except TimeoutError:
            outcomes[name] = "unreachable"
    return outcomes


class ExportOut(BaseModel):
    """Every row that names the member, by table (an empty list: nothing held there)."""

    server_id: str
    user_id: str
    exported_at: str
    tables: dict[str, list[dict[str, Any]]]


class ErasureOut(BaseModel):
    """What the erasure changed; a repeat shows zero rows."""

    server_id: str
    user_id: str
    deleted: dict[str, int]
    anonymised: dict[str, int]
    workflows: dict[str, WorkflowOutcome]


@router.get("/export", response_model=ExportOut)
async def export(server_id: int, user_id: UserId, session: SessionDep, caller: CallerDep) -> Any:
    """One JSON document with everything the suite holds about the member in the server."""
    caller.require(server_id, "admin")
    tables = await export_member(session, server_id, user_id)
    return ExportOut(
        server_id=str(server_id),
        user_id=str(user_id),
        exported_at=utcnow().isoformat(),
        tables=tables,
    )


@router.delete("", response_model=ErasureOut)
async def erase(
    request: Request, server_id: int, user_id: UserId, session: SessionDep, caller: CallerDep
) -> ErasureOut:
    """Terminate the member's workflows, then delete or anonymise every row naming them."""
    caller.require(server_id, "admin")
    try:
        client: Client | None = (await _temporal(request)).client
    except ApiError:
        client = None
    workflows = await terminate_member_workflows(client, server_id, user_id)
    async with session.begin():
        counts = await erase_member_audited(
            session, server_id, user_id, actor=caller.name, workflows=dict(workflows)
        )
    return ErasureOut(
        server_id=str(server_id),
        user_id=str(user_id),
        deleted=counts.deleted,
        anonymised=counts.anonymised,
        workflows=workflows,
    )
