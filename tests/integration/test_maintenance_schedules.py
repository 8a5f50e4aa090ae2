"""The maintenance schedules on a real Temporal dev server: created idempotently (an operator's
pause survives a worker restart), and each, triggered, leaves its mark on the database: retention
erases words and log details but keeps the cases, the rollup writes (and corrects) daily totals,
the approval sweep alerts once per overdue approval, in the server's language."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from support import eventually
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.approval_records import ApprovalRecordActivities
from activities.discord_rest import DiscordHttp
from activities.maintenance import MaintenanceActivities, RetentionPolicy
from activities.moderation_actions import ModerationActions
from domain.approvals import TELEGRAM_ALERT, StaffAlert
from storage.models import (
    ANALYTICS_WHOLE_DAY,
    AnalyticsPoint,
    Appeal,
    AuditLogEntry,
    ModerationCase,
    PendingApproval,
)
from storage.servers import ensure_server_exists, put_server_config
from workflows.maintenance import (
    APPROVAL_ALERTS_ID,
    RETENTION_ID,
    ROLLUP_HOURLY_ID,
    ROLLUP_ID,
    ApprovalAlertsWorkflow,
    RetentionWorkflow,
    RollupWorkflow,
    ensure_maintenance_schedules,
)

IDS = (RETENTION_ID, ROLLUP_ID, ROLLUP_HOURLY_ID, APPROVAL_ALERTS_ID)


@contextlib.asynccontextmanager
async def maintenance(client: Client, queue: str, sessions, sim) -> AsyncIterator[list[StaffAlert]]:
    """A worker for the maintenance workflows, the schedules pointed at its queue; yields the
    Telegram alerts sent (a recording stand-in for the Telegram activity)."""
    alerts: list[StaffAlert] = []

    @activity.defn(name=TELEGRAM_ALERT)
    async def telegram_alert(alert: StaffAlert) -> None:
        alerts.append(alert)

    acts = MaintenanceActivities(sessions)
    actions = ModerationActions(DiscordHttp(sim.api_base, "sandbox-token"), sessions)
    await ensure_maintenance_schedules(client, queue, RetentionPolicy(30, 90))
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[RetentionWorkflow, RollupWorkflow, ApprovalAlertsWorkflow],
            activities=[
                acts.apply_retention,
                acts.roll_up_analytics,
                acts.find_overdue_approvals,
                ApprovalRecordActivities(sessions).mark_approval_alerted,
                actions.post_alert,
                telegram_alert,
            ],
        ):
            yield alerts
    finally:
        for schedule_id in IDS:  # one dev server serves the whole session
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()


async def trigger(client: Client, schedule_id: str) -> Any:
    """Run the schedule's workflow now and return its result."""
    handle = client.get_schedule_handle(schedule_id)
    before = (await handle.describe()).info.num_actions
    await handle.trigger()

    async def started():
        info = (await handle.describe()).info
        return info.recent_actions[-1] if info.num_actions > before else None

    action = await eventually(started)
    run = client.get_workflow_handle(action.action.workflow_id)
    return await run.result()


def _guild() -> int:
    return int(uuid.uuid4().int % 10**17) + 10**17


async def test_schedules_are_created_once_and_a_pause_survives_a_restart(
    temporal_env, session_factory, sim, task_queue
):
    client = temporal_env.client
    async with maintenance(client, task_queue, session_factory, sim):
        specs = {i: (await client.get_schedule_handle(i).describe()).schedule.spec for i in IDS}
        assert specs[RETENTION_ID].cron_expressions or specs[RETENTION_ID].calendars
        assert specs[APPROVAL_ALERTS_ID].intervals[0].every == timedelta(minutes=5)
        await client.get_schedule_handle(ROLLUP_ID).pause(note="operator")
        # the worker starts again, with a shorter retention policy configured
        await ensure_maintenance_schedules(client, task_queue, RetentionPolicy(14, 60))
        rollup = await client.get_schedule_handle(ROLLUP_ID).describe()
        assert rollup.schedule.state.paused and rollup.schedule.state.note == "operator"
        retention = await client.get_schedule_handle(RETENTION_ID).describe()
        (arg,) = retention.schedule.action.args
        assert json.loads(arg.data) == {"message_days": 14, "log_days": 60}


