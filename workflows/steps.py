"""Ways a workflow awaits an activity it can live without: the failure is logged, not raised.

Shared by the raid lockdown and anti-nuke workflows, whose Telegram messages, mod-log posts and
restore steps must never stop the rest of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.webhooks import WebhookEventInput

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


WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
)
WEBHOOK_PATCH = "webhooks-v1"
SETTLE_WEBHOOKS = timedelta(minutes=1)


def webhook(
    guild_id: int,
    event: str,
    key: str,
    data: dict[str, Any],
    *,
    activity: str = "deliver_webhooks",
) -> asyncio.Future[Any]:
    """Send an event to the server's outgoing webhooks in the background; the task is returned.

    Callers guard the call with `workflow.patched(WEBHOOK_PATCH)` so running workflows replay.
    The delivery id is the workflow id plus `key`, stable across retries and replays. It runs
    beside the workflow (a receiver that is down for minutes must not hold up a ticket close);
    a caller about to end awaits the task, as retries stop when the workflow closes.
    """
    inp = WebhookEventInput(guild_id, event, f"{workflow.info().workflow_id}:{key}", data)
    call = workflow.execute_activity(
        activity,
        inp,
        start_to_close_timeout=timedelta(seconds=60),
        schedule_to_close_timeout=timedelta(minutes=30),
        retry_policy=WEBHOOK_RETRY,
    )
    return asyncio.ensure_future(optional(call, f"webhooks {event}"))


async def settle_webhooks(deliveries: list[asyncio.Future[Any]]) -> None:
    """Before a run ends or continues as new, let its deliveries finish for up to a minute.

    An activity still running when its run closes is abandoned (and the time-skipping test server
    cannot continue a run as new over one); a receiver down for longer loses that event.
    """
    pending = [d for d in deliveries if not d.done()]
    deliveries.clear()
    if pending:
        try:
            await workflow.wait_condition(
                lambda: all(d.done() for d in pending), timeout=SETTLE_WEBHOOKS
            )
        except TimeoutError:
            workflow.logger.warning(
                "%d webhook deliveries abandoned at the run's end", len(pending)
            )


async def helper(name: str, arg: Any) -> Any:
    """An activity another part of the suite provides (Telegram), called by name; optional."""
    call = workflow.execute_activity(
        name, arg, start_to_close_timeout=timedelta(seconds=30), retry_policy=HELPER_RETRY
    )
    return await optional(call, name)
