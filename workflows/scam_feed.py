"""Refresh the scam-domain list: one activity, started every few hours by a Temporal Schedule.

The schedule (``scam-feed-refresh``) is created or updated by :func:`ensure_scam_feed_schedule`
when the worker starts, so changing ``SCAM_FEED_URL`` or ``SCAM_FEED_REFRESH_HOURS`` and
restarting the worker is all it takes. A fetch that fails is retried; a malformed feed fails
the run at once and the list in force stays as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.scam_feed import MALFORMED_FEED, RefreshScamFeedInput, ScamFeedResult

if TYPE_CHECKING:
    from temporalio.client import Client, ScheduleHandle

    from dcs.settings import Settings

SCHEDULE_ID = "scam-feed-refresh"
RUN_ID_PREFIX = "scam-feed-refresh-run"


@workflow.defn(name="ScamFeedRefresh")
class ScamFeedRefreshWorkflow:
    """Runs ``refresh_scam_feed`` once; the schedule decides how often."""

    @workflow.run
    async def run(self, inp: RefreshScamFeedInput) -> ScamFeedResult:
        """Fetch and store the feed, retrying fetch failures but never a malformed feed."""
        return await workflow.execute_activity(
            "refresh_scam_feed",
            inp,
            result_type=ScamFeedResult,
            start_to_close_timeout=timedelta(minutes=3),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=inp.retry_initial_seconds),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(minutes=10),
                maximum_attempts=inp.max_attempts,
                non_retryable_error_types=[MALFORMED_FEED],
            ),
        )


async def ensure_scam_feed_schedule(client: Client, settings: Settings) -> ScheduleHandle | None:
    """Create or update the refresh schedule; with no feed URL, remove it. Returns its handle."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
        ScheduleUpdate,
        ScheduleUpdateInput,
    )
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_schedule_handle(SCHEDULE_ID)
    url = settings.scam_feed_url.strip()
    if not url:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return None
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ScamFeedRefreshWorkflow.run,
            RefreshScamFeedInput(url=url),
            id=RUN_ID_PREFIX,
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(hours=1),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(hours=settings.scam_feed_refresh_hours))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        return await client.create_schedule(SCHEDULE_ID, schedule, trigger_immediately=True)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        return handle
