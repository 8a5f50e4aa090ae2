"""Shared pieces of the moderation workflow tests: a worker on the simulator with stand-ins for
the Telegram and AI-review activities (called by name), server configs, and report helpers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.temporal import moderation_activities
from domain.approvals import (
    TELEGRAM_ALERT,
    TELEGRAM_SEND_APPROVAL,
    TELEGRAM_SHOW_OUTCOME,
    ApprovalOutcome,
    ApprovalRequest,
    StaffAlert,
)
from domain.cases import Violation
from domain.review import REVIEW_ACTIVITY, ReviewRequest, ReviewVerdict
from simulator import DiscordSimulator
from storage.models import ModerationCase, PendingApproval
from storage.servers import put_server_config
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

LADDER = [
    {"points": 1, "action": "warn"},
    {"points": 2, "action": "timeout", "duration_minutes": 10},
    {"points": 3, "action": "kick"},
    {"points": 4, "action": "ban"},
]


@dataclass
class Helpers:
    """Stand-ins for activities other parts of the suite provide, recording their calls."""

    verdict: ReviewVerdict | None = None
    sent: list[ApprovalRequest] = field(default_factory=list)
    outcomes: list[ApprovalOutcome] = field(default_factory=list)
    alerts: list[StaffAlert] = field(default_factory=list)
    reviews: list[ReviewRequest] = field(default_factory=list)

    def activities(self, sessions) -> list[Any]:
        @activity.defn(name=TELEGRAM_SEND_APPROVAL)
        async def send(req: ApprovalRequest) -> int | None:
            """Like the real one: the message id is stored in the approval's row."""
            self.sent.append(req)
            message_id = 7000 + len(self.sent)
            async with sessions() as session, session.begin():
                await session.execute(
                    update(PendingApproval)
                    .where(PendingApproval.id == req.approval_id)
                    .values(telegram_message_id=message_id)
                )
            return message_id

        @activity.defn(name=TELEGRAM_SHOW_OUTCOME)
        async def show(outcome: ApprovalOutcome) -> None:
            self.outcomes.append(outcome)

        @activity.defn(name=TELEGRAM_ALERT)
        async def alert(a: StaffAlert) -> None:
            self.alerts.append(a)

        @activity.defn(name=REVIEW_ACTIVITY)
        async def review(req: ReviewRequest) -> ReviewVerdict:
            self.reviews.append(req)
            assert self.verdict is not None
            return self.verdict

        return [send, show, alert, review]


def make_worker(
    client: Client, task_queue: str, sessions, sim: DiscordSimulator, helpers, **options: Any
):
    http = DiscordHttp(sim.api_base, "sandbox-token")
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ModerationWorkflow],
        activities=[*moderation_activities(sessions, http), *helpers.activities(sessions)],
        **options,
    )


@contextlib.asynccontextmanager
async def running(
    client: Client, task_queue: str, sessions, sim: DiscordSimulator, helpers, started
) -> AsyncIterator[Worker]:
    """A worker for the test; the test's workflows are terminated before it stops, so no task
    is left half-taken by a stopping worker (that would hold the time-skipping clock)."""
    async with make_worker(client, task_queue, sessions, sim, helpers) as worker:
        try:
            yield worker
        finally:
            await started.terminate_all()


async def configure(sessions, sim: DiscordSimulator, **sections: Any) -> None:
    """Store the guild's config: the test ladder, #mod-log, plus `sections`."""
    config: dict[str, Any] = {
        "mod_log_channel_id": sim.world.channel("mod-log"),
        "escalation": {"steps": LADDER},
        "approvals": {"sensitive_actions": []},
    }
    config.update(sections)
    async with sessions() as session, session.begin():
        await put_server_config(
            session, sim.world.guild_id, config, expected_version=None, changed_by="test"
        )


def offence(sim: DiscordSimulator, key: str, **kw: Any) -> Violation:
    base: dict[str, Any] = dict(
        guild_id=sim.world.guild_id,
        user_id=sim.world.member("alice"),
        source_key=key,
        source="automod",
        action="delete",
        reason="Blocked term (scam*)",
        occurred_at=datetime.now(UTC),
        rule="blocked_terms",
        points=1,
        excerpt="scamcoin",
    )
    base.update(kw)
    return Violation(**base)


class Started:
    """Workflows a test started, terminated at its end (leftovers stall time skipping)."""

    def __init__(self) -> None:
        self.handles: list[WorkflowHandle[Any, Any]] = []

    async def start(
        self,
        client: Client,
        queue: str,
        v: Violation,
        start_options: dict[str, Any] | None = None,
        **inp: Any,
    ) -> WorkflowHandle[Any, Any]:
        started = await client.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(v.guild_id, v.user_id, **inp),
            id=moderation_workflow_id(v.guild_id, v.user_id) + f":{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            start_signal="report",
            start_signal_args=[v],
            **(start_options or {}),
        )
        # A handle on the workflow id, not on this first run, so it follows continue-as-new.
        handle = client.get_workflow_handle(started.id)
        self.handles.append(handle)
        return handle

    async def terminate_all(self) -> None:
        while self.handles:
            try:
                await self.handles.pop().terminate("test finished")
            except Exception as exc:  # already closed
                print("terminate failed", exc)


async def settled(handle, cases: int):
    """The standing once `cases` cases are recorded and the workflow waits for more."""
    try:
        view = await handle.query(ModerationWorkflow.standing)
    except RPCError:  # a query racing continue-as-new can miss its deadline: ask again
        return None
    done = view.cases_recorded >= cases and view.pending_reports == 0 and not view.busy
    return view if done else None


async def cases_of(sessions, guild_id: int) -> list[ModerationCase]:
    async with sessions() as session:
        rows = await session.scalars(
            select(ModerationCase)
            .where(ModerationCase.guild_id == guild_id)
            .order_by(ModerationCase.case_number)
        )
        return list(rows)


async def approvals_of(sessions, workflow_id: str) -> list[PendingApproval]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PendingApproval)
            .where(PendingApproval.workflow_id == workflow_id)
            .order_by(PendingApproval.created_at)
        )
        return list(rows)


def calls(sim: DiscordSimulator, method: str, route: str, status: int | None = None):
    return sim.requests(method, route, status=status)


def index_of(sim: DiscordSimulator, method: str, route: str) -> list[int]:
    """Positions of matching requests in the simulator's log (for ordering checks)."""
    log = sim.requests()
    return [i for i, r in enumerate(log) if r.method == method and r.route == route]
