"""`maintenance:health-check`: the spec's five-minute health check as a Temporal Schedule.

Each run checks the database, Temporal, the gateway's heartbeat, AI and Telegram (the same checks
as `GET /health/ready`) and alerts the staff in the Telegram approvals chat about each newly
failing check, once: the check is marked in `health_marks` and alerted again only after it has
recovered. Health is suite-wide, so the alert goes to Telegram, not to one server's mod-log.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.health import AlertMarkInput, HealthActivities
    from domain.approvals import TELEGRAM_ALERT, StaffAlert
    from domain.health import alert_text, plan_alerts

if TYPE_CHECKING:
    from temporalio.client import Client

HEALTH_CHECK_ID = "maintenance:health-check"
INTERVAL = timedelta(minutes=5)

_CHECKS = timedelta(seconds=60)
_DB_RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=10))
_SEND = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=30))
SUITE_ALERT_GUILD = 0
"""StaffAlert's guild id for a suite-wide alert (no server is concerned)."""


@dataclasses.dataclass(frozen=True)
class HealthCheckResult:
    """What one run found and did."""

    failing: list[str]
    alerted: list[str]
    recovered: list[str]


@workflow.defn(name="MaintenanceHealthCheck")
class HealthCheckWorkflow:
    """Run the checks once; alert newly failing ones, forget recovered ones."""

    @workflow.run
    async def run(self) -> HealthCheckResult:
        """Returns the failing checks, the ones alerted by this run and the recovered ones."""
        report = await workflow.execute_activity_method(
            HealthActivities.run_health_checks, start_to_close_timeout=_CHECKS
        )
        alerted = await workflow.execute_activity_method(
            HealthActivities.alerted, start_to_close_timeout=_CHECKS, retry_policy=_DB_RETRY
        )
        plan = plan_alerts(report.checks, set(alerted))
        claimed: list[str] = []
        if plan.alert or plan.recovered:
            claimed = await workflow.execute_activity_method(
                HealthActivities.mark_alerts,
                AlertMarkInput(list(plan.alert), list(plan.recovered), workflow.now()),
                start_to_close_timeout=_CHECKS,
                retry_policy=_DB_RETRY,
            )
        for result in plan.alert:
            if result.name in claimed:
                workflow.logger.warning("health check failing: %s", alert_text(result))
                if not await self._alert(alert_text(result)):  # untold: let the next run retry
                    await workflow.execute_activity_method(
                        HealthActivities.mark_alerts,
                        AlertMarkInput([], [result.name], workflow.now()),
                        start_to_close_timeout=_CHECKS,
                        retry_policy=_DB_RETRY,
                    )
                    claimed.remove(result.name)
        for name in plan.recovered:
            await self._alert(f"Health check recovered: {name}")
        failing = [r.name for r in report.checks if r.status == "error"]
        return HealthCheckResult(failing, claimed, list(plan.recovered))

    async def _alert(self, text: str) -> bool:
        """Tell the staff in Telegram (a no-op when it is off); False when sending failed."""
        try:
            await workflow.execute_activity(
                TELEGRAM_ALERT,
                StaffAlert(SUITE_ALERT_GUILD, text),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_SEND,
            )
        except ActivityError as err:
            workflow.logger.warning("health alert failed: %s", err)
            return False
        return True


async def ensure_health_check_schedule(client: Client, task_queue: str) -> None:
    """Create the schedule, or bring an existing one up to date (safe on every worker start)."""
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

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            HealthCheckWorkflow.run,
            id=HEALTH_CHECK_ID,
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=10),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=INTERVAL)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=INTERVAL),
    )
    try:
        await client.create_schedule(HEALTH_CHECK_ID, schedule)
    except ScheduleAlreadyRunningError:

        def replace(old: ScheduleUpdateInput) -> ScheduleUpdate:
            """The new definition; an operator's pause (and note) stays."""
            return ScheduleUpdate(
                schedule=dataclasses.replace(schedule, state=old.description.schedule.state)
            )

        await client.get_schedule_handle(HEALTH_CHECK_ID).update(replace)
