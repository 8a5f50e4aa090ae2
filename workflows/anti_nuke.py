"""An anti-nuke incident: `antinuke:{guild}:{actor}`, started by the gateway once the actor is held.

The gateway has already stripped the actor (quarantine role, or a bot's dangerous permissions)
before this starts; nothing else destructive happens until a person decides. The workflow
records the incident, alerts the mod-log and Telegram, and asks through the usual approval path:

* **Approve**: restore what the record allows (roles, then channels with their overwrites,
  unbans, created webhooks deleted, dangerous grants undone); the actor stays quarantined.
* **Modify → ban**: the same restore, and the actor is banned.
* **Reject**: a false alarm; the actor's roles (or the bot's permissions) are given back and
  nothing is restored.
* **No answer** by the deadline: nothing is restored; the actor stays quarantined.

Evidence that arrives later (the actor kept going before the quarantine took hold) is added with
the `evidence` signal until the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows import steps

with workflow.unsafe.imports_passed_through():
    from activities.anti_nuke import (
        AntiNukeActivities,
        CloseIncidentInput,
        GiveBackInput,
        IncidentInput,
        MemberRoleInput,
        RestoreChannelInput,
        Restored,
        RestoreRoleInput,
        RoleEditInput,
        RolePositionsInput,
        WebhookInput,
    )
    from activities.approval_records import (
        ApprovalRecordActivities,
        CreateApprovalInput,
        ExpireApprovalInput,
        ExpireResult,
    )
    from activities.moderation_actions import (
        ActionResult,
        AlertInput,
        ApprovalEditInput,
        ApprovalPostInput,
        BanInput,
        MemberActionInput,
        ModerationActions,
    )
    from domain.anti_nuke import Evidence, remap_channel, restore_order
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
    from domain.cases import LiftRequest
    from workflows.moderation import moderation_workflow_id

ACTION = "antinuke"
EVIDENCE_SIGNAL = "evidence"
_DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=0)
_DISCORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=10)
_STATUS = {"approve": "restored", "modify": "banned", "reject": "released"}


def anti_nuke_workflow_id(guild_id: int, actor_id: int) -> str:
    """One incident process per actor and server; a later incident starts a new run."""
    return f"antinuke:{guild_id}:{actor_id}"


@dataclass
class AntiNukeInput:
    """The incident as the gateway saw it, and what it already did about the actor."""

    guild_id: int
    actor_id: int
    trigger: str
    summary: str
    mitigation: str
    """quarantined, bot_stripped, bot_kicked or failed."""
    removed_role_ids: list[int] = field(default_factory=list)
    quarantine_role_id: int | None = None
    stripped_role_id: int | None = None
    """A bot's managed role whose dangerous permissions were taken."""
    stripped_permissions: int = 0
    mod_log_channel_id: int | None = None
    approval_timeout_minutes: int = 24 * 60


@dataclass
class AntiNukeResult:
    """How the incident ended, with the restore report."""

    status: str
    decided_by: str | None
    report: list[str] = field(default_factory=list)


