"""One AI support answer: the short `support-answer:{guild}:{message_id}` workflow.

Thin and deterministic: ask (`support_ai_answer`, which never fails for provider trouble), then
post the answer, or the ticket suggestion when the model did not know, the budget is spent or no
provider answered. Temporal only retries the ask on a database error; the post is retried for
Discord's transient failures and keyed by a nonce, so the member gets one reply.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.support_ai import (
        ANSWER_ACTIVITY,
        POST_ACTIVITY,
        SUPPORT_WORKFLOW,
        ReplyPlan,
        SupportAnswer,
        SupportRequest,
        SupportResult,
    )

ASK_TIMEOUT = timedelta(seconds=90)
_ASK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
_POST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)


@workflow.defn(name=SUPPORT_WORKFLOW)
class SupportAnswerWorkflow:
    """Ask the AI from the FAQ, then reply once: the answer or a ticket suggestion."""

    @workflow.run
    async def run(self, request: SupportRequest) -> SupportResult:
        """Two activities; the reply's text is empty (a ticket suggestion) unless answered."""
        answer = await workflow.execute_activity(
            ANSWER_ACTIVITY,
            request,
            result_type=SupportAnswer,
            start_to_close_timeout=ASK_TIMEOUT,
            retry_policy=_ASK_RETRY,
        )
        plan = ReplyPlan(
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            message_id=request.message_id,
            language=request.language,
            text=answer.text if answer.outcome == "answered" else "",
            mode=request.mode,
            outcome=answer.outcome,
        )
        posted = await workflow.execute_activity(
            POST_ACTIVITY,
            plan,
            result_type=int,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_POST_RETRY,
        )
        return SupportResult(answer.outcome, answer.provider, posted)
