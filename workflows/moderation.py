"""A member's moderation process: `moderation:{guild}:{user}`, signalled with every violation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.discord_rest import DiscordActivities, ModLogInput
    from activities.records import RecordActivities, RecordCaseInput, RecordedCase
    from domain.cases import MemberStanding, Strike, Violation, active_points, remember_key

IDLE_CLOSE_AFTER = timedelta(days=30)
STRIKE_DECAY = timedelta(days=30)
CONTINUE_AS_NEW_AFTER = 500
_RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=0)
_DISCORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=10)


def moderation_workflow_id(guild_id: int, user_id: int) -> str:
    """The one id per member, so every report about them lands in the same process."""
    return f"moderation:{guild_id}:{user_id}"


@dataclass
class ModerationInput:
    """Start (or continue-as-new) input: the member and what they carry."""

    guild_id: int
    user_id: int
    standing: MemberStanding = field(default_factory=MemberStanding)


@dataclass
class ModerationResult:
    """Returned when the member has been quiet long enough for the workflow to close."""

    guild_id: int
    user_id: int
    cases_recorded: int


@dataclass
class StandingView:
    """What the `standing` query answers."""

    active_points: int
    strikes: list[Strike]
    cases_recorded: int
    pending_reports: int


@workflow.defn(name="Moderation")
class ModerationWorkflow:
    """Records each violation as a numbered case and keeps the member's strike standing."""

    @workflow.init
    def __init__(self, inp: ModerationInput) -> None:
        """State comes from the input here, before the start signal's handler runs."""
        self._queue: list[Violation] = []
        self._standing = inp.standing
        self._processed_this_run = 0

    @workflow.run
    async def run(self, inp: ModerationInput) -> ModerationResult:
        """Handle reports as they come; close after a long quiet spell."""
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self._queue), timeout=IDLE_CLOSE_AFTER)
            except TimeoutError:
                return ModerationResult(inp.guild_id, inp.user_id, self._standing.cases_recorded)
            while self._queue:
                await self._handle(self._queue.pop(0))
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._queue:
                    workflow.continue_as_new(
                        ModerationInput(inp.guild_id, inp.user_id, self._carried_standing())
                    )

    @workflow.signal
    def report(self, violation: Violation) -> None:
        """Queue a violation; a key seen before (a re-delivered report) is ignored."""
        keys = self._standing.recent_source_keys
        if violation.source_key in keys:
            return
        self._standing.recent_source_keys = remember_key(keys, violation.source_key)
        self._queue.append(violation)

    @workflow.query
    def standing(self) -> StandingView:
        """The member's current standing, for moderators and the API."""
        return StandingView(
            active_points=active_points(self._standing.strikes, workflow.now(), STRIKE_DECAY),
            strikes=list(self._standing.strikes),
            cases_recorded=self._standing.cases_recorded,
            pending_reports=len(self._queue),
        )

    async def _handle(self, violation: Violation) -> None:
        case: RecordedCase = await workflow.execute_activity_method(
            RecordActivities.record_case,
            RecordCaseInput(violation=violation, workflow_id=workflow.info().workflow_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RECORD_RETRY,
        )
        self._standing.strikes.append(Strike(case.case_number, violation.points, case.created_at))
        self._standing.cases_recorded += 1
        self._processed_this_run += 1
        if violation.mod_log_channel_id is not None:
            await self._post_mod_log(violation.mod_log_channel_id, case)

    async def _post_mod_log(self, channel_id: int, case: RecordedCase) -> None:
        """The case is already on record; a mod-log post Discord refuses is noted, not fatal."""
        try:
            await workflow.execute_activity_method(
                DiscordActivities.post_mod_log,
                ModLogInput(channel_id=channel_id, case=case),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_DISCORD_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("mod-log post for case %s failed: %s", case.case_number, err)
            self._standing.mod_log_failures += 1

    def _carried_standing(self) -> MemberStanding:
        """Expired strikes stay in the database record but are not carried forward."""
        now = workflow.now()
        live = [s for s in self._standing.strikes if now - s.at < STRIKE_DECAY]
        return replace(self._standing, strikes=live)

    def _should_continue_as_new(self) -> bool:
        return (
            self._processed_this_run >= CONTINUE_AS_NEW_AFTER
            or workflow.info().is_continue_as_new_suggested()
        )