async def test_retention_erases_words_and_log_details_keeps_the_record(
    temporal_env, session_factory, sim, task_queue
):
    guild = _guild()
    now = datetime.now(UTC)
    evidence = {"channel_id": "1", "message_id": "2", "excerpt": "buy scamcoin"}
    async with session_factory() as session, session.begin():
        await ensure_server_exists(session, guild)
        for n, days in enumerate((5, 40, 100), start=1):
            session.add(
                ModerationCase(
                    guild_id=guild,
                    case_number=n,
                    user_id=42,
                    action="warn",
                    reason="blocked term",
                    evidence=dict(evidence),
                    points=1,
                    source="automod",
                    source_key=f"k{n}",
                    created_at=now - timedelta(days=days),
                )
            )
        for key, days, status in (
            ("fresh", 5, "approved"),
            ("old", 40, "approved"),
            ("waiting", 40, "pending"),
        ):
            session.add(
                PendingApproval(
                    id=f"{guild}-{key}",
                    guild_id=guild,
                    workflow_id="w",
                    action="ban",
                    reason="r",
                    evidence={"excerpt": "words", "case_number": "1"},
                    requested_by="t",
                    status=status,
                    created_at=now - timedelta(days=days),
                    alerted_at=now,
                )
            )
        session.add(
            Appeal(
                id=f"{guild}-a",
                guild_id=guild,
                user_id=42,
                sanction="ban",
                text="please",
                status="denied",
                created_at=now - timedelta(days=40),
            )
        )
        session.add(
            AuditLogEntry(
                guild_id=guild,
                actor="t",
                action="config.put",
                before={"a": 1},
                after={"a": 2},
                created_at=now - timedelta(days=100),
            )
        )

    async with maintenance(temporal_env.client, task_queue, session_factory, sim):
        first = await trigger(temporal_env.client, RETENTION_ID)
        again = await trigger(temporal_env.client, RETENTION_ID)

    assert first["messages"] >= 3 and first["logs"] >= 2
    async with session_factory() as session:
        cases = (
            await session.scalars(
                select(ModerationCase)
                .where(ModerationCase.guild_id == guild)
                .order_by(ModerationCase.case_number)
            )
        ).all()
        assert [c.evidence for c in cases] == [
            evidence,
            {"channel_id": "1", "message_id": "2"},
            None,
        ]
        assert [(c.action, c.points, c.reason) for c in cases] == [("warn", 1, "blocked term")] * 3
        approvals = {
            a.id.split("-")[1]: a.evidence
            for a in await session.scalars(
                select(PendingApproval).where(PendingApproval.guild_id == guild)
            )
        }
        assert approvals == {
            "fresh": {"excerpt": "words", "case_number": "1"},
            "old": {"case_number": "1"},
            "waiting": {"excerpt": "words", "case_number": "1"},  # still to be decided
        }
        appeal = await session.get(Appeal, f"{guild}-a")
        assert appeal is not None and (appeal.text, appeal.status) == ("", "denied")
        audit = await session.scalar(select(AuditLogEntry).where(AuditLogEntry.guild_id == guild))
        assert audit is not None and (audit.before, audit.after, audit.action) == (
            None,
            None,
            "config.put",
        )
    assert again == {"messages": 0, "logs": 0}


async def test_daily_rollup_totals_the_hours_and_a_rerun_corrects_it(
    temporal_env, session_factory, sim, task_queue
):
    guild = _guild()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    today = datetime.now(UTC).date()

    def point(day: date, hour: int, value: int, metric: str = "messages") -> AnalyticsPoint:
        return AnalyticsPoint(guild_id=guild, metric=metric, date=day, hour=hour, value=value)

    async with session_factory() as session, session.begin():
        await ensure_server_exists(session, guild)
        session.add_all(
            [
                point(yesterday, 1, 3),
                point(yesterday, 5, 4),
                point(yesterday, 9, 10, "joins"),
                point(yesterday - timedelta(days=1), 23, 2),
                point(today, 0, 99),  # today is not over: no total yet
            ]
        )

    async def totals() -> dict[tuple[str, date], int]:
        async with session_factory() as session:
            rows = await session.scalars(
                select(AnalyticsPoint).where(
                    AnalyticsPoint.guild_id == guild, AnalyticsPoint.hour == ANALYTICS_WHOLE_DAY
                )
            )
            return {(r.metric, r.date): r.value for r in rows}

    async with maintenance(temporal_env.client, task_queue, session_factory, sim):
        await trigger(temporal_env.client, ROLLUP_ID)
        assert await totals() == {
            ("messages", yesterday): 7,
            ("joins", yesterday): 10,
            ("messages", yesterday - timedelta(days=1)): 2,
        }
        async with session_factory() as session, session.begin():
            session.add(point(yesterday, 6, 2))  # a late hourly write
        await trigger(temporal_env.client, ROLLUP_ID)
        assert (await totals())[("messages", yesterday)] == 9
        assert len(await totals()) == 3


async def test_overdue_approvals_are_alerted_once_in_the_servers_language(
    temporal_env, session_factory, sim, task_queue
):
    guild = sim.world.guild_id
    mod_log = sim.world.channel("mod-log")
    now = datetime.now(UTC)
    async with session_factory() as session, session.begin():
        await put_server_config(
            session,
            guild,
            {
                "mod_log_channel_id": mod_log,
                "language": "de",
                "moderation": {"alert_after_minutes": 30},
            },
            expected_version=None,
            changed_by="test",
        )
        for key, minutes, alerted in (("late", 120, None), ("told", 120, now), ("new", 10, None)):
            session.add(
                PendingApproval(
                    id=f"{guild}-{key}",
                    guild_id=guild,
                    workflow_id="w",
                    action="ban",
                    target_user_id=sim.world.member("alice"),
                    reason="raid",
                    requested_by="t",
                    created_at=now - timedelta(minutes=minutes),
                    alerted_at=alerted,
                )
            )

    async with maintenance(temporal_env.client, task_queue, session_factory, sim) as telegram:
        assert await trigger(temporal_env.client, APPROVAL_ALERTS_ID) == 1
        assert await trigger(temporal_env.client, APPROVAL_ALERTS_ID) == 0

    assert [(a.approval_id, a.guild_id) for a in telegram] == [(f"{guild}-late", guild)]
    assert telegram[0].text.startswith("Freigabe seit 12") and "ban" in telegram[0].text
    posted = [m.content for m in sim.world.channel_messages(mod_log)]
    assert posted == [telegram[0].text]
    async with session_factory() as session:
        late = await session.get(PendingApproval, f"{guild}-late")
        new = await session.get(PendingApproval, f"{guild}-new")
        assert late is not None and late.alerted_at is not None
        assert new is not None and new.alerted_at is None
