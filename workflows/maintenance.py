"""The suite's housekeeping as Temporal Schedules, created idempotently when the worker starts.

- `maintenance:retention` (daily): members' words older than 30 days and moderation-log details
  older than 90 days are erased; cases, counts and decisions stay.
- `maintenance:rollup-daily` (daily): whole-day analytics totals from the hourly buckets.
- `maintenance:rollup-hourly` (hourly): the analytics metrics derived from source tables (cases,
  tickets, event attendance) recomputed for the last few hours (docs/analytics.md).
- `maintenance:approval-alerts` (every 5 minutes): approvals pending past their server's alert
  threshold whose member workflow did not alert (it died, or the approval is raid/anti-nuke's)
  are reported through the approval path's own alert activities, once each.

Each workflow is thin: `workflow.now()` goes into idempotent activities.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.analytics import AnalyticsActivities, HourlyRollupInput
    from activities.approval_records import ApprovalRecordActivities, MarkAlertedInput
    from activities.maintenance import (
        MaintenanceActivities,
        OverdueInput,
        RetentionInput,
        RetentionPolicy,
        RetentionResult,
        RollupInput,
    )
    from activities.moderation_actions import AlertInput, ModerationActions
    from domain.approvals import TELEGRAM_ALERT, StaffAlert

if TYPE_CHECKING:
    from temporalio.client import Client

RETENTION_ID = "maintenance:retention"
ROLLUP_ID = "maintenance:rollup-daily"
ROLLUP_HOURLY_ID = "maintenance:rollup-hourly"
APPROVAL_ALERTS_ID = "maintenance:approval-alerts"

_DB = timedelta(minutes=10)
_SEND = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=1))


@workflow.defn(name="MaintenanceRetention")
class RetentionWorkflow:
    """Apply the retention policy once."""

    @workflow.run
    async def run(self, policy: RetentionPolicy) -> RetentionResult:
        """Erase what is older than the policy's windows, relative to this run's start."""
        inp = RetentionInput(workflow.now(), policy.message_days, policy.log_days)
        return await workflow.execute_activity_method(
            MaintenanceActivities.apply_retention, inp, start_to_close_timeout=_DB
        )


@workflow.defn(name="MaintenanceRollupDaily")
class RollupWorkflow:
    """Write the whole-day analytics totals once."""

    @workflow.run
    async def run(self, days_back: int) -> int:
        """Roll up the last `days_back` complete UTC days."""
        return await workflow.execute_activity_method(
            MaintenanceActivities.roll_up_analytics,
            RollupInput(workflow.now(), days_back),
            start_to_close_timeout=_DB,
        )


@workflow.defn(name="MaintenanceRollupHourly")
class HourlyRollupWorkflow:
    """Recompute the recent hours' analytics from the source tables once."""

    @workflow.run
    async def run(self, hours_back: int) -> int:
        """The current UTC hour and the `hours_back` before it."""
        return await workflow.execute_activity_method(
            AnalyticsActivities.roll_up_hours,
            HourlyRollupInput(workflow.now(), hours_back),
            start_to_close_timeout=_DB,
        )


@workflow.defn(name="MaintenanceApprovalAlerts")
class ApprovalAlertsWorkflow:
    """Alert the staff about approvals pending too long, each once."""

    @workflow.run
    async def run(self, grace_minutes: int) -> int:
        """Returns how many alerts this run sent."""
        overdue = await workflow.execute_activity_method(
            MaintenanceActivities.find_overdue_approvals,
            OverdueInput(workflow.now(), grace_minutes),
            start_to_close_timeout=_DB,
        )
        sent = 0
        for a in overdue.approvals:
            first = await workflow.execute_activity_method(
                ApprovalRecordActivities.mark_approval_alerted,
                MarkAlertedInput(a.approval_id, workflow.now()),
                start_to_close_timeout=_DB,
            )
            if not first:  # the member's workflow (or an earlier run) already told them
                continue
            sent += 1
            await self._optional(TELEGRAM_ALERT, StaffAlert(a.guild_id, a.text, a.approval_id))
            if a.mod_log_channel_id is not None:
                await self._optional(
                    ModerationActions.post_alert,
                    AlertInput(a.mod_log_channel_id, a.text, f"alert:{a.approval_id}"),
                )
        return sent

    async def _optional(self, activity: Any, arg: Any) -> None:
        """A notice the claim does not depend on: a failure is logged, the sweep goes on."""
        try:
            await workflow.execute_activity(
                activity, arg, start_to_close_timeout=timedelta(seconds=60), retry_policy=_SEND
            )
        except ActivityError as err:
            workflow.logger.warning("approval alert failed: %s", err)


async def ensure_maintenance_schedules(
    client: Client,
    task_queue: str,
    retention: RetentionPolicy | None = None,
) -> None:
    """Create the schedules, or bring existing ones up to date (safe on every start)."""
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

    def daily(at: str) -> ScheduleSpec:
        return ScheduleSpec(cron_expressions=[at], time_zone_name="UTC")

    wanted: list[tuple[str, Any, Any, ScheduleSpec]] = [
        (
            RETENTION_ID,
            RetentionWorkflow.run,
            retention or RetentionPolicy(),
            daily("15 3 * * *"),
        ),
        (ROLLUP_ID, RollupWorkflow.run, 3, daily("20 0 * * *")),
        (
            ROLLUP_HOURLY_ID,
            HourlyRollupWorkflow.run,
            3,
            ScheduleSpec(cron_expressions=["5 * * * *"], time_zone_name="UTC"),
        ),
        (
            APPROVAL_ALERTS_ID,
            ApprovalAlertsWorkflow.run,
            5,
            ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=5))]),
        ),
    ]
    for schedule_id, run, arg, spec in wanted:
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                run,
                arg,
                id=schedule_id,
                task_queue=task_queue,
                execution_timeout=timedelta(hours=1),
            ),
            spec=spec,
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)
            ),
        )
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(old: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                """The new definition; an operator's pause (and note) stays."""
                return ScheduleUpdate(
                    schedule=dataclasses.replace(new, state=old.description.schedule.state)
                )

            await client.get_schedule_handle(schedule_id).update(replace)
