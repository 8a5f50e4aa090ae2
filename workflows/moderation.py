"""A member's moderation process: `moderation:{guild}:{user}`, signalled with every violation.

One loop handles everything the member's workflow hears about, in arrival order: reports
(`report`), a member coming back (`member_rejoined`), lifts (`lift`), appeals (`appeal`) and
decisions on pending approvals (`decide`). Between events it sleeps on one durable timer: the
earliest of a temporary ban's end, a timeout's end (or its next 28-day chunk), an approval's
alert time or deadline, or, when none of those is pending, the idle close.

Approvals do not block: a pending approval is state, not a waiting coroutine, so new reports are
recorded (and may raise further sanctions) while a person decides. See docs/moderation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows import steps

with workflow.unsafe.imports_passed_through():
    from activities.approval_records import (
        AppealStatusInput,
        ApprovalRecordActivities,
        CreateApprovalInput,
        ExpireApprovalInput,
        ExpireResult,
        FinishApprovalInput,
        MarkAlertedInput,
    )
    from activities.discord_rest import DiscordActivities, ModLogInput
    from activities.moderation_actions import (
        ActionResult,
        AlertInput,
        ApprovalEditInput,
        ApprovalPostInput,
        BanInput,
        DirectMessageInput,
        MemberActionInput,
        MemberNames,
        ModerationActions,
        TimeoutInput,
        appeal_custom_id,
    )
    from activities.moderation_policy import ModerationPolicyActivities
    from activities.records import RecordActivities, RecordCaseInput, RecordedCase
    from domain.approvals import (
        DECISION_SIGNAL,
        TELEGRAM_ALERT,
        TELEGRAM_SEND_APPROVAL,
        TELEGRAM_SHOW_OUTCOME,
        ApprovalDecision,
        ApprovalOutcome,
        ApprovalRequest,
        StaffAlert,
        decision_problem,
    )
    from domain.cases import (
        AppealRequest,
        LiftRequest,
        MemberRejoined,
        MemberStanding,
        Strike,
        Violation,
        active_points,
        remember_key,
    )
    from domain.catalogue import keys as catalogue_keys
    from domain.catalogue import text
    from domain.ladder import (
        DEFAULT_TIMEOUT_MINUTES,
        LIFTS,
        ModerationPolicy,
        Sanction,
        choose_sanction,
    )
    from domain.review import REVIEW_ACTIVITY, ReviewRequest, ReviewVerdict
    from domain.sanctions import (
        CLAIMED_GRACE,
        MAX_TIMEOUT,
        AwaitedApproval,
        Sanctions,
        approval_due,
        ban_due,
        end_ban,
        end_timeout,
        expire,
        next_deadline,
        rejoin_plan,
        timeout_applied,
        timeout_chunk_due,
        with_ban,
        with_timeout,
    )

IDLE_CLOSE_AFTER = timedelta(days=30)
STRIKE_DECAY = timedelta(days=30)
"""The decay before a server's policy was read (the policy's `strike_decay_days` wins)."""
CONTINUE_AS_NEW_AFTER = 500
_RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=0)
_DISCORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=10)
_HELPER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
catalogue_keys()  # load the message catalogue now: it lists its files, which a workflow may not
"""Telegram and the AI reviewer: helpful, never required."""
_DECISION_OF_STATUS = {"approved": "approve", "rejected": "reject", "modified": "modify"}

Event = Violation | MemberRejoined | LiftRequest | AppealRequest


def moderation_workflow_id(guild_id: int, user_id: int) -> str:
    """The one id per member, so every report about them lands in the same process."""
    return f"moderation:{guild_id}:{user_id}"


@dataclass
class ModerationInput:
    """Start (or continue-as-new) input: the member and everything their process carries."""

    guild_id: int
    user_id: int
    standing: MemberStanding = field(default_factory=MemberStanding)
    sanctions: Sanctions = field(default_factory=Sanctions)
    approvals: list[AwaitedApproval] = field(default_factory=list)
    strike_decay_days: int = 30
    idle_since: datetime | None = None
    continue_after: int = CONTINUE_AS_NEW_AFTER
    """Events handled before continue-as-new (tests lower it)."""


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
    """Reports queued or being handled (a report counts until its sanction is carried out)."""
    busy: bool = False
    """The workflow is handling something (an event, a decision, a timer) rather than waiting."""
    banned: bool = False
    ban_until: datetime | None = None
    """None with `banned`: a permanent ban."""
    timeout_until: datetime | None = None
    pending_approvals: list[AwaitedApproval] = field(default_factory=list)


@workflow.defn(name="Moderation")
class ModerationWorkflow:
    """Records each violation as a numbered case, climbs the ladder, and runs the sanctions."""

    @workflow.init
    def __init__(self, inp: ModerationInput) -> None:
        """State comes from the input here, before the start signal's handler runs."""
        self._guild = inp.guild_id
        self._user = inp.user_id
        self._webhooks: list[Any] = []  # deliveries still running, settled before the run ends
        self._inbox: list[Event] = []
        self._decisions: dict[str, ApprovalDecision] = {}
        self._standing = inp.standing
        self._sanctions = inp.sanctions
        self._approvals = list(inp.approvals)
        self._decay_days = inp.strike_decay_days
        self._idle_since = inp.idle_since
        self._continue_after = inp.continue_after
        self._processed_this_run = 0
        self._in_hand: Event | None = None
        self._busy = True

    # ------------------------------------------------------------------------- the loop

    @workflow.run
    async def run(self, inp: ModerationInput) -> ModerationResult:
        """Handle events as they come and timers as they fall due; close after a quiet spell."""
        if self._idle_since is None:
            self._idle_since = workflow.now()
        while True:
            deadline, idle = next_deadline(
                self._sanctions, self._approvals, self._idle_since, IDLE_CLOSE_AFTER
            )
            wait = deadline - workflow.now()
            if not self._has_work() and wait > timedelta(0):
                self._busy = False
                try:
                    await workflow.wait_condition(self._has_work, timeout=wait)
                except TimeoutError:
                    pass
                self._busy = True
            if idle and not self._has_work() and workflow.now() >= deadline:
                await steps.settle_webhooks(self._webhooks)
                return ModerationResult(self._guild, self._user, self._standing.cases_recorded)
            await self._drain()
            await self._run_due_timers()
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await steps.settle_webhooks(self._webhooks)
                if not self._has_work():
                    workflow.continue_as_new(self._carried_input())

    def _has_work(self) -> bool:
        return bool(self._inbox) or any(a.approval_id in self._decisions for a in self._approvals)

    async def _drain(self) -> None:
        """Decisions first (a person is waiting to see them applied), then events in order."""
        while self._has_work():
            decided = [a for a in self._approvals if a.approval_id in self._decisions]
            if decided:
                a = decided[0]
                await self._conclude(a, self._decisions.pop(a.approval_id))
            else:
                event = self._inbox.pop(0)
                self._idle_since = workflow.now()
                self._in_hand = event
                await self._handle_event(event)
                self._in_hand = None
            self._processed_this_run += 1

    async def _handle_event(self, event: Event) -> None:
        if isinstance(event, Violation):
            await self._handle_report(event)
        elif isinstance(event, MemberRejoined):
            await self._handle_rejoin()
        elif isinstance(event, LiftRequest):
            policy = await self._policy()
            await self._lift(
                event.sanction,
                reason=event.reason,
                source="lift",
                source_key=event.source_key,
                policy=policy,
                moderator_id=event.moderator_id,
            )
        else:
            await self._handle_appeal(event)

    # ------------------------------------------------------------------------- signals, query

    @workflow.signal
    def report(self, violation: Violation) -> None:
        """Queue a violation; a key seen before (a re-delivered report) is ignored."""
        if self._seen(violation.source_key):
            return
        self._inbox.append(violation)

    @workflow.signal
    def member_rejoined(self, event: MemberRejoined) -> None:
        """The member joined again: a running sanction is re-applied."""
        self._inbox.append(event)

    @workflow.signal
    def lift(self, request: LiftRequest) -> None:
        """End a running ban or timeout early."""
        if self._seen(request.source_key):
            return
        self._inbox.append(request)

    @workflow.signal
    def appeal(self, request: AppealRequest) -> None:
        """The member asks for a sanction to be lifted; it goes to a person for a decision."""
        if self._seen(f"appeal:{request.appeal_id}"):
            return
        self._inbox.append(request)

    @workflow.signal(name=DECISION_SIGNAL)
    def decide(self, decision: ApprovalDecision) -> None:
        """A person decided a pending approval (already claimed in the database).

        Kept even if the approval is not known yet: the signal can overtake the workflow's
        own bookkeeping of the approval it just created.
        """
        self._decisions.setdefault(decision.approval_id, decision)

    @workflow.query
    def standing(self) -> StandingView:
        """The member's current standing, for moderators and the API."""
        now = workflow.now()
        s = expire(self._sanctions, now)
        return StandingView(
            active_points=active_points(
                self._standing.strikes, now, timedelta(days=self._decay_days)
            ),
            strikes=list(self._standing.strikes),
            cases_recorded=self._standing.cases_recorded,
            pending_reports=sum(isinstance(e, Violation) for e in [*self._inbox, self._in_hand]),
            busy=self._busy,
            banned=s.ban is not None,
            ban_until=s.ban.until if s.ban is not None else None,
            timeout_until=s.timeout.until if s.timeout is not None else None,
            pending_approvals=list(self._approvals),
        )

    def _seen(self, key: str) -> bool:
        keys = self._standing.recent_source_keys
        if key in keys:
            return True
        self._standing.recent_source_keys = remember_key(keys, key)
        return False

    # ------------------------------------------------------------------------- reports

    async def _handle_report(self, v: Violation) -> None:
        policy = await self._policy()
        review_action: str | None = None
        recorded = v
        if v.needs_review and not v.explicit and not v.already_applied:
            verdict = await self._review(v, policy)
            if verdict is not None:
                review_action = verdict.action
                note = f"AI review ({verdict.provider}): {verdict.action}, {verdict.reason}"
                if verdict.action == "none" and v.source == "report":
                    recorded = replace(
                        v, action="reviewed_no_action", points=0, reason=f"{v.reason} — {note}"
                    )
                else:
                    recorded = replace(v, reason=f"{v.reason} — {note}")
                    if verdict.action == "none":
                        review_action = None  # an admin's rule stands; a review only adds
        now = workflow.now()
        before = active_points(
            self._standing.strikes, now, timedelta(days=policy.strike_decay_days)
        )
        sanction = choose_sanction(
            action=v.action,
            explicit=v.explicit,
            already_applied=v.already_applied,
            duration_minutes=v.duration_minutes,
            points_before=before,
            new_points=recorded.points,
            ladder=policy.ladder,
            review_action=review_action,
        )
        # A moderator's own action (explicit, or done by hand) is described by the report's
        # case itself; a sanction the ladder adds becomes a case of its own.
        own_case = (
            sanction is not None
            and sanction.origin in ("explicit", "manual")
            and (v.already_applied or not policy.is_sensitive(sanction.action))
        )
        duration, expires = (
            _timing(sanction, now) if own_case and sanction is not None else (None, None)
        )
        case = await self._record(recorded, policy, duration_seconds=duration, expires_at=expires)
        self._standing.strikes.append(Strike(case.case_number, recorded.points, case.created_at))
        if v.already_applied and v.action in ("unban", "untimeout"):
            # lifted by hand in Discord: nothing is running any more
            ended = end_ban if v.action == "unban" else end_timeout
            self._sanctions = ended(self._sanctions)
        if sanction is None:
            return
        if sanction.origin == "manual":
            self._note_manual(sanction, now)
            return
        reason = v.reason
        if sanction.origin == "ladder":
            reason = f"{v.reason} (escalation: {sanction.points} active points)"
        if policy.is_sensitive(sanction.action):
            await self._request_approval(sanction, policy, reason, case, v)
            return
        await self._apply(
            sanction,
            policy,
            reason=reason,
            source=v.source if own_case else sanction.origin,
            source_key=f"{v.source_key}:sanction",
            record=not own_case,
            moderator_id=v.moderator_id,
        )

    async def _review(self, v: Violation, policy: ModerationPolicy) -> ReviewVerdict | None:
        """Ask the AI reviewer (activity by name); without an answer the ladder decides alone."""
        request = ReviewRequest(
            guild_id=v.guild_id,
            user_id=v.user_id,
            message=v.content or v.excerpt or v.reason,
            flagged_by=v.rule or ("report" if v.source == "report" else v.source),
            rules=policy.rules,
            culture=policy.culture,
            context=v.context,
            tier=policy.tier,
        )
        try:
            verdict: ReviewVerdict = await workflow.execute_activity(
                REVIEW_ACTIVITY,
                request,
                result_type=ReviewVerdict,
                start_to_close_timeout=timedelta(seconds=90),
                retry_policy=_HELPER_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("AI review of %s failed: %s", v.source_key, err)
            return None
        return verdict

    def _note_manual(self, sanction: Sanction, now: datetime) -> None:
        """A ban or timeout a moderator made by hand in Discord is the running sanction now."""
        if sanction.action == "ban":
            minutes = sanction.duration_minutes
            self._sanctions = with_ban(
                self._sanctions, now, None if minutes is None else timedelta(minutes=minutes)
            )
        elif sanction.action == "timeout":
            minutes = sanction.duration_minutes or DEFAULT_TIMEOUT_MINUTES
            self._sanctions = with_timeout(self._sanctions, now, timedelta(minutes=minutes))
            # Discord already holds it: never re-apply a chunk before its real end.
            t = self._sanctions.timeout
            if t is not None:
                self._sanctions = timeout_applied(
                    self._sanctions, now, min(t.until - now, MAX_TIMEOUT)
                )

    # ------------------------------------------------------------------------- sanctions

    async def _apply(
        self,
        sanction: Sanction,
        policy: ModerationPolicy,
        *,
        reason: str,
        source: str,
        source_key: str,
        record: bool,
        moderator_id: int | None = None,
    ) -> None:
        """Carry the sanction out on Discord (DM first for kick and ban) and record it."""
        now = workflow.now()
        action = sanction.action
        g, u = self._guild, self._user
        refused: str | None = None
        if action == "warn":
            await self._dm(
                policy,
                text("moderation.warned", policy.language, reason=reason),
                f"{source_key}:warn",
            )
            return
        if action == "timeout":
            minutes = sanction.duration_minutes or DEFAULT_TIMEOUT_MINUTES
            sanction = replace(sanction, duration_minutes=minutes)
            await self._dm(
                policy,
                text("moderation.timed_out", policy.language, minutes=minutes, reason=reason),
                f"{source_key}:dm",
                appeal="timeout",
            )
            updated = with_timeout(self._sanctions, now, timedelta(minutes=minutes))
            assert updated.timeout is not None
            chunk = min(updated.timeout.until - now, MAX_TIMEOUT)
            refused = await self._discord(
                ModerationActions.apply_timeout,
                TimeoutInput(g, u, int(chunk.total_seconds()), reason),
            )
            if refused is None:
                self._sanctions = timeout_applied(updated, now, chunk)
        elif action == "kick":
            await self._dm(
                policy,
                text("moderation.kicked", policy.language, reason=reason),
                f"{source_key}:dm",
            )
            refused = await self._discord(
                ModerationActions.kick_member, MemberActionInput(g, u, reason)
            )
        elif action == "ban":
            ban_minutes = sanction.duration_minutes
            notice = (
                text("moderation.banned_permanently", policy.language, reason=reason)
                if ban_minutes is None
                else text(
                    "moderation.banned_for", policy.language, minutes=ban_minutes, reason=reason
                )
            )
            await self._dm(policy, notice, f"{source_key}:dm", "ban")
            refused = await self._discord(ModerationActions.ban_member, BanInput(g, u, reason))
            if refused is None:
                self._sanctions = with_ban(
                    self._sanctions,
                    now,
                    None if ban_minutes is None else timedelta(minutes=ban_minutes),
                )
        if not record:
            return
        duration, expires = _timing(sanction, now)
        if refused is not None:
            action, reason = f"{action}_failed", f"{reason} — not applied: {refused}"
            duration, expires = None, None
        await self._record(
            self._case(action, reason, source, source_key, moderator_id),
            policy,
            duration_seconds=duration,
            expires_at=expires,
        )

    async def _lift(
        self,
        sanction: str,
        *,
        reason: str,
        source: str,
        source_key: str,
        policy: ModerationPolicy,
        moderator_id: int | None = None,
    ) -> bool:
        """Unban or lift the timeout now, forget it, and record the case; False if refused."""
        inp = MemberActionInput(self._guild, self._user, reason)
        if sanction == "ban":
            refused = await self._discord(ModerationActions.unban_member, inp)
            if refused is None:
                self._sanctions = end_ban(self._sanctions)
        else:
            refused = await self._discord(ModerationActions.remove_timeout, inp)
            if refused is None:
                self._sanctions = end_timeout(self._sanctions)
        action = LIFTS.get(sanction, "untimeout")
        if refused is not None:
            action, reason = f"{action}_failed", f"{reason} — not applied: {refused}"
        await self._record(self._case(action, reason, source, source_key, moderator_id), policy)
        return refused is None

    async def _handle_rejoin(self) -> None:
        """Re-ban (a running ban was lifted by hand outside the suite) or re-apply the timeout."""
        plan = rejoin_plan(self._sanctions, workflow.now())
        reason = "sanction still running when the member rejoined"
        if plan.reban:
            await self._discord(
                ModerationActions.ban_member, BanInput(self._guild, self._user, reason)
            )
        elif plan.timeout_for is not None:
            refused = await self._discord(
                ModerationActions.apply_timeout,
                TimeoutInput(
                    self._guild, self._user, int(plan.timeout_for.total_seconds()), reason
                ),
            )
            if refused is None:
                self._sanctions = timeout_applied(self._sanctions, workflow.now(), plan.timeout_for)

    async def _run_due_timers(self) -> None:
        now = workflow.now()
        due_ban = ban_due(self._sanctions, now)
        if due_ban is not None:
            policy = await self._policy()
            refused = await self._discord(
                ModerationActions.unban_member,
                MemberActionInput(self._guild, self._user, "temporary ban over"),
            )
            if refused is None:
                self._sanctions = end_ban(self._sanctions, due_ban.generation)
                key = f"ban-over:{self._user}:{due_ban.since.isoformat()}:{due_ban.generation}"
                await self._record(
                    self._case("unban", "Temporary ban over", "timer", key, None), policy
                )
            else:  # Discord refused for good (permissions): stop trying, say so in the record
                self._sanctions = end_ban(self._sanctions, due_ban.generation)
                workflow.logger.warning("unban at the end of a temporary ban failed: %s", refused)
        chunk = timeout_chunk_due(self._sanctions, now)
        if chunk is not None:
            refused = await self._discord(
                ModerationActions.apply_timeout,
                TimeoutInput(
                    self._guild, self._user, int(chunk.total_seconds()), "timeout continues"
                ),
            )
            self._sanctions = timeout_applied(self._sanctions, now, chunk)
        self._sanctions = expire(self._sanctions, now)
        for a in list(self._approvals):
            due = approval_due(a, now)
            if due == "alert":
                await self._alert(a)
            elif due in ("expire", "claimed_over"):
                await self._expire(a)

    # ------------------------------------------------------------------------- approvals

    async def _request_approval(
        self,
        sanction: Sanction,
        policy: ModerationPolicy,
        reason: str,
        case: RecordedCase,
        v: Violation,
    ) -> None:
        """Store the pending approval, ask on Telegram and in the mod-log, and carry on."""
        await self._open_approval(
            AwaitedApproval(
                approval_id=str(workflow.uuid4()),
                kind="sanction",
                action=sanction.action,
                reason=reason,
                requested_at=workflow.now(),
                expires_at=workflow.now() + timedelta(minutes=policy.approval_timeout_minutes),
                alert_at=workflow.now() + timedelta(minutes=policy.alert_after_minutes),
                duration_minutes=sanction.duration_minutes,
                case_number=case.case_number,
                source_key=v.source_key,
                origin=sanction.origin,
                timeout_policy=policy.timeout_policy,
                fallback_action=policy.fallback_action,
                fallback_duration_minutes=policy.fallback_duration_minutes,
                mod_log_channel_id=v.mod_log_channel_id or policy.mod_log_channel_id,
            ),
            requested_by=f"moderator:{v.moderator_id}" if v.moderator_id else v.source,
            excerpt=v.excerpt,
        )

    async def _handle_appeal(self, req: AppealRequest) -> None:
        policy = await self._policy()
        sanction = req.sanction if req.sanction in LIFTS else "ban"
        approval = AwaitedApproval(
            approval_id=str(workflow.uuid4()),
            kind="appeal",
            action=LIFTS[sanction],
            reason=f"Appeal: {req.text}",
            requested_at=workflow.now(),
            expires_at=workflow.now() + timedelta(minutes=policy.approval_timeout_minutes),
            alert_at=workflow.now() + timedelta(minutes=policy.alert_after_minutes),
            source_key=f"appeal:{req.appeal_id}",
            origin="appeal",
            appeal_id=req.appeal_id,
            sanction=sanction,
            timeout_policy="reject",  # an unanswered appeal is denied: there is no milder lift
            mod_log_channel_id=policy.mod_log_channel_id,
        )
        await self._activity(
            ApprovalRecordActivities.set_appeal_status,
            self._appeal_status(approval, req.text, "pending"),
        )
        await self._open_approval(approval, requested_by=f"member:{self._user}", excerpt=None)

    async def _open_approval(
        self, a: AwaitedApproval, *, requested_by: str, excerpt: str | None
    ) -> None:
        names = await self._optional(
            ModerationActions.describe_member, MemberActionInput(self._guild, self._user, "")
        )
        if not isinstance(names, MemberNames):
            names = MemberNames()
        request = ApprovalRequest(
            approval_id=a.approval_id,
            guild_id=self._guild,
            user_id=self._user,
            workflow_id=workflow.info().workflow_id,
            action=a.action,
            reason=a.reason,
            requested_by=requested_by,
            requested_at=a.requested_at,
            expires_at=a.expires_at,
            duration_minutes=a.duration_minutes,
            case_number=a.case_number,
            evidence=excerpt,
            guild_name=names.guild_name,
            user_name=names.user_name,
        )
        await self._activity(
            ApprovalRecordActivities.create_pending_approval,
            CreateApprovalInput(request, appeal_id=a.appeal_id),
        )
        self._approvals.append(a)
        # The Telegram activity stores its message id in the row itself (its retries need it).
        telegram_id = await self._helper(TELEGRAM_SEND_APPROVAL, request)
        if isinstance(telegram_id, int):
            self._update_approval(a.approval_id, telegram_message_id=telegram_id)
        if a.mod_log_channel_id is not None:
            message_id = await self._optional(
                ModerationActions.post_approval_request,
                ApprovalPostInput(
                    approval_id=a.approval_id,
                    channel_id=a.mod_log_channel_id,
                    guild_id=self._guild,
                    user_id=self._user,
                    action=a.action,
                    reason=a.reason,
                    expires_at=a.expires_at,
                    duration_minutes=a.duration_minutes,
                    case_number=a.case_number,
                    excerpt=excerpt,
                    modify_allowed=a.kind == "sanction",
                    title="Appeal" if a.kind == "appeal" else "Approval needed",
                ),
            )
            if isinstance(message_id, int):
                self._update_approval(
                    a.approval_id,
                    discord_channel_id=a.mod_log_channel_id,
                    discord_message_id=message_id,
                )

    async def _conclude(self, a: AwaitedApproval, decision: ApprovalDecision) -> None:
        """Carry out a person's decision and show it where they were asked."""
        a = self._current(a)
        self._drop_approval(a.approval_id)
        policy = await self._policy()
        verb = decision.decision
        if verb == "modify" and decision_problem(decision, a.action) is not None:
            workflow.logger.warning("ignoring an invalid modify on %s", a.approval_id)
            verb = "reject"
        who = decision.decided_by
        if a.kind == "appeal":
            granted = verb == "approve"
            if granted:
                assert a.sanction is not None
                await self._lift(
                    a.sanction,
                    reason=f"Appeal granted by {who}",
                    source="appeal",
                    source_key=a.source_key,
                    policy=policy,
                )
            await self._finish_appeal(a, policy, granted=granted)
            status = "approved" if granted else "rejected"
            final = a.action if granted else None
            summary = f"Appeal {'granted' if granted else 'denied'} by {who}"
            await self._show_outcome(a, status, final, who, summary)
            return
        final_action: str | None = None
        if verb == "reject":
            summary = f"Rejected by {who}: nothing done"
        else:
            if verb == "modify":
                assert decision.action is not None
                sanction = Sanction(decision.action, decision.duration_minutes, origin="approval")
            else:
                sanction = Sanction(a.action, a.duration_minutes, origin="approval")
            final_action = sanction.action
            await self._apply(
                sanction,
                policy,
                reason=f"{a.reason} ({'approved' if verb == 'approve' else 'modified'} by {who})",
                source="approval",
                source_key=f"approval:{a.approval_id}",
                record=True,
            )
            summary = f"{_label(sanction)} — {'approved' if verb == 'approve' else 'modified'}"
            summary += f" by {who}"
        status = {"approve": "approved", "modify": "modified", "reject": "rejected"}[verb]
        await self._show_outcome(a, status, final_action, who, summary)

    async def _expire(self, a: AwaitedApproval) -> None:
        """The deadline passed: expire it (or find the decision someone claimed just before)."""
        a = self._current(a)
        result: ExpireResult = await self._activity(
            ApprovalRecordActivities.expire_approval,
            ExpireApprovalInput(a.approval_id, workflow.now()),
        )
        if not result.expired:
            if result.status in _DECISION_OF_STATUS and a.claimed_wait_until is None:
                # Decided a moment before the deadline: its signal is on the way.
                self._update_approval(
                    a.approval_id, claimed_wait_until=workflow.now() + CLAIMED_GRACE
                )
                return
            if result.status in _DECISION_OF_STATUS:  # the signal never came: act on the row
                await self._conclude(a, self._decision_from_row(a, result))
                return
            workflow.logger.warning("approval %s is gone (%s)", a.approval_id, result.status)
            self._drop_approval(a.approval_id)
            return
        self._drop_approval(a.approval_id)
        policy = await self._policy()
        if a.kind == "appeal":
            await self._finish_appeal(a, policy, granted=False)
            await self._show_outcome(a, "expired", None, None, "Expired: appeal denied")
            return
        if a.timeout_policy != "fallback":
            await self._show_outcome(a, "expired", None, None, "Expired: nothing done")
            return
        minutes = a.fallback_duration_minutes if a.fallback_action in ("timeout", "ban") else None
        fallback = Sanction(a.fallback_action, minutes, origin="fallback")
        await self._apply(
            fallback,
            policy,
            reason=f"{a.reason} (approval expired; fallback)",
            source="approval",
            source_key=f"approval:{a.approval_id}",
            record=True,
        )
        await self._activity(
            ApprovalRecordActivities.finish_approval,
            FinishApprovalInput(a.approval_id, fallback.action),
        )
        summary = f"Expired: {_label(fallback)} instead"
        await self._show_outcome(a, "expired", fallback.action, None, summary)

    def _decision_from_row(self, a: AwaitedApproval, result: ExpireResult) -> ApprovalDecision:
        verb = _DECISION_OF_STATUS[result.status]
        channel = result.decision_channel or "api"
        return ApprovalDecision(
            approval_id=a.approval_id,
            decision=verb,  # type: ignore[arg-type] # one of approve/reject/modify
            decided_by=result.decided_by or "unknown",
            channel=channel,  # type: ignore[arg-type] # the row's CHECK keeps it valid
            action=result.final_action if verb == "modify" else None,
            duration_minutes=a.fallback_duration_minutes
            if verb == "modify" and result.final_action == "timeout"
            else None,
        )

    async def _alert(self, a: AwaitedApproval) -> None:
        """Pending too long: tell the staff once (Telegram and the mod-log)."""
        self._update_approval(a.approval_id, alerted=True)
        first = await self._activity(
            ApprovalRecordActivities.mark_approval_alerted,
            MarkAlertedInput(a.approval_id, workflow.now()),
        )
        if not first:
            return
        waited = int((workflow.now() - a.requested_at).total_seconds() // 60)
        alert = text(  # the same words as the maintenance sweep's (workflows/maintenance.py)
            "moderation.approval_pending_alert",
            "en",  # no policy load here: an extra activity would change running histories
            minutes=waited,
            action=a.action,
            member=f"<@{self._user}>",
            reason=a.reason[:200],
            approval_id=a.approval_id,
        )
        await self._helper(TELEGRAM_ALERT, StaffAlert(self._guild, alert, a.approval_id))
        if a.mod_log_channel_id is not None:
            await self._optional(
                ModerationActions.post_alert,
                AlertInput(a.mod_log_channel_id, alert, f"alert:{a.approval_id}"),
            )

    async def _show_outcome(
        self,
        a: AwaitedApproval,
        status: str,
        final_action: str | None,
        decided_by: str | None,
        summary: str,
    ) -> None:
        """Edit the Telegram and the Discord request messages to show how it ended."""
        outcome = ApprovalOutcome(
            approval_id=a.approval_id,
            guild_id=self._guild,
            status=status,
            requested_action=a.action,
            final_action=final_action,
            decided_by=decided_by,
            summary=summary,
            telegram_message_id=a.telegram_message_id,
            discord_channel_id=a.discord_channel_id,
            discord_message_id=a.discord_message_id,
        )
        await self._helper(TELEGRAM_SHOW_OUTCOME, outcome)
        if a.discord_channel_id is not None and a.discord_message_id is not None:
            title = "Appeal" if a.kind == "appeal" else "Approval"
            await self._optional(
                ModerationActions.edit_approval_message,
                ApprovalEditInput(
                    a.discord_channel_id,
                    a.discord_message_id,
                    f"{title} {status}",
                    summary,
                    status,
                ),
            )

    async def _finish_appeal(
        self, a: AwaitedApproval, policy: ModerationPolicy, *, granted: bool
    ) -> None:
        await self._activity(
            ApprovalRecordActivities.set_appeal_status,
            self._appeal_status(
                a, a.reason.removeprefix("Appeal: "), "granted" if granted else "denied"
            ),
        )
        key = "moderation.appeal_granted" if granted else "moderation.appeal_denied"
        await self._dm(policy, text(key, policy.language), f"{a.source_key}:result")

    def _appeal_status(self, a: AwaitedApproval, text: str, status: str) -> AppealStatusInput:
        assert a.appeal_id is not None
        return AppealStatusInput(
            appeal_id=a.appeal_id,
            guild_id=self._guild,
            user_id=self._user,
            sanction=a.sanction or "ban",
            text=text,
            status=status,
            approval_id=a.approval_id,
            at=workflow.now(),
        )

    def _current(self, a: AwaitedApproval) -> AwaitedApproval:
        """The newest version of an approval (its message ids may have been filled in since)."""
        return next((x for x in self._approvals if x.approval_id == a.approval_id), a)

    def _update_approval(self, approval_id: str, **changes: Any) -> None:
        self._approvals = [
            replace(a, **changes) if a.approval_id == approval_id else a for a in self._approvals
        ]

    def _drop_approval(self, approval_id: str) -> None:
        self._approvals = [a for a in self._approvals if a.approval_id != approval_id]

    # ------------------------------------------------------------------------- plumbing

    async def _policy(self) -> ModerationPolicy:
        policy: ModerationPolicy = await workflow.execute_activity_method(
            ModerationPolicyActivities.load_moderation_policy,
            self._guild,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RECORD_RETRY,
        )
        self._decay_days = policy.strike_decay_days
        return policy

    def _case(
        self, action: str, reason: str, source: str, key: str, moderator_id: int | None
    ) -> Violation:
        return Violation(
            guild_id=self._guild,
            user_id=self._user,
            source_key=key,
            source=source,
            action=action,
            reason=reason,
            occurred_at=workflow.now(),
            points=0,
            moderator_id=moderator_id,
        )

    async def _record(
        self,
        v: Violation,
        policy: ModerationPolicy,
        *,
        duration_seconds: int | None = None,
        expires_at: datetime | None = None,
    ) -> RecordedCase:
        case: RecordedCase = await workflow.execute_activity_method(
            RecordActivities.record_case,
            RecordCaseInput(
                violation=v,
                workflow_id=workflow.info().workflow_id,
                duration_seconds=duration_seconds,
                expires_at=expires_at,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RECORD_RETRY,
        )
        self._standing.cases_recorded += 1
        if workflow.patched(steps.WEBHOOK_PATCH):
            delivery = steps.webhook(
                case.guild_id,
                "case.created",
                f"case-{case.case_number}",
                {
                    "case_number": case.case_number,
                    "user_id": str(case.user_id),
                    "action": case.action,
                    "reason": case.reason,
                    "rule": case.rule,
                    "source": case.source,
                    "created_at": case.created_at.isoformat(),
                },
            )
            self._webhooks.append(delivery)
        channel = v.mod_log_channel_id or policy.mod_log_channel_id
        if channel is not None:
            await self._post_mod_log(channel, case)
        return case

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

    async def _dm(
        self, policy: ModerationPolicy, text: str, key: str, appeal: str | None = None
    ) -> None:
        """Tell the member; a DM they do not accept is fine (the activity reports it)."""
        if not policy.dm_members:
            return
        button = (
            appeal_custom_id(self._guild, appeal)
            if appeal is not None and policy.appeals_enabled
            else None
        )
        await self._optional(
            ModerationActions.dm_member,
            DirectMessageInput(self._guild, self._user, text, key, button, policy.language),
        )

    async def _discord(self, method: Any, arg: Any) -> str | None:
        """A Discord action; None when done, else why Discord refused (after the retries)."""
        try:
            result: ActionResult = await workflow.execute_activity_method(
                method,
                arg,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_DISCORD_RETRY,
            )
        except ActivityError as err:
            cause = err.cause if err.cause is not None else err
            workflow.logger.warning("Discord refused %s: %s", arg, cause)
            return str(cause)[:200]
        if not result.applied:
            workflow.logger.info("%s: %s", type(arg).__name__, result.note)
        return None

    async def _optional(self, method: Any, arg: Any) -> Any:
        """A Discord post the sanction does not depend on: failure is logged, not raised."""
        try:
            return await workflow.execute_activity_method(
                method,
                arg,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_DISCORD_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("%s failed: %s", type(arg).__name__, err)
            return None

    async def _activity(self, method: Any, arg: Any) -> Any:
        """A database write the workflow needs: retried until it succeeds."""
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RECORD_RETRY,
        )

    async def _helper(self, name: str, arg: Any) -> Any:
        """An activity another part of the suite provides (Telegram), called by name; optional."""
        try:
            return await workflow.execute_activity(
                name,
                arg,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_HELPER_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("%s failed: %s", name, err)
            return None

    def _carried_input(self) -> ModerationInput:
        """Expired strikes stay in the database record but are not carried forward."""
        now = workflow.now()
        decay = timedelta(days=self._decay_days)
        live = [s for s in self._standing.strikes if now - s.at < decay]
        return ModerationInput(
            guild_id=self._guild,
            user_id=self._user,
            standing=replace(self._standing, strikes=live),
            sanctions=self._sanctions,
            approvals=self._approvals,
            strike_decay_days=self._decay_days,
            idle_since=self._idle_since,
            continue_after=self._continue_after,
        )

    def _should_continue_as_new(self) -> bool:
        return (
            self._processed_this_run >= self._continue_after
            or workflow.info().is_continue_as_new_suggested()
        )


def _timing(sanction: Sanction | None, now: datetime) -> tuple[int | None, datetime | None]:
    """How long a timed sanction lasts (seconds) and when it ends, for its case record."""
    if sanction is None or sanction.action not in ("timeout", "ban"):
        return None, None
    minutes = sanction.duration_minutes
    if minutes is None:
        if sanction.action == "ban":
            return None, None
        minutes = DEFAULT_TIMEOUT_MINUTES
    return minutes * 60, now + timedelta(minutes=minutes)


def _label(s: Sanction) -> str:
    if s.action in ("timeout", "ban") and s.duration_minutes:
        return f"{s.action} for {s.duration_minutes} min"
    if s.action == "ban":
        return "permanent ban"
    return s.action