@workflow.defn(name="AntiNuke")
class AntiNukeWorkflow:
    """Records, alerts, asks a person, then restores (or releases) as they decided."""

    @workflow.init
    def __init__(self, inp: AntiNukeInput) -> None:
        """Evidence from the start signal lands here before `run` begins."""
        self._inp = inp
        self._evidence: dict[str, Evidence] = {}
        self._decision: ApprovalDecision | None = None
        self._approval_id: str | None = None
        self._message: tuple[int, int] | None = None
        self._telegram_id: int | None = None

    @workflow.signal(name=EVIDENCE_SIGNAL)
    def evidence(self, items: list[Evidence]) -> None:
        """More of what the actor did; the same action twice is kept once."""
        for item in items:
            self._evidence.setdefault(item.key, item)

    @workflow.signal(name=DECISION_SIGNAL)
    def decide(self, decision: ApprovalDecision) -> None:
        """A person decided (already claimed in the database)."""
        if self._decision is None:
            self._decision = decision

    @workflow.query
    def evidence_keys(self) -> list[str]:
        """What the incident holds so far (for tests and the API)."""
        return list(self._evidence)

    @workflow.query
    def approval_id(self) -> str | None:
        """The pending approval, once asked."""
        return self._approval_id

    @workflow.run
    async def run(self, inp: AntiNukeInput) -> AntiNukeResult:
        """Record and alert, ask, wait for the decision or the deadline, then act on it."""
        await self._db(AntiNukeActivities.record_incident, self._incident())
        await self._alert()
        expires = workflow.now() + timedelta(minutes=inp.approval_timeout_minutes)
        await self._ask(expires)
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=expires - workflow.now()
            )
        except TimeoutError:
            result = await self._expire()
            if result is not None:
                return result
        assert self._decision is not None
        return await self._conclude(self._decision)

    # ------------------------------------------------------------------------- asking

    def _incident(self) -> IncidentInput:
        info = workflow.info()
        return IncidentInput(
            guild_id=self._inp.guild_id,
            actor_id=self._inp.actor_id,
            workflow_id=info.workflow_id,
            workflow_run_id=info.run_id,
            trigger=self._inp.trigger,
            summary=self._inp.summary,
            mitigation=self._inp.mitigation,
            removed_role_ids=self._inp.removed_role_ids,
            evidence=list(self._evidence.values()),
            started_at=workflow.now(),
        )

    def _held(self) -> str:
        return {
            "quarantined": "their roles were moved into the quarantine role",
            "bot_stripped": "the bot's dangerous permissions were taken",
            "bot_kicked": "the bot was kicked",
        }.get(self._inp.mitigation, "holding them FAILED; act by hand")

    async def _alert(self) -> None:
        text = f"Anti-nuke: {self._inp.summary}; {self._held()}. Approval needed to restore."
        await steps.helper(TELEGRAM_ALERT, StaffAlert(self._inp.guild_id, text))
        if self._inp.mod_log_channel_id is not None:
            key = f"antinuke:{workflow.info().run_id}"
            await self._optional(
                ModerationActions.post_alert,
                AlertInput(self._inp.mod_log_channel_id, text, key),
            )

    def _reason(self) -> str:
        return (
            f"{self._inp.summary}; {self._held()}. Approve: restore and keep quarantined. "
            "Modify → Ban: restore and ban. Reject: false alarm, give everything back."
        )

    async def _ask(self, expires: Any) -> None:
        self._approval_id = str(workflow.uuid4())
        request = ApprovalRequest(
            approval_id=self._approval_id,
            guild_id=self._inp.guild_id,
            user_id=self._inp.actor_id,
            workflow_id=workflow.info().workflow_id,
            action=ACTION,
            reason=self._reason(),
            requested_by="anti-nuke",
            requested_at=workflow.now(),
            expires_at=expires,
            evidence=_evidence_text(list(self._evidence.values())),
        )
        await self._db(
            ApprovalRecordActivities.create_pending_approval, CreateApprovalInput(request)
        )
        telegram_id = await steps.helper(TELEGRAM_SEND_APPROVAL, request)
        self._telegram_id = telegram_id if isinstance(telegram_id, int) else None
        channel = self._inp.mod_log_channel_id
        if channel is None:
            return
        message_id = await self._optional(
            ModerationActions.post_approval_request,
            ApprovalPostInput(
                approval_id=self._approval_id,
                channel_id=channel,
                guild_id=self._inp.guild_id,
                user_id=self._inp.actor_id,
                action=ACTION,
                reason=request.reason,
                expires_at=expires,
                excerpt=request.evidence,
                title="Anti-nuke: approval needed",
            ),
        )
        if isinstance(message_id, int):
            self._message = (channel, message_id)

    async def _expire(self) -> AntiNukeResult | None:
        """Nobody decided: expire (None if a decision was claimed a moment before)."""
        assert self._approval_id is not None
        result: ExpireResult = await self._db(
            ApprovalRecordActivities.expire_approval,
            ExpireApprovalInput(self._approval_id, workflow.now()),
        )
        if not result.expired and result.status in ("approved", "rejected", "modified"):
            verb = {"approved": "approve", "rejected": "reject", "modified": "modify"}
            self._decision = ApprovalDecision(
                approval_id=self._approval_id,
                decision=verb[result.status],  # type: ignore[arg-type] # one of the three
                decided_by=result.decided_by or "unknown",
                channel="api",
                action=result.final_action,
            )
            return None
        summary = "Expired: nothing restored; the actor stays quarantined"
        await self._show("expired", None, None, summary)
        return await self._close("expired", None, [summary])

    # ------------------------------------------------------------------------- deciding

    async def _conclude(self, decision: ApprovalDecision) -> AntiNukeResult:
        verb = decision.decision
        report: list[str] = []
        if verb == "reject":
            report += await self._release()
        else:
            report += await self._restore()
            if verb == "modify":
                report.append(await self._ban_actor(decision.decided_by))
        status = _STATUS[verb]
        summary = f"{status.capitalize()} by {decision.decided_by}: " + "; ".join(report)[:1500]
        await self._show(
            {"approve": "approved", "modify": "modified", "reject": "rejected"}[verb],
            "ban" if verb == "modify" else (ACTION if verb == "approve" else None),
            decision.decided_by,
            summary,
        )
        return await self._close(status, decision.decided_by, report)

    async def _restore(self) -> list[str]:
        """Roles, then channels (overwrites and parents mapped to new ids), then the rest."""
        g = self._inp.guild_id
        why = f"anti-nuke restore after <@{self._inp.actor_id}>"
        roles, channels = restore_order(list(self._evidence.values()))
        new_ids: dict[int, int] = {}
        report: list[str] = []
        for role in roles:
            done = await self._safe(
                AntiNukeActivities.restore_role, RestoreRoleInput(g, role, why), f"role {role.name}"
            )
            report.append(done.note if isinstance(done, Restored) else str(done))
            if isinstance(done, Restored) and done.new_id is not None:
                new_ids[role.role_id] = done.new_id
        moved = [(new_ids[r.role_id], r.position) for r in roles if r.role_id in new_ids]
        if moved:
            inp = RolePositionsInput(g, moved, why)
            report.append(str(await self._safe(AntiNukeActivities.move_roles, inp, "positions")))
        for channel in channels:
            inp_c = RestoreChannelInput(g, remap_channel(channel, new_ids), why)
            done = await self._safe(AntiNukeActivities.restore_channel, inp_c, f"#{channel.name}")
            report.append(done.note if isinstance(done, Restored) else str(done))
            if isinstance(done, Restored) and done.new_id is not None:
                new_ids[channel.channel_id] = done.new_id
        for item in self._evidence.values():
            try:
                line = await self._undo_other(item, why)
            except ActivityError as err:
                line = f"{item.kind} {item.target_id}: failed ({err.cause or err})"[:200]
            if line:
                report.append(line)
        return report

    async def _undo_other(self, item: Evidence, why: str) -> str | None:
        """Unban, delete a created webhook, take back a dangerous grant; kicks cannot be undone."""
        g, target = self._inp.guild_id, item.target_id
        if target is None:
            return None
        if item.kind == "ban":
            result: ActionResult = await self._discord(
                ModerationActions.unban_member, MemberActionInput(g, target, why)
            )
            await self._tell_member_workflow(target, why)
            return f"<@{target}> unbanned" if result.applied else f"<@{target}>: {result.note}"
        if item.kind == "kick":
            return f"<@{target}> was kicked: they can rejoin with an invite"
        if item.kind == "webhook_create":
            return str(
                await self._discord(AntiNukeActivities.delete_webhook, WebhookInput(target, why))
            )
        if item.kind == "dangerous_grant" and item.role_given is not None:
            return str(
                await self._discord(
                    AntiNukeActivities.take_role, MemberRoleInput(g, target, item.role_given, why)
                )
            )
        if item.kind == "dangerous_grant" and item.granted:
            edit = RoleEditInput(g, target, remove=item.granted, reason=why)
            return str(await self._discord(AntiNukeActivities.edit_role_permissions, edit))
        return None

    async def _tell_member_workflow(self, user_id: int, why: str) -> None:
        """Lift the ban in the member's moderation process too, or a rejoin is banned again."""
        lift = LiftRequest(
            guild_id=self._inp.guild_id,
            user_id=user_id,
            sanction="ban",
            reason=why,
            source_key=f"antinuke:{workflow.info().run_id}:{user_id}",
            requested_at=workflow.now(),
        )
        handle = workflow.get_external_workflow_handle(
            moderation_workflow_id(self._inp.guild_id, user_id)
        )
        try:
            await handle.signal("lift", lift)
        except Exception as err:  # no moderation process for them: nothing to lift
            workflow.logger.info("no moderation workflow to lift for %s: %s", user_id, err)

    async def _release(self) -> list[str]:
        """A false alarm: give back what the gateway took."""
        g, why = self._inp.guild_id, "anti-nuke false alarm: released"
        lines: list[str] = []
        if self._inp.stripped_role_id is not None and self._inp.stripped_permissions:
            edit = RoleEditInput(
                g, self._inp.stripped_role_id, add=self._inp.stripped_permissions, reason=why
            )
            lines.append(
                str(await self._safe(AntiNukeActivities.edit_role_permissions, edit, "role"))
            )
        if self._inp.mitigation in ("quarantined", "bot_stripped"):
            give = GiveBackInput(
                g, self._inp.actor_id, self._inp.removed_role_ids, self._inp.quarantine_role_id, why
            )
            lines.append(str(await self._safe(AntiNukeActivities.give_roles_back, give, "roles")))
        return lines or ["nothing to give back"]

    async def _ban_actor(self, who: str) -> str:
        reason = f"anti-nuke: {self._inp.summary} (ban decided by {who})"
        inp = BanInput(self._inp.guild_id, self._inp.actor_id, reason[:400])
        done = await self._safe(ModerationActions.ban_member, inp, f"ban of <@{inp.user_id}>")
        return done if isinstance(done, str) else f"<@{inp.user_id}> banned"

    # ------------------------------------------------------------------------- plumbing

    async def _show(self, status: str, final: str | None, who: str | None, summary: str) -> None:
        assert self._approval_id is not None
        outcome = ApprovalOutcome(
            approval_id=self._approval_id,
            guild_id=self._inp.guild_id,
            status=status,
            requested_action=ACTION,
            final_action=final,
            decided_by=who,
            summary=summary,
            telegram_message_id=self._telegram_id,
            discord_channel_id=self._message[0] if self._message else None,
            discord_message_id=self._message[1] if self._message else None,
        )
        await steps.helper(TELEGRAM_SHOW_OUTCOME, outcome)
        if self._message is not None:
            edit = ApprovalEditInput(*self._message, f"Anti-nuke {status}", summary, status)
            await self._optional(ModerationActions.edit_approval_message, edit)

    async def _close(self, status: str, who: str | None, report: list[str]) -> AntiNukeResult:
        await self._db(
            AntiNukeActivities.close_incident,
            CloseIncidentInput(
                workflow_run_id=workflow.info().run_id,
                status=status,
                evidence=list(self._evidence.values()),
                approval_id=self._approval_id,
                decided_by=who,
                closed_at=workflow.now(),
                report=report,
            ),
        )
        return AntiNukeResult(status, who, report)

    async def _db(self, method: Any, arg: Any) -> Any:
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=timedelta(seconds=30), retry_policy=_DB_RETRY
        )

    async def _discord(self, method: Any, arg: Any) -> Any:
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=timedelta(seconds=60), retry_policy=_DISCORD_RETRY
        )

    async def _safe(self, method: Any, arg: Any, what: str) -> Any:
        """A restore step; after its retries a failure becomes a line of the report."""
        try:
            return await self._discord(method, arg)
        except ActivityError as err:
            return f"{what}: failed ({err.cause or err})"[:200]

    async def _optional(self, method: Any, arg: Any) -> Any:
        return await steps.optional(self._discord(method, arg), type(arg).__name__)


def _evidence_text(items: list[Evidence]) -> str:
    """The evidence as moderators read it: one short line per action."""
    lines = [f"{e.kind} {e.detail or e.target_id}" for e in items[:20]]
    more = f" (+{len(items) - 20} more)" if len(items) > 20 else ""
    return "; ".join(lines)[:900] + more
