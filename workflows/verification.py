"""A guild's verification gate: `verification:{guild}`, one workflow holding every pending joiner.

Timers above about 20 a second queue in Temporal, so a raid's deadlines do not get one workflow
(and one timer) per joiner: this workflow keeps a dict of member -> deadline and sleeps on one
timer until the earliest. Signals only change that dict: `member_joined`, `member_verified`,
`member_left`, `challenge_failed` (the last allowed wrong answer makes the deadline now). When a
deadline passes the member is kicked or given the quarantine role by idempotent activities; a
403 is reported to the mod-log, not retried. After `continue_after` events the workflow
continues as new with the pending members, and it closes after a week with nobody pending.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.verification import (
        GateActionInput,
        GateActionResult,
        GateAlertInput,
        VerificationActivities,
    )
    from domain.verification import (
        MemberDone,
        MemberJoined,
        PendingMember,
        VerificationPolicy,
        admit,
        due,
        earliest_deadline,
        failed_attempt,
    )

CONTINUE_AS_NEW_AFTER = 1000
IDLE_CLOSE_AFTER = timedelta(days=7)
EXPIRE_BATCH = 20
"""Deadlines handled at once when many fall due together (a raid's joiners)."""
_DISCORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=10)
_ALERT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


def verification_workflow_id(guild_id: int) -> str:
    """One gate per guild, so every join of a raid lands in the same process."""
    return f"verification:{guild_id}"


@dataclass
class VerificationInput:
    """Start (or continue-as-new) input: the guild and who is still pending."""

    guild_id: int
    pending: list[PendingMember] = field(default_factory=list)
    policies: dict[str, VerificationPolicy] = field(default_factory=dict)
    """Each pending member's policy, by member id (a string: JSON object keys)."""
    continue_after: int = CONTINUE_AS_NEW_AFTER
    kicked: int = 0
    quarantined: int = 0


@dataclass
class VerificationResult:
    """Returned when the gate has been idle long enough to close."""

    guild_id: int
    kicked: int
    quarantined: int


@workflow.defn(name="Verification")
class VerificationWorkflow:
    """Holds every unverified joiner's deadline and acts when one passes."""

    @workflow.init
    def __init__(self, inp: VerificationInput) -> None:
        """State comes from the input, before the start signal's handler runs."""
        self._guild = inp.guild_id
        self._pending: dict[int, PendingMember] = {p.user_id: p for p in inp.pending}
        self._policies = {int(k): v for k, v in inp.policies.items()}
        self._continue_after = inp.continue_after
        self._kicked, self._quarantined = inp.kicked, inp.quarantined
        self._events = 0
        self._changed = False

    @workflow.run
    async def run(self, inp: VerificationInput) -> VerificationResult:
        """Sleep until the earliest deadline or a change; act on what is due."""
        idle_since = workflow.now()
        while True:
            await self._expire_due()
            if self._events >= self._continue_after:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried())
            if self._pending:
                idle_since = workflow.now()
            wake = earliest_deadline(self._pending) or idle_since + IDLE_CLOSE_AFTER
            self._changed = False
            try:
                await workflow.wait_condition(
                    lambda: self._changed, timeout=max(wake - workflow.now(), timedelta(0))
                )
            except TimeoutError:
                pass
            if not self._pending and workflow.now() >= idle_since + IDLE_CLOSE_AFTER:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._pending:
                    return VerificationResult(self._guild, self._kicked, self._quarantined)

    def _carried(self) -> VerificationInput:
        return VerificationInput(
            self._guild,
            list(self._pending.values()),
            {str(k): v for k, v in self._policies.items()},
            self._continue_after,
            self._kicked,
            self._quarantined,
        )

    # ------------------------------------------------------------------------- signals, query

    @workflow.signal
    def member_joined(self, joined: MemberJoined) -> None:
        """Watch a joiner; the deadline counts from now on the workflow's clock."""
        entry = admit(
            joined.policy, joined.user_id, joined.joined_at, workflow.now(), joined.during_raid
        )
        self._pending[joined.user_id] = entry
        self._policies[joined.user_id] = joined.policy
        self._note()

    @workflow.signal
    def member_verified(self, done: MemberDone) -> None:
        """The member passed the gate: forget their deadline."""
        self._forget(done.user_id)

    @workflow.signal
    def member_left(self, done: MemberDone) -> None:
        """The member left: nothing to enforce any more."""
        self._forget(done.user_id)

    @workflow.signal
    def challenge_failed(self, done: MemberDone) -> None:
        """A wrong answer; the last allowed one makes the deadline now."""
        entry = self._pending.get(done.user_id)
        if entry is not None:
            policy = self._policies.get(done.user_id) or VerificationPolicy()
            self._pending[done.user_id] = failed_attempt(entry, policy.max_attempts, workflow.now())
        self._note()

    @workflow.query
    def pending(self) -> list[PendingMember]:
        """Who has not verified yet, soonest deadline first."""
        return sorted(self._pending.values(), key=lambda p: p.deadline)

    def _forget(self, user_id: int) -> None:
        self._pending.pop(user_id, None)
        self._policies.pop(user_id, None)
        self._note()

    def _note(self) -> None:
        self._events += 1
        self._changed = True

    # ------------------------------------------------------------------------- deadlines

    async def _expire_due(self) -> None:
        """Act on every passed deadline, a batch at a time."""
        while batch := due(self._pending, workflow.now())[:EXPIRE_BATCH]:
            work = []
            for entry in batch:
                self._pending.pop(entry.user_id, None)
                work.append(self._expire(entry, self._policies.pop(entry.user_id, None)))
            await asyncio.gather(*work)

    async def _expire(self, entry: PendingMember, policy: VerificationPolicy | None) -> None:
        policy = policy or VerificationPolicy()
        quarantine = entry.on_timeout == "quarantine"
        role = policy.quarantine_role_id or policy.unverified_role_id
        inp = GateActionInput(
            self._guild,
            entry.user_id,
            "Did not verify in time",
            role if quarantine else None,
            policy.verified_role_id,
        )
        method = VerificationActivities.quarantine if quarantine else VerificationActivities.kick
        try:
            result: GateActionResult = await workflow.execute_activity_method(
                method,
                inp,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_DISCORD_RETRY,
            )
        except ActivityError as err:
            await self._report(entry, policy, "quarantine" if quarantine else "kick", err)
            return
        if result.applied and quarantine:
            self._quarantined += 1
        elif result.applied:
            self._kicked += 1

    async def _report(
        self, entry: PendingMember, policy: VerificationPolicy, action: str, err: ActivityError
    ) -> None:
        """Tell the staff the gate could not act (a 403 is not retried); never fail the gate."""
        workflow.logger.warning("verification %s of %s failed: %s", action, entry.user_id, err)
        if policy.mod_log_channel_id is None:
            return
        cause = str(err.cause or err)[:300]
        text = f"Verification: could not {action} <@{entry.user_id}> at their deadline ({cause})."
        key = f"verification:{self._guild}:{entry.user_id}:{entry.deadline.isoformat()}"
        try:
            await workflow.execute_activity_method(
                VerificationActivities.alert,
                GateAlertInput(policy.mod_log_channel_id, text, key),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_ALERT_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("verification alert for %s failed", entry.user_id)
