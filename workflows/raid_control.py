"""Client-side calls on a guild's lockdown, shared by the gateway, the commands and the API."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import Priority
from temporalio.service import RPCError

from domain.lockdown import RaidReport, UnlockRequest
from domain.priority import LOCKDOWN
from workflows.raid import (
    REPORT_SIGNAL,
    UNLOCK_SIGNAL,
    LockdownStatus,
    RaidLockdownInput,
    RaidLockdownWorkflow,
    raid_workflow_id,
)
from workflows.running import workflow_gone


async def start_lockdown(
    client: Client,
    task_queue: str,
    inp: RaidLockdownInput,
    report: RaidReport,
) -> WorkflowHandle[Any, Any]:
    """Signal-with-start the guild's lockdown (a running one just gets the report)."""
    return await client.start_workflow(
        RaidLockdownWorkflow.run,
        inp,
        id=raid_workflow_id(inp.guild_id),
        task_queue=task_queue,
        start_signal=REPORT_SIGNAL,
        start_signal_args=[report],
        priority=Priority(priority_key=LOCKDOWN),
    )


async def unlock(client: Client, guild_id: int, req: UnlockRequest) -> bool:
    """Ask the guild's lockdown to lift; False when none is running."""
    handle = client.get_workflow_handle(raid_workflow_id(guild_id))
    try:
        status: LockdownStatus = await handle.query(RaidLockdownWorkflow.status)
        if not status.active:
            return False
        await handle.signal(UNLOCK_SIGNAL, req)
    except RPCError as exc:
        if workflow_gone(exc):
            return False
        raise
    return True


async def lockdown_status(client: Client, guild_id: int) -> LockdownStatus | None:
    """The running (or lifting) lockdown of a guild, or None."""
    handle = client.get_workflow_handle(raid_workflow_id(guild_id))
    try:
        desc = await handle.describe()
        if desc.status is None or desc.status.name != "RUNNING":
            return None
        status: LockdownStatus = await handle.query(RaidLockdownWorkflow.status)
    except RPCError as exc:
        if workflow_gone(exc):
            return None
        raise
    return status
