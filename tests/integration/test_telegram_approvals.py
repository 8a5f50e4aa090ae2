"""Human approval over Telegram, end to end on real parts: python-telegram-bot's Application polls
the local Telegram (simulator/telegram.py), decisions go through submit_decision into the database
(both backends) and land as the `decide` signal of a real workflow on the Temporal dev server."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import eventually
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from approvals.callback_data import CallbackAction, derive_callback_key, encode_callback
from approvals.telegram_activities import TelegramActivities
from approvals.telegram_bot import (
    FORGED,
    NO_APPROVERS,
    NOT_APPROVER,
    WRONG_CHAT,
    TelegramApprovals,
    run_application,
)
from approvals.telegram_config import TelegramEndpoint
from dcs.server_config import default_server_config
from domain.approvals import (
    DECISION_SIGNAL,
    ApprovalDecision,
    ApprovalOutcome,
    ApprovalRequest,
    StaffAlert,
)
from simulator.telegram import TelegramSimulator
from storage.models import PendingApproval
from storage.servers import ensure_server, put_server_config

# PTB constructs RetryAfter with an int, which it deprecates itself (v22.2)
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:integration-test-token"
CHAT = -1009876543210
APPROVER = 42
OUTSIDER = 99
GUILD = 222222222222222222
GUILD_WITHOUT_APPROVERS = 333333333333333333
TARGET = 444444444444444444


@workflow.defn(name="ApprovalProbe")
class ApprovalProbe:
    """Stands in for the moderation workflow: waits for one `decide` and returns what came."""

    def __init__(self) -> None:
        self.decisions: list[ApprovalDecision] = []

    @workflow.run
    async def run(self) -> list[ApprovalDecision]:
        await workflow.wait_condition(lambda: bool(self.decisions))
        return self.decisions

    @workflow.signal(name=DECISION_SIGNAL)
    def decide(self, decision: ApprovalDecision) -> None:
        self.decisions.append(decision)

    @workflow.query
    def seen(self) -> list[ApprovalDecision]:
        return self.decisions


def request_for(row: PendingApproval) -> ApprovalRequest:
    return ApprovalRequest(
        approval_id=row.id,
        guild_id=row.guild_id,
        user_id=TARGET,
        workflow_id=row.workflow_id,
        action=row.action,
        reason="r",
        requested_by="escalation",
        requested_at=datetime.now(UTC),
        expires_at=datetime.now(UTC),
    )


@dataclass
class Harness:
    sim: TelegramSimulator
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    task_queue: str
    endpoint: TelegramEndpoint
    activities: TelegramActivities

    async def new_approval(
        self, action: str = "ban", guild: int = GUILD
    ) -> tuple[str, WorkflowHandle, int]:
        """A running probe workflow, its pending row, and the Telegram message asking for it."""
        approval_id = str(uuid.uuid4())
        handle = await self.client.start_workflow(
            ApprovalProbe.run, id=f"approval-probe-{approval_id}", task_queue=self.task_queue
        )
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            session.add(
                PendingApproval(
                    id=approval_id,
                    guild_id=guild,
                    workflow_id=handle.id,
                    action=action,
                    target_user_id=TARGET,
                    reason="3 strikes in 10 minutes: blocked terms",
                    evidence={"excerpt": "claim your FREE N1TRO here"},
                    requested_by="escalation",
                    expires_at=now + timedelta(hours=24),
                )
            )
        request = ApprovalRequest(
            approval_id=approval_id,
            guild_id=guild,
            user_id=TARGET,
            workflow_id=handle.id,
            action=action,
            reason="3 strikes in 10 minutes: blocked terms",
            requested_by="escalation",
            requested_at=now,
            expires_at=now + timedelta(hours=24),
            case_number=7,
            evidence="claim your FREE N1TRO here",
            guild_name="Test Guild",
            user_name="bob",
        )
        message_id = await ActivityEnvironment().run(self.activities.send_approval, request)
        assert message_id is not None
        return approval_id, handle, message_id

    def message(self, message_id: int) -> dict:
        return self.sim.message(CHAT, message_id)

    def button(self, message_id: int, label_start: str) -> str:
        for label, data in self.sim.buttons(self.message(message_id)):
            if label.lstrip("✅❌✏️↩ ").startswith(label_start):
                return data
        buttons = self.sim.buttons(self.message(message_id))
        raise AssertionError(f"no button {label_start!r} in {buttons}")

    async def press(self, message_id: int, data: str, user: int = APPROVER):
        query_id = self.sim.press_button(CHAT, message_id, data, user)
        return await self.sim.wait_for_answer(query_id)

    async def row(self, approval_id: str) -> PendingApproval:
        async with self.sessions() as session:
            row = await session.get(PendingApproval, approval_id)
        assert row is not None
        return row


@pytest.fixture
async def harness(session_factory, temporal_env, task_queue):
    async with TelegramSimulator(
        TOKEN, chats={CHAT: "Approvals"}, web_chat_id=CHAT, web_user_id=APPROVER
    ) as sim:
        endpoint = TelegramEndpoint(
            sim.base_url, TOKEN, str(CHAT), derive_callback_key("test-webhook-secret")
        )
        config = default_server_config().model_dump(mode="json")
        config["approvals"]["approver_telegram_ids"] = [APPROVER]
        async with session_factory() as session, session.begin():
            await ensure_server(session, GUILD, "Test Guild")
            await put_server_config(session, GUILD, config, expected_version=None, changed_by="t")
            await ensure_server(session, GUILD_WITHOUT_APPROVERS, "Quiet Guild")
        activities = TelegramActivities(session_factory, endpoint)
        app = TelegramApprovals(session_factory, temporal_env.client, endpoint).build_application()
        stop = asyncio.Event()
        async with Worker(
            temporal_env.client,
            task_queue=task_queue,
            workflows=[ApprovalProbe],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            bot = asyncio.create_task(run_application(app, stop))
            try:
                await sim.wait_until(lambda: any(m == "getUpdates" for m, _ in sim.calls))
                yield Harness(
                    sim, session_factory, temporal_env.client, task_queue, endpoint, activities
                )
            finally:
                stop.set()
                await asyncio.wait_for(bot, 30)
                await activities.aclose()


async def test_the_request_shows_the_evidence_and_buttons_and_is_sent_once(harness):
    approval_id, _, message_id = await harness.new_approval()
    message = harness.message(message_id)
    text = message["text"]
    for expected in (
        "Approval needed: BAN",
        f"Server: Test Guild ({GUILD})",
        f"User: bob ({TARGET})",
        "Action: ban",
        "Reason: 3 strikes in 10 minutes: blocked terms",
        "Evidence: claim your FREE N1TRO here",
        "by escalation (case #7)",
        "Expires: ",
        f"Approval: {approval_id}",
    ):
        assert expected in text
    assert [label for label, _ in harness.sim.buttons(message)] == [
        "✅ Approve",
        "❌ Reject",
        "✏️ Modify",
    ]
    assert (await harness.row(approval_id)).telegram_message_id == message_id
    # a retried activity finds the stored message id and sends nothing
    row = await harness.row(approval_id)
    again = await ActivityEnvironment().run(harness.activities.send_approval, request_for(row))
    assert again == message_id
    assert len(harness.sim.messages(CHAT)) == 1

    # decided elsewhere before a late first attempt: nothing to ask
    async with harness.sessions() as session, session.begin():
        decided = await session.get(PendingApproval, approval_id)
        assert decided is not None
        decided.telegram_message_id = None
        decided.status = "rejected"
    late = await ActivityEnvironment().run(
        harness.activities.send_approval, replace(request_for(row), reason="late")
    )
    assert late is None
    assert len(harness.sim.messages(CHAT)) == 1


async def test_approve_signals_the_workflow_and_shows_the_outcome(harness):
    approval_id, handle, message_id = await harness.new_approval()
    answer = await harness.press(message_id, harness.button(message_id, "Approve"))
    assert answer.text == "Approved: ban"
    decisions = await handle.result()
    assert [(d.approval_id, d.decision, d.decided_by, d.channel) for d in decisions] == [
        (approval_id, "approve", f"telegram:{APPROVER}", "telegram")
    ]
    row = await harness.row(approval_id)
    assert (row.status, row.decided_by, row.decision_channel, row.final_action) == (
        "approved",
        f"telegram:{APPROVER}",
        "telegram",
        "ban",
    )
    edited = harness.message(message_id)
    assert f"Approved by telegram:{APPROVER}" in edited["text"]
    assert "Evidence: claim your FREE N1TRO here" in edited["text"]
    assert "reply_markup" not in edited


async def test_reject_signals_a_rejection(harness):
    approval_id, handle, message_id = await harness.new_approval()
    answer = await harness.press(message_id, harness.button(message_id, "Reject"))
    assert answer.text == "Rejected: no action will be taken"
    [decision] = await handle.result()
    assert decision.decision == "reject" and decision.action is None
    row = await harness.row(approval_id)
    assert (row.status, row.final_action) == ("rejected", None)
    assert f"Rejected by telegram:{APPROVER}" in harness.message(message_id)["text"]


async def test_modify_chooses_a_milder_action_through_the_second_keyboard(harness):
    approval_id, handle, message_id = await harness.new_approval()
    await harness.press(message_id, harness.button(message_id, "Modify"))
    labels = [label for label, _ in harness.sim.buttons(harness.message(message_id))]
    assert labels == ["Warn instead", "Timeout instead...", "Kick instead", "↩ Back"]
    # Back returns to the first keyboard, nothing decided
    await harness.press(message_id, harness.button(message_id, "Back"))
    first, *_ = harness.sim.buttons(harness.message(message_id))
    assert first[0] == "✅ Approve"
    await harness.press(message_id, harness.button(message_id, "Modify"))
    answer = await harness.press(message_id, harness.button(message_id, "Timeout"))
    assert answer.text == "How long a timeout?"
    labels = [label for label, _ in harness.sim.buttons(harness.message(message_id))]
    assert labels == ["1 hour", "24 hours", "7 days", "↩ Back"]
    assert not await handle.query(ApprovalProbe.seen)
    assert (await harness.row(approval_id)).status == "pending"

    answer = await harness.press(message_id, harness.button(message_id, "24 hours"))
    assert answer.text == "Modified: timeout (1 day)"
    [decision] = await handle.result()
    assert (decision.decision, decision.action, decision.duration_minutes) == (
        "modify",
        "timeout",
        1440,
    )
    row = await harness.row(approval_id)
    assert (row.status, row.final_action) == ("modified", "timeout")
    edited = harness.message(message_id)
    assert "timeout (1 day) instead" in edited["text"] and "reply_markup" not in edited


async def test_a_forged_callback_changes_nothing(harness):
    approval_id, handle, message_id = await harness.new_approval()
    before = harness.message(message_id)
    genuine_reject = harness.button(message_id, "Reject")
    forgeries = [
        genuine_reject.replace("|R|", "|A|"),  # turned Reject into Approve
        encode_callback(CallbackAction(approval_id, "approve"), derive_callback_key("guess")),
        f"1|A|{approval_id}|AAAAAAAAAAAAAAAA",
        "approve",
    ]
    for data in forgeries:
        answer = await harness.press(message_id, data)
        assert (answer.text, answer.show_alert) == (FORGED, True)
    # a genuine button copied into another chat is refused too
    harness.sim.add_chat(-1001111111111, "Elsewhere")
    elsewhere = harness.sim.send_text(-1001111111111, APPROVER, "hello")
    query_id = harness.sim.press_button(
        -1001111111111, elsewhere, harness.button(message_id, "Approve"), APPROVER
    )
    answer = await harness.sim.wait_for_answer(query_id)
    assert (answer.text, answer.show_alert) == (WRONG_CHAT, True)
    assert (await harness.row(approval_id)).status == "pending"
    assert await handle.query(ApprovalProbe.seen) == []
    assert harness.message(message_id) == before


async def test_only_configured_approvers_decide(harness):
    approval_id, handle, message_id = await harness.new_approval()
    approve = harness.button(message_id, "Approve")
    answer = await harness.press(message_id, approve, user=OUTSIDER)
    assert (answer.text, answer.show_alert) == (NOT_APPROVER, True)
    answer = await harness.press(message_id, harness.button(message_id, "Modify"), user=OUTSIDER)
    assert answer.text == NOT_APPROVER
    assert (await harness.row(approval_id)).status == "pending"
    assert await handle.query(ApprovalProbe.seen) == []
    assert "reply_markup" in harness.message(message_id)

    # a server with no Telegram approvers: nobody may decide there from Telegram
    other_id, other_handle, other_message = await harness.new_approval(
        guild=GUILD_WITHOUT_APPROVERS
    )
    answer = await harness.press(other_message, harness.button(other_message, "Approve"))
    assert answer.text == NO_APPROVERS
    assert (await harness.row(other_id)).status == "pending"
    assert await other_handle.query(ApprovalProbe.seen) == []


async def test_a_second_decision_is_refused_politely(harness):
    approval_id, handle, message_id = await harness.new_approval()
    approve = harness.button(message_id, "Approve")
    reject = harness.button(message_id, "Reject")
    await harness.press(message_id, approve)
    await handle.result()
    for data in (reject, approve):  # a stale button, and a replay of the one pressed
        answer = await harness.press(message_id, data)
        assert answer.text == (
            f"This approval was already approved by telegram:{APPROVER}; nothing changed"
        )
        assert not answer.show_alert
    row = await harness.row(approval_id)
    assert (row.status, row.decided_by) == ("approved", f"telegram:{APPROVER}")
    assert len(await handle.query(ApprovalProbe.seen)) == 1


async def test_show_outcome_edits_the_request_and_alert_sends(harness):
    approval_id, _, message_id = await harness.new_approval(action="kick")
    outcome = ApprovalOutcome(
        approval_id=approval_id,
        guild_id=GUILD,
        status="expired",
        requested_action="kick",
        final_action=None,
        decided_by=None,
        summary="Expired after 24 h: no action",
    )
    env = ActivityEnvironment()
    await env.run(harness.activities.show_outcome, outcome)
    edited = harness.message(message_id)
    assert "⌛ Expired after 24 h: no action" in edited["text"]
    assert f"Server: Test Guild ({GUILD})" in edited["text"]
    assert "Action: kick" in edited["text"]
    assert "reply_markup" not in edited
    await env.run(harness.activities.show_outcome, outcome)  # retried: "not modified" is fine

    await env.run(
        harness.activities.alert,
        StaffAlert(GUILD, "An approval has waited for over an hour", approval_id),
    )
    last = harness.sim.messages(CHAT)[-1]
    assert last["text"].startswith("🔔 An approval has waited for over an hour")
    assert approval_id in last["text"]


async def test_pending_lists_waiting_approvals(harness):
    approval_id, _, _ = await harness.new_approval()
    harness.sim.send_text(CHAT, APPROVER, "/pending")
    reply = await eventually(
        lambda: next(
            (m for m in harness.sim.messages(CHAT) if m["text"].startswith("Pending approvals")),
            None,
        )
    )
    assert approval_id in reply["text"] and f"user {TARGET}" in reply["text"]


async def test_activity_errors_tell_temporal_what_to_retry(harness, session_factory):
    env = ActivityEnvironment()
    outcome = ApprovalOutcome("x", GUILD, "approved", "ban", "ban", "t", "s", telegram_message_id=1)
    harness.sim.fail_next("editMessageText", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(ApplicationError) as err:
        await env.run(harness.activities.show_outcome, outcome)
    assert err.value.type == "TelegramRateLimited" and not err.value.non_retryable
    assert err.value.next_retry_delay == timedelta(seconds=7)

    harness.sim.fail_next("sendMessage", 403, "Forbidden: bot was kicked from the group chat")
    with pytest.raises(ApplicationError) as err:
        await env.run(harness.activities.alert, StaffAlert(GUILD, "hello"))
    assert err.value.non_retryable and "kicked" in err.value.message

    harness.sim.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(ApplicationError) as err:
        await env.run(harness.activities.alert, StaffAlert(GUILD, "hello"))
    assert err.value.type == "TelegramUnavailable" and not err.value.non_retryable

    off = TelegramActivities(session_factory, None)  # Telegram not configured
    request = ApprovalRequest(
        "y", GUILD, TARGET, "wf", "ban", "r", "t", datetime.now(UTC), datetime.now(UTC)
    )
    assert await env.run(off.send_approval, request) is None
    await env.run(off.show_outcome, outcome)
    await env.run(off.alert, StaffAlert(GUILD, "x"))


async def test_the_sandbox_page_lets_a_newcomer_press_approve(harness):
    approval_id, handle, message_id = await harness.new_approval()
    async with httpx.AsyncClient(base_url=harness.sim.base_url) as web:
        page = await web.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "Approvals" in page.text and f"Telegram id {APPROVER}" in page.text
        state = (await web.get("/_tg/state")).json()
        [shown] = [m for m in state["messages"] if m["message_id"] == message_id]
        approve = next(
            b["callback_data"]
            for row in shown["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].endswith("Approve")
        )
        bogus = await web.post("/_tg/click", json={"message_id": message_id, "data": "1|A|x|y"})
        assert bogus.status_code == 400  # the page only presses buttons that exist
        click = await web.post("/_tg/click", json={"message_id": message_id, "data": approve})
        assert click.status_code == 200
        query_id = click.json()["callback_query_id"]
        assert any(
            u.get("callback_query", {}).get("id") == query_id for u in harness.sim.updates
        ) or harness.sim.answer_for(query_id)
        answer = await harness.sim.wait_for_answer(query_id)
        assert answer.text == "Approved: ban"
        [decision] = await handle.result()
        assert decision.decided_by == f"telegram:{APPROVER}"
        state = (await web.get("/_tg/state")).json()
        assert {"id": query_id, "text": "Approved: ban", "alert": False} in state["toasts"]
    assert (await harness.row(approval_id)).status == "approved"
