"""Ways a workflow awaits an activity it can live without: the failure is logged, not raised.

Shared by the raid lockdown and anti-nuke workflows, whose Telegram messages, mod-log posts and
restore steps must never stop the rest of the process.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

HELPER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


async def optional(call: Awaitable[Any], what: str) -> Any:
    """The activity's result, or None once its retries are spent."""
    try:
        return await call
    except ActivityError as err:
        workflow.logger.warning("%s failed: %s", what, err.cause or err)
        return None


async def refusal(call: Awaitable[Any], what: str) -> str | None:
    """None when the activity succeeded, else why it failed (one line for a report)."""
    try:
        await call
    except ActivityError as err:
        cause = err.cause if err.cause is not None else err
        workflow.logger.warning("%s failed: %s", what, cause)
        return str(cause)[:200]
    return None


async def helper(name: str, arg: Any) -> Any:
    """An activity another part of the suite provides (Telegram), called by name; optional."""
    call = workflow.execute_activity(
        name, arg, start_to_close_timeout=timedelta(seconds=30), retry_policy=HELPER_RETRY
    )
    return await optional(call, name)
