"""A stand-in for the member's moderation workflow: registered under the same name, it only
remembers the signals it gets, so gateway and API tests can assert exactly what was sent."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from domain.approvals import ApprovalDecision
from domain.cases import AppealRequest, LiftRequest, MemberRejoined, Violation
from workflows.moderation import ModerationInput


@dataclass
class Seen:
    """Every signal the fake received, by kind."""

    reports: list[Violation] = field(default_factory=list)
    lifts: list[LiftRequest] = field(default_factory=list)
    appeals: list[AppealRequest] = field(default_factory=list)
    rejoins: list[MemberRejoined] = field(default_factory=list)
    decisions: list[ApprovalDecision] = field(default_factory=list)


@workflow.defn(name="Moderation")
class FakeModeration:
    """Runs until terminated; answers `seen`."""

    def __init__(self) -> None:
        self._seen = Seen()

    @workflow.run
    async def run(self, inp: ModerationInput) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def report(self, violation: Violation) -> None:
        self._seen.reports.append(violation)

    @workflow.signal
    def lift(self, request: LiftRequest) -> None:
        self._seen.lifts.append(request)

    @workflow.signal
    def appeal(self, request: AppealRequest) -> None:
        self._seen.appeals.append(request)

    @workflow.signal
    def member_rejoined(self, event: MemberRejoined) -> None:
        self._seen.rejoins.append(event)

    @workflow.signal
    def decide(self, decision: ApprovalDecision) -> None:
        self._seen.decisions.append(decision)

    @workflow.query
    def seen(self) -> Seen:
        return self._seen


async def seen_by(client: Client, workflow_id: str) -> Seen | None:
    """What the fake workflow with this id received, or None if it was never started."""
    try:
        return await client.get_workflow_handle(workflow_id).query(FakeModeration.seen)
    except Exception:
        return None


@contextlib.asynccontextmanager
async def fake_moderation_worker(client: Client, task_queue: str):
    """A worker hosting only the fake, for the test's task queue."""
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[FakeModeration],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        yield worker
