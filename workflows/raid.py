"""A server's raid lockdown: `raid:{guild}`, one at a time, started by signal-with-start.

It snapshots what it will change (once, recorded in history), locks the server down (verification
level, invites paused, @everyone denied posting in the chosen channels, optional slowmode), alerts
the staff in Discord and Telegram, and collects the suspects the gateway reports. Once a burst of
suspects settles it asks, through the approval path every channel shares, to remove them (ban 200
a call, or kick) and acts only on a person's yes. It deletes the invite most raiders came through,
keeps an incident log, reminds the staff every hour, and lifts itself after a quiet period (or on
`unlock`), restoring everything from the snapshot. Long lockdowns continue as new with their state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows import steps

with workflow.unsafe.imports_passed_through():
    from activities.approval_records import (
        ApprovalRecordActivities,
        CreateApprovalInput,
        ExpireApprovalInput,
        ExpireResult,
    )
    from activities.moderation_actions import (
        AlertInput,
        ApprovalEditInput,
        ApprovalPostInput,
        ModerationActions,
    )
    from activities.raid import (
        ApplyInput,
        IncidentRef,
        IncidentUpdate,
        InviteInput,
        InviteResult,
        MembersInput,
        OutcomeInput,
        RaidActivities,
        RemovalInput,
        RemovalResult,
        RestoreInput,
        SnapshotInput,
    )
    from domain.approvals import (
        DECISION_SIGNAL,
        TELEGRAM_ALERT,
        TELEGRAM_SEND_APPROVAL,
        TELEGRAM_SHOW_OUTCOME,
        ApprovalDecision,
        ApprovalOutcome,
        ApprovalRequest,
        StaffAlert,
    )
    from domain.lockdown import (
        GuildSnapshot,
        LockdownPlan,
        LockdownSettings,
        RaidReport,
        RaidSuspect,
        SuspectBook,
        UnlockRequest,
        batches,
        dominant_invite,
        lift_due,
        plan_lockdown,
        removal_summary,
    )
    from storage.raid import NewIncident

REPORT_SIGNAL = "raid_report"
UNLOCK_SIGNAL = "unlock"
STATUS_QUERY = "status"
SETTLE = timedelta(seconds=20)
"""A removal proposal waits for the burst of suspects to settle this long..."""
PROPOSAL_MAX_WAIT = timedelta(minutes=2)
"""...but no longer than this after the first suspect it will name."""
MEMBER_BATCH = 500
HISTORY_LIMIT = 5_000
"""Continue as new past this many history events (and whenever Temporal suggests it)."""
REMOVED_OUTCOME = {"ban": "banned", "kick": "kicked", "timeout": "timed_out"}

_DISCORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)


def raid_workflow_id(guild_id: int) -> str:
    """One lockdown per server: the id names the guild."""
    return f"raid:{guild_id}"


@dataclass(frozen=True)
class Proposal:
    """A removal waiting for a person: which members, and where it was asked."""

    approval_id: str
    user_ids: tuple[int, ...]
    action: str
    reason: str
    expires_at: datetime
    telegram_message_id: int | None = None
    discord_channel_id: int | None = None
    discord_message_id: int | None = None


@dataclass
class LockdownCarry:
    """Everything a running lockdown knows, carried across continue-as-new."""

    incident: IncidentRef
    settings: LockdownSettings
    snapshot: GuildSnapshot
    plan: LockdownPlan
    started_at: datetime
    last_activity: datetime
    next_reminder: datetime
    suspects: list[RaidSuspect] = field(default_factory=list)
    unproposed: list[int] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    handled: list[int] = field(default_factory=list)
    unproposed_since: datetime | None = None
    proposals: list[Proposal] = field(default_factory=list)
    removed: int = 0
    invite_handled: bool = False
    lift_at_latest: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    lifted: bool = False


@dataclass
class RaidLockdownInput:
    """Why the lockdown starts; `carry` when it continues as new."""

    guild_id: int
    trigger: str = "detected"
    started_by: str = "raid detector"
    reason: str = "raid detected"
    duration_minutes: int | None = None
    """A manual lockdown for a fixed time lifts then, quiet or not (unlock still ends it)."""
    settings: LockdownSettings | None = None
    """The server's lockdown settings when the starter has them (the gateway does): one
    activity less before the server is locked. None: read from the stored config."""
    carry: LockdownCarry | None = None


@dataclass(frozen=True)
class LockdownStatus:
    """What the lockdown is doing, for `/raid status`, the API and the gateway."""

    guild_id: int
    active: bool
    incident_number: int | None
    trigger: str
    started_by: str
    reason: str
    started_at: datetime | None
    last_activity_at: datetime | None
    lifts_at: datetime | None
    channels_locked: int
    suspects: int
    left: int
    removed: int
    pending_approval_ids: tuple[str, ...]


@dataclass(frozen=True)
class RaidLockdownResult:
    """How the lockdown ended."""

    incident_number: int
    lifted_by: str
    suspects: int
    removed: int


@workflow.defn(name="RaidLockdownWorkflow")
class RaidLockdownWorkflow:
    """Lock down, collect suspects, remove them on approval, lift and restore."""

    def __init__(self) -> None:
        self._inbox: list[RaidReport] = []
        self._decisions: dict[str, ApprovalDecision] = {}
        self._concluded: set[str] = set()
        self._unlock: UnlockRequest | None = None
        self._c: LockdownCarry | None = None
        self._book = SuspectBook()
        self._inp = RaidLockdownInput(guild_id=0)
        self._webhooks: list[Any] = []  # deliveries still running, awaited before the end

    # ------------------------------------------------------------------ signals and queries

    @workflow.signal(name=REPORT_SIGNAL)
    def raid_report(self, report: RaidReport) -> None:
        """The gateway saw more raid activity (suspects, members leaving, or just joins)."""
        self._inbox.append(report)

    @workflow.signal(name=UNLOCK_SIGNAL)
    def unlock(self, req: UnlockRequest) -> None:
        """A person ends the lockdown (/unlock or the API)."""
        if self._unlock is None:
            self._unlock = req

    @workflow.signal(name=DECISION_SIGNAL)
    def decide(self, decision: ApprovalDecision) -> None:
        """A person decided a removal proposal (already claimed in the database)."""
        if decision.approval_id not in self._concluded:
            self._decisions.setdefault(decision.approval_id, decision)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> LockdownStatus:
        """The lockdown as it stands."""
        c, inp = self._c, self._inp
        return LockdownStatus(
            guild_id=inp.guild_id,
            active=c is None or not c.lifted,  # None: still locking
            incident_number=c.incident.number if c else None,
            trigger=inp.trigger,
            started_by=inp.started_by,
            reason=inp.reason,
            started_at=c.started_at if c else None,
            last_activity_at=c.last_activity if c else None,
            lifts_at=self._lift_at() if c and not c.lifted else None,
            channels_locked=len(c.plan.channels) if c else 0,
            suspects=len(self._book.suspects),
            left=len(self._book.left),
            removed=c.removed if c else 0,
            pending_approval_ids=tuple(p.approval_id for p in c.proposals) if c else (),
        )

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, inp: RaidLockdownInput) -> RaidLockdownResult:
        """Lock, then handle events until lifted and every proposal is settled."""
        self._inp = inp
        if inp.carry is None:
            self._c = await self._start(inp)
        else:
            self._c = inp.carry
            self._book = SuspectBook(
                {s.user_id: s for s in inp.carry.suspects},
                list(inp.carry.unproposed),
                set(inp.carry.left),
                set(inp.carry.handled),
            )
        c = self._c
        while not (c.lifted and not c.proposals):
            await self._wait_next(c)
            await self._handle_events(c)
            await self._handle_due(c, workflow.now())
            if self._history_full() and not (self._inbox or self._decisions or self._unlock):
                await steps.settle_webhooks(self._webhooks)
                if not (self._inbox or self._decisions or self._unlock):  # none came meanwhile
                    workflow.continue_as_new(replace(inp, carry=self._carry(c)))
        await steps.settle_webhooks(self._webhooks)
        return RaidLockdownResult(
            c.incident.number, c.lifted_by or "?", len(self._book.suspects), c.removed
        )

    async def _start(self, inp: RaidLockdownInput) -> LockdownCarry:
        """Snapshot (read only), lock, then record and alert: locking comes first."""
        now = workflow.now()
        settings: LockdownSettings = inp.settings or await self._db(
            RaidActivities.load_lockdown_settings, inp.guild_id
        )
        snapshot: GuildSnapshot = await self._discord(
            RaidActivities.snapshot_guild, SnapshotInput(inp.guild_id, settings)
        )
        plan = plan_lockdown(snapshot, settings)
        problem = await self._try_discord(
            RaidActivities.apply_lockdown,
            ApplyInput(inp.guild_id, plan, f"Raid lockdown: {inp.reason}"),
        )
        info = workflow.info()
        incident: IncidentRef = await self._db(
            RaidActivities.open_raid_incident,
            NewIncident(
                inp.guild_id,
                info.workflow_id,
                info.run_id,
                inp.trigger,
                inp.started_by,
                inp.reason,
                now,
            ),
        )
        await self._db(
            RaidActivities.update_raid_incident,
            IncidentUpdate(incident.incident_id, now, snapshot=snapshot),
        )
        c = LockdownCarry(
            incident=incident,
            settings=settings,
            snapshot=snapshot,
            plan=plan,
            started_at=now,
            last_activity=now,
            next_reminder=now + timedelta(minutes=settings.reminder_minutes),
        )
        if inp.duration_minutes:
            c.lift_at_latest = now + timedelta(minutes=inp.duration_minutes)
        self._c = c
        what = self._lock_summary(plan) + (f" (not all applied: {problem})" if problem else "")
        await self._log(c, f"locked: {what}")
        await self._alert(
            c,
            f"🚨 Raid lockdown #{incident.number} started ({inp.started_by}): {inp.reason}\n"
            f"{what}.\nIt lifts after {settings.quiet_minutes} quiet minutes, or with /unlock.",
            "start",
        )
        if workflow.patched(steps.WEBHOOK_PATCH):
            started = steps.webhook(
                inp.guild_id,
                "raid.started",
                f"raid-start-{incident.number}",
                {
                    "incident": incident.number,
                    "trigger": inp.trigger,
                    "started_by": inp.started_by,
                    "reason": inp.reason,
                    "started_at": now.isoformat(),
                    "summary": what,
                },
            )
            self._webhooks.append(started)
        return c

    def _lock_summary(self, plan: LockdownPlan) -> str:
        parts = [f"{len(plan.channels)} channels locked"]
        if plan.verification_level is not None:
            parts.append(f"verification level raised to {plan.verification_level}")
        if plan.pause_invites:
            parts.append("invites paused")
        return ", ".join(parts)

    # ------------------------------------------------------------------ waiting

    def _lift_at(self) -> datetime:
        c = self._c
        assert c is not None
        if c.lift_at_latest is not None:
            return c.lift_at_latest  # a fixed-time manual lockdown
        return lift_due(c.last_activity, c.settings)

    def _next_due(self, c: LockdownCarry) -> datetime | None:
        times: list[datetime] = [p.expires_at for p in c.proposals]
        if not c.lifted:
            times += [self._lift_at(), c.next_reminder]
        if c.unproposed_since is not None and c.settings.propose_removal:
            times.append(self._proposal_due(c))
        return min(times, default=None)

    def _proposal_due(self, c: LockdownCarry) -> datetime:
        assert c.unproposed_since is not None
        return min(c.last_activity + SETTLE, c.unproposed_since + PROPOSAL_MAX_WAIT)

    async def _wait_next(self, c: LockdownCarry) -> None:
        due = self._next_due(c)
        timeout = None if due is None else max(due - workflow.now(), timedelta(0))
        if timeout == timedelta(0):
            return
        try:
            await workflow.wait_condition(
                lambda: (
                    bool(self._inbox or self._decisions)
                    or (self._unlock is not None and not c.lifted)
                ),
                timeout=timeout,
            )
        except TimeoutError:
            pass

    # ------------------------------------------------------------------ events

    async def _handle_events(self, c: LockdownCarry) -> None:
        while self._inbox:
            reports, self._inbox = self._inbox, []
            await self._take_reports(c, reports)
        for approval_id in list(self._decisions):
            proposal = self._current(c, approval_id)
            decision = self._decisions.pop(approval_id)
            if proposal is not None:
                await self._conclude(c, proposal, decision)

    async def _take_reports(self, c: LockdownCarry, reports: list[RaidReport]) -> None:
        new: list[RaidSuspect] = []
        left: list[int] = []
        for report in reports:
            new.extend(s for s in report.suspects if self._book.add(s))
            left.extend(u for u in report.left_user_ids if self._book.mark_left(u))
        if not c.lifted:
            c.last_activity = workflow.now()
        if new and c.unproposed_since is None and not c.lifted:
            c.unproposed_since = workflow.now()
        for chunk in batches(new, MEMBER_BATCH):
            await self._db(
                RaidActivities.record_raid_members,
                MembersInput(c.incident.incident_id, self._inp.guild_id, chunk),
            )
        if left:
            await self._outcome(c, tuple(left), "left")
        if new and not c.invite_handled:
            await self._maybe_delete_invite(c)

    async def _maybe_delete_invite(self, c: LockdownCarry) -> None:
        code = dominant_invite(self._book.suspects.values())
        if code is None:
            return
        c.invite_handled = True
        result = await self._try_discord_result(
            RaidActivities.delete_raid_invite,
            InviteInput(self._inp.guild_id, code, f"Raid lockdown #{c.incident.number}"),
        )
        if not isinstance(result, InviteResult):
            await self._log(c, f"could not delete the raiders' invite {code}")
            return
        creator = f"<@{result.creator_id}>" if result.creator_id else "unknown"
        what = f"raiders' invite {code} (created by {creator}, {result.uses} uses) "
        what += "deleted" if result.deleted else "was already gone"
        await self._db(
            RaidActivities.update_raid_incident,
            IncidentUpdate(
                c.incident.incident_id,
                workflow.now(),
                log=what,
                raid_invite_code=code,
                raid_invite_creator_id=result.creator_id,
                invite_deleted=result.deleted,
            ),
        )
        await self._alert(c, f"Raid lockdown #{c.incident.number}: {what}.", f"invite:{code}")

    # ------------------------------------------------------------------ timers

    async def _handle_due(self, c: LockdownCarry, now: datetime) -> None:
        if c.settings.propose_removal and c.unproposed_since is not None:
            if now >= self._proposal_due(c):
                await self._propose(c)
        for proposal in list(c.proposals):
            if now >= proposal.expires_at and proposal.approval_id not in self._decisions:
                await self._expire(c, proposal)
        if c.lifted:
            return
        if self._unlock is not None:
            await self._lift(c, self._unlock.by, self._unlock.reason or "unlocked")
        elif now >= self._lift_at():
            why = "fixed duration over" if self._inp.duration_minutes else "quiet period over"
            await self._lift(c, "auto", why)
        elif now >= c.next_reminder:
            await self._remind(c, now)

    async def _remind(self, c: LockdownCarry, now: datetime) -> None:
        c.next_reminder = now + timedelta(minutes=c.settings.reminder_minutes)
        minutes = int((now - c.started_at).total_seconds() // 60)
        pending = sum(len(p.user_ids) for p in c.proposals)
        text = (
            f"⏳ Raid lockdown #{c.incident.number} still active after {minutes} min: "
            f"{len(self._book.suspects)} suspects, {c.removed} removed, "
            f"{pending} awaiting approval. It lifts at "
            f"{self._lift_at():%H:%M} UTC if it stays quiet, or with /unlock."
        )
        if c.plan.pause_invites:
            await self._try_discord(RaidActivities.renew_invite_pause, self._inp.guild_id)
        await self._alert(c, text, f"remind:{minutes}")

    async def _lift(self, c: LockdownCarry, by: str, reason: str) -> None:
        """Restore everything from the snapshot, close the incident, tell the staff."""
        problem = await self._try_discord(
            RaidActivities.restore_lockdown,
            RestoreInput(c.snapshot, c.plan, f"Raid lockdown #{c.incident.number} lifted"),
        )
        c.lifted, c.lifted_by, c.lift_reason = True, by, reason
        restored = "everything restored" if problem is None else f"restore incomplete: {problem}"
        await self._db(
            RaidActivities.update_raid_incident,
            IncidentUpdate(
                c.incident.incident_id,
                workflow.now(),
                log=f"lifted by {by} ({reason}); {restored}",
                lifted_by=by,
                lift_reason=reason,
            ),
        )
        await self._alert(
            c,
            f"✅ Raid lockdown #{c.incident.number} lifted by {by} ({reason}); {restored}. "
            f"{len(self._book.suspects)} suspects, {c.removed} removed.",
            "lift",
        )
        if workflow.patched(steps.WEBHOOK_PATCH):
            delivery = steps.webhook(
                self._inp.guild_id,
                "raid.lifted",
                f"raid-lift-{c.incident.number}",
                {
                    "incident": c.incident.number,
                    "lifted_by": by,
                    "reason": reason,
                    "restored": problem is None,
                    "suspects": len(self._book.suspects),
                    "removed": c.removed,
                },
            )
            self._webhooks.append(delivery)  # retries stop when the workflow ends: run waits

    # ------------------------------------------------------------------ removal approvals

    async def _propose(self, c: LockdownCarry) -> None:
        c.unproposed_since = None
        ids = self._book.take_proposal()
        if not ids:
            return
        now = workflow.now()
        action = c.settings.removal_action
        who = removal_summary(action, len(ids))
        proposal = Proposal(
            approval_id=str(workflow.uuid4()),
            user_ids=ids,
            action=action,
            reason=f"Raid lockdown #{c.incident.number}: {who}",
            expires_at=now + timedelta(minutes=c.settings.approval_timeout_minutes),
        )
        request = ApprovalRequest(
            approval_id=proposal.approval_id,
            guild_id=self._inp.guild_id,
            user_id=None,
            workflow_id=workflow.info().workflow_id,
            action=action,
            reason=proposal.reason,
            requested_by="raid lockdown",
            requested_at=now,
            expires_at=proposal.expires_at,
            evidence=self._evidence(ids),
            user_name=who,
        )
        await self._db(
            ApprovalRecordActivities.create_pending_approval, CreateApprovalInput(request)
        )
        c.proposals.append(proposal)
        telegram_id = await steps.helper(TELEGRAM_SEND_APPROVAL, request)
        if isinstance(telegram_id, int):
            self._set_proposal(c, proposal.approval_id, telegram_message_id=telegram_id)
        channel = c.settings.mod_log_channel_id
        if channel is not None:
            message_id = await self._try_discord_result(
                ModerationActions.post_approval_request,
                ApprovalPostInput(
                    approval_id=proposal.approval_id,
                    channel_id=channel,
                    guild_id=self._inp.guild_id,
                    user_id=None,
                    action=action,
                    reason=proposal.reason,
                    expires_at=proposal.expires_at,
                    excerpt=request.evidence,
                    modify_allowed=False,
                    title="Raid: remove these accounts?",
                    members_text=who,
                ),
            )
            if isinstance(message_id, int):
                self._set_proposal(
                    c,
                    proposal.approval_id,
                    discord_channel_id=channel,
                    discord_message_id=message_id,
                )
        await self._log(c, f"asked to {who} (approval {proposal.approval_id})")

    def _evidence(self, ids: tuple[int, ...]) -> str:
        shown = []
        for user_id in ids[:15]:
            s = self._book.suspects[user_id]
            name = s.username or str(user_id)
            shown.append(f"{name} ({user_id}): {', '.join(s.reasons[:2]) or 'suspect'}")
        more = f"; and {len(ids) - 15} more" if len(ids) > 15 else ""
        return "; ".join(shown) + more

    def _set_proposal(self, c: LockdownCarry, approval_id: str, **changes: Any) -> None:
        c.proposals = [
            replace(p, **changes) if p.approval_id == approval_id else p for p in c.proposals
        ]

    def _current(self, c: LockdownCarry, approval_id: str) -> Proposal | None:
        return next((p for p in c.proposals if p.approval_id == approval_id), None)

    async def _conclude(
        self, c: LockdownCarry, proposal: Proposal, decision: ApprovalDecision
    ) -> None:
        """Carry out a person's decision on a removal proposal, skipping those who left."""
        proposal = self._current(c, proposal.approval_id) or proposal
        c.proposals = [p for p in c.proposals if p.approval_id != proposal.approval_id]
        self._concluded.add(proposal.approval_id)
        who = decision.decided_by
        action = proposal.action if decision.decision == "approve" else decision.action
        if decision.decision == "reject" or action not in REMOVED_OUTCOME:
            await self._outcome(c, proposal.user_ids, "kept")
            summary = f"Rejected by {who}: nobody removed"
            if decision.decision == "modify":
                summary = f"Modified by {who} to {action}: nobody removed"
            await self._show(c, proposal, "rejected", None, who, summary)
            return
        present = tuple(u for u in proposal.user_ids if u not in self._book.left)
        result = RemovalResult((), ())
        if present:
            result = await self._removal(c, proposal, action, present, decision)
        await self._outcome(c, result.removed, REMOVED_OUTCOME[action])
        await self._outcome(c, result.failed, "failed")
        c.removed += len(result.removed)  # counted once the record says so
        skipped = len(proposal.user_ids) - len(present)
        summary = (
            f"{action}: {len(result.removed)} removed, {len(result.failed)} failed, "
            f"{skipped} had already left — approved by {who}"
        )
        status = "approved" if decision.decision == "approve" else "modified"
        await self._show(c, proposal, status, action, who, summary)
        await self._log(c, summary)

    async def _removal(
        self,
        c: LockdownCarry,
        proposal: Proposal,
        action: str,
        user_ids: tuple[int, ...],
        decision: ApprovalDecision,
    ) -> RemovalResult:
        result = await self._try_discord_result(
            RaidActivities.remove_raiders,
            RemovalInput(
                guild_id=self._inp.guild_id,
                user_ids=user_ids,
                action=action,
                reason=f"{proposal.reason} (by {decision.decided_by})",
                delete_message_seconds=c.settings.delete_message_hours * 3600,
                timeout_minutes=decision.duration_minutes,
            ),
        )
        return result if isinstance(result, RemovalResult) else RemovalResult((), user_ids)

    async def _expire(self, c: LockdownCarry, proposal: Proposal) -> None:
        result: ExpireResult = await self._db(
            ApprovalRecordActivities.expire_approval,
            ExpireApprovalInput(proposal.approval_id, workflow.now()),
        )
        if not result.expired and result.status in ("approved", "modified", "rejected"):
            verb = {"approved": "approve", "modified": "modify", "rejected": "reject"}
            decision = ApprovalDecision(
                approval_id=proposal.approval_id,
                decision=verb[result.status],  # type: ignore[arg-type] # mapped above
                decided_by=result.decided_by or "unknown",
                channel=result.decision_channel or "api",  # type: ignore[arg-type] # row CHECK
                action=result.final_action,
            )
            await self._conclude(c, proposal, decision)
            return
        c.proposals = [p for p in c.proposals if p.approval_id != proposal.approval_id]
        self._concluded.add(proposal.approval_id)
        await self._outcome(c, proposal.user_ids, "kept")
        await self._show(c, proposal, "expired", None, None, "Expired: nobody removed")

    async def _show(
        self,
        c: LockdownCarry,
        p: Proposal,
        status: str,
        final_action: str | None,
        decided_by: str | None,
        summary: str,
    ) -> None:
        outcome = ApprovalOutcome(
            approval_id=p.approval_id,
            guild_id=self._inp.guild_id,
            status=status,
            requested_action=p.action,
            final_action=final_action,
            decided_by=decided_by,
            summary=summary,
            telegram_message_id=p.telegram_message_id,
            discord_channel_id=p.discord_channel_id,
            discord_message_id=p.discord_message_id,
        )
        await steps.helper(TELEGRAM_SHOW_OUTCOME, outcome)
        if p.discord_channel_id is not None and p.discord_message_id is not None:
            await self._try_discord(
                ModerationActions.edit_approval_message,
                ApprovalEditInput(
                    p.discord_channel_id,
                    p.discord_message_id,
                    f"Raid removal {status}",
                    summary,
                    status,
                ),
            )

    # ------------------------------------------------------------------ plumbing

    async def _outcome(self, c: LockdownCarry, user_ids: tuple[int, ...], outcome: str) -> None:
        if user_ids:
            await self._db(
                RaidActivities.set_raid_member_outcomes,
                OutcomeInput(c.incident.incident_id, user_ids, outcome, workflow.now()),
            )

    async def _log(self, c: LockdownCarry, what: str) -> None:
        await self._db(
            RaidActivities.update_raid_incident,
            IncidentUpdate(c.incident.incident_id, workflow.now(), log=what),
        )

    async def _alert(self, c: LockdownCarry, text: str, key: str) -> None:
        """Tell the staff in the mod-log and on Telegram; neither may stop the lockdown."""
        await steps.helper(TELEGRAM_ALERT, StaffAlert(self._inp.guild_id, text))
        if c.settings.mod_log_channel_id is not None:
            await self._try_discord(
                ModerationActions.post_alert,
                AlertInput(
                    c.settings.mod_log_channel_id, text, f"raid:{c.incident.incident_id}:{key}"
                ),
            )

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > (
            HISTORY_LIMIT
        )

    def _carry(self, c: LockdownCarry) -> LockdownCarry:
        book = self._book
        return replace(
            c,
            suspects=list(book.suspects.values()),
            unproposed=list(book.unproposed),
            left=sorted(book.left),
            handled=sorted(book.handled),
        )

    async def _db(self, method: Any, arg: Any) -> Any:
        """A database step the lockdown needs: retried until it succeeds."""
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=timedelta(seconds=30)
        )

    async def _discord(self, method: Any, arg: Any) -> Any:
        """A Discord step the lockdown needs (a refusal fails the workflow loudly)."""
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=_DISCORD_RETRY,
        )

    async def _try_discord_result(self, method: Any, arg: Any) -> Any:
        """A Discord step whose refusal is reported, not fatal: its result, or None."""
        return await steps.optional(self._discord(method, arg), type(arg).__name__)

    async def _try_discord(self, method: Any, arg: Any) -> str | None:
        """A Discord step; None when done, else why it was refused."""
        return await steps.refusal(self._discord(method, arg), type(arg).__name__)


__all__ = [
    "REPORT_SIGNAL",
    "STATUS_QUERY",
    "UNLOCK_SIGNAL",
    "LockdownStatus",
    "RaidLockdownInput",
    "RaidLockdownWorkflow",
    "raid_workflow_id",
]
