"""One run of a scheduled announcement: the short workflow each `announce:{guild}:{n}` starts.

The schedule holds the timing (cron, interval or one instant, in its time zone) and pausing;
this workflow only posts, so it is a single activity call with Discord's retry policy.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.announcements import AnnouncementActivities, PostInput
    from domain.announcements import AnnouncementRun, PostResult

_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


@workflow.defn(name="Announcement")
class AnnouncementWorkflow:
    """Posts the announcement once; the run's workflow id keys the post's nonce."""

    @workflow.run
    async def run(self, inp: AnnouncementRun) -> PostResult:
        """Post it, retrying Discord's transient failures."""
        return await workflow.execute_activity_method(
            AnnouncementActivities.post_announcement,
            PostInput(inp.guild_id, inp.number, workflow.info().workflow_id),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_RETRY,
        )
