"""Moderation in the gateway beyond the fast path: decisions, appeals, manual actions, rejoins.

- **Approval buttons** in the mod-log (`approval:{id}:approve|reject|modify`, posted by the member's
  moderation workflow) and `/approve` `/reject` go through :func:`decide`, which checks that the
  person is an approver and hands the decision to ``approvals.decisions.submit_decision``. An
  approver has one of the server's ``approvals.approver_role_ids``; when that list is empty, anyone
  with Ban Members or Timeout Members may decide (and the owner always may).
- **Modify** answers with an ephemeral menu of milder actions (`approval-modify:{id}`); the
  choice is submitted as a ``modify`` decision.
- **Appeals**: the DM button `appeal:{guild}:{sanction}` opens a form
  (`appeal-form:{guild}:{sanction}`); its text is stored (one pending appeal per member and
  sanction) and signalled as ``appeal``.
- **Manual actions**: a ban, kick or timeout someone makes by hand in Discord arrives as an audit
  log entry and is reported as a ``Violation(already_applied=True, source='manual')``; a manual
  unban or timeout removal becomes a ``lift``. Entries made by the suite's own bot are skipped,
  so its sanctions are not recorded twice.
- **Rejoins**: a member who joins again is signalled ``member_rejoined`` if their workflow is
  running (it re-applies a sanction that has not run out); nobody else is bothered.

Every handler works from the interaction's custom id and the database, not from objects kept in
memory, so a button still works after the gateway restarts.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from temporalio.service import RPCError, RPCStatusCode

from approvals.decisions import DecisionOutcome, DecisionRefused, submit_decision
from dcs.server_config import ServerConfig
from domain.approvals import ApprovalDecision, Decision, DecisionChannel, milder_actions
from domain.cases import AppealRequest, LiftRequest, MemberRejoined, Violation, violation_to_json
from gateway.replies import modal_value as _modal_value
from gateway.replies import tell as _tell
from storage import outbox
from storage.appeals import AppealPending, open_appeal, withdraw_appeal
from storage.models import PendingApproval
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

APPROVAL_PREFIX = "approval:"
MODIFY_PREFIX = "approval-modify:"
APPEAL_PREFIX = "appeal:"
APPEAL_FORM_PREFIX = "appeal-form:"
APPEAL_TEXT_FIELD = "text"
APPEALABLE = ("ban", "timeout")
REPORT_KIND = "moderation.report"
"""Outbox kind of a kept report (the same as gateway.bot's, drained by its outbox loop)."""
SIGNAL_ATTEMPTS = 3
MODIFY_TIMEOUTS: tuple[tuple[int, str], ...] = (
    (10, "10 minutes"),
    (60, "1 hour"),
    (24 * 60, "1 day"),
    (7 * 24 * 60, "1 week"),
)
"""Timeout lengths offered when a moderator modifies a request down to a timeout."""


# ---------------------------------------------------------------------------------------------
# Talking to a member's moderation workflow
# ---------------------------------------------------------------------------------------------


async def signal_member(bot: SuiteBot, guild_id: int, user_id: int, signal: str, arg: Any) -> None:
    """Signal-with-start the member's workflow (`report`, `lift`, `appeal`); raise on failure."""
    await bot.temporal.start_workflow(
        ModerationWorkflow.run,
        ModerationInput(guild_id, user_id),
        id=moderation_workflow_id(guild_id, user_id),
        task_queue=bot.task_queue,
        start_signal=signal,
        start_signal_args=[arg],
    )


async def report(bot: SuiteBot, violation: Violation) -> bool:
    """Report a violation: True once Temporal has it, False if it was kept in the outbox.

    A kept report is handed over by the gateway's outbox loop when Temporal answers again, so it
    is never lost; the caller only words its reply differently.
    """
    for attempt in range(1, SIGNAL_ATTEMPTS + 1):
        try:
            await signal_member(bot, violation.guild_id, violation.user_id, "report", violation)
            return True
        except Exception as exc:
            if attempt == SIGNAL_ATTEMPTS:
                async with bot.sessions() as session, session.begin():
                    await outbox.put(session, REPORT_KIND, violation_to_json(violation))
                log.warning("Temporal unreachable (%s); %s kept", exc, violation.source_key)
                return False
            await asyncio.sleep(0.2 * 2**attempt)
    return False  # pragma: no cover - the loop always returns


async def signal_if_running(bot: SuiteBot, workflow_id: str, signal: str, arg: Any) -> bool:
    """Signal a workflow only if it exists and runs; False when there is none."""
    try:
        await bot.temporal.get_workflow_handle(workflow_id).signal(signal, arg)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


# ---------------------------------------------------------------------------------------------
# Who may decide, and deciding
# ---------------------------------------------------------------------------------------------


def may_decide(member: discord.Member, config: ServerConfig) -> bool:
    """Approvers: one of the configured roles; with none configured, ban/timeout permission."""
    if member.guild.owner_id == member.id:
        return True
    roles = set(config.approvals.approver_role_ids)
    if roles:
        return any(role.id in roles for role in member.roles)
    perms = member.guild_permissions
    return perms.administrator or perms.ban_members or perms.moderate_members


def not_an_approver_message(config: ServerConfig) -> str:
    """The polite refusal for someone who may not decide."""
    roles = config.approvals.approver_role_ids
    if roles:
        names = ", ".join(f"<@&{r}>" for r in roles)
        return f"Only approvers can decide this; you need one of these roles: {names}."
    return "Only approvers can decide this; you need the Ban Members or Timeout Members permission."


def describe_outcome(outcome: DecisionOutcome) -> str:
    """One line for the person who decided."""
    who = f"<@{outcome.target_user_id}>" if outcome.target_user_id else "the member"
    if outcome.status == "approved":
        return f"Approved: {outcome.requested_action} of {who} goes ahead."
    if outcome.status == "rejected":
        return f"Rejected: no {outcome.requested_action} for {who}."
    return f"Modified: {outcome.final_action} of {who} instead of {outcome.requested_action}."


async def decide(
    bot: SuiteBot,
    member: discord.Member,
    approval_id: str,
    decision: Decision,
    channel: DecisionChannel,
    *,
    action: str | None = None,
    duration_minutes: int | None = None,
) -> str:
    """Check the person may decide, submit the decision, and return what to tell them."""
    config = bot.guild_config(member.guild.id)
    if not may_decide(member, config):
        return not_an_approver_message(config)
    try:
        outcome = await submit_decision(
            bot.sessions,
            bot.temporal,
            ApprovalDecision(
                approval_id=approval_id,
                decision=decision,
                decided_by=f"discord:{member.id}",
                channel=channel,
                action=action,
                duration_minutes=duration_minutes,
            ),
            guild_id=member.guild.id,
        )
    except DecisionRefused as refused:
        return _refusal_text(refused)
    return describe_outcome(outcome)


def _refusal_text(refused: DecisionRefused) -> str:
    message = refused.message[:1].upper() + refused.message[1:]
    if refused.code == "not_found":
        return f"{message} in this server (it may have been a typo, or another server's)."
    return message if message.endswith(".") else message + "."


# ---------------------------------------------------------------------------------------------
# The listeners SuiteBot forwards to
# ---------------------------------------------------------------------------------------------


class ModerationEvents:
    """Handlers for interactions, audit log entries and joins; SuiteBot forwards to them."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Buttons, menus and forms whose custom ids belong to moderation."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        try:
            if interaction.type == discord.InteractionType.component:
                if custom_id.startswith(MODIFY_PREFIX):
                    await self._modify_chosen(interaction, custom_id, data)
                elif custom_id.startswith(APPROVAL_PREFIX):
                    await self._approval_button(interaction, custom_id)
                elif custom_id.startswith(APPEAL_PREFIX):
                    await self._appeal_button(interaction, custom_id)
            elif interaction.type == discord.InteractionType.modal_submit:
                if custom_id.startswith(APPEAL_FORM_PREFIX):
                    await self._appeal_submitted(interaction, custom_id, data)
        except Exception:
            log.exception("moderation interaction %s failed", custom_id)
            await _tell(interaction, "Something went wrong on our side; please try again.")

    async def _approval_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        parts = custom_id.split(":")
        member = interaction.user
        if len(parts) != 3 or parts[2] not in ("approve", "reject", "modify"):
            await _tell(interaction, "This button is not one I know.")
            return
        if not isinstance(member, discord.Member):
            await _tell(interaction, "Approvals are decided in the server, not in DMs.")
            return
        approval_id, verb = parts[1], parts[2]
        if verb == "modify":
            await self._offer_milder(interaction, member, approval_id)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await decide(
            self.bot,
            member,
            approval_id,
            "approve" if verb == "approve" else "reject",
            "discord",
        )
        await interaction.followup.send(text, ephemeral=True)

    async def _offer_milder(
        self, interaction: discord.Interaction, member: discord.Member, approval_id: str
    ) -> None:
        config = self.bot.guild_config(member.guild.id)
        if not may_decide(member, config):
            await _tell(interaction, not_an_approver_message(config))
            return
        async with self.bot.sessions() as session:
            row = await session.get(PendingApproval, approval_id)
        if row is None or row.guild_id != member.guild.id:
            await _tell(interaction, f"No approval {approval_id} in this server.")
            return
        if row.status != "pending":
            who = f" by {row.decided_by}" if row.decided_by else ""
            await _tell(interaction, f"This approval was already {row.status}{who}.")
            return
        options = modify_options(row.action)
        if not options:
            await _tell(interaction, f"There is nothing milder than {row.action} to choose.")
            return
        select: discord.ui.Select[discord.ui.View] = discord.ui.Select(
            custom_id=f"{MODIFY_PREFIX}{approval_id}",
            placeholder="Choose the milder action",
            options=[discord.SelectOption(label=label, value=value) for value, label in options],
        )
        view = discord.ui.View(timeout=600)
        view.add_item(select)  # handled by on_interaction from its custom id, not by the view
        await interaction.response.send_message(
            f"Instead of {row.action}, apply:", view=view, ephemeral=True
        )

    async def _modify_chosen(
        self, interaction: discord.Interaction, custom_id: str, data: dict[str, Any]
    ) -> None:
        member = interaction.user
        values = [str(v) for v in data.get("values") or []]
        if not isinstance(member, discord.Member) or not values:
            await _tell(interaction, "Choose one of the actions.")
            return
        approval_id = custom_id.removeprefix(MODIFY_PREFIX)
        action, _, minutes = values[0].partition(":")
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await decide(
            self.bot,
            member,
            approval_id,
            "modify",
            "discord",
            action=action,
            duration_minutes=int(minutes) if minutes.isdigit() else None,
        )
        await interaction.followup.send(text, ephemeral=True)

    async def _appeal_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        target = _appeal_target(custom_id.removeprefix(APPEAL_PREFIX))
        if target is None:
            await _tell(interaction, "This appeal button is not one I know.")
            return
        guild_id, sanction = target
        guild = self.bot.get_guild(guild_id)
        name = guild.name if guild else "the server"
        modal = discord.ui.Modal(
            title=f"Appeal your {sanction} in {name}"[:45],
            custom_id=f"{APPEAL_FORM_PREFIX}{guild_id}:{sanction}",
        )
        modal.add_item(
            discord.ui.TextInput(
                label="Why should it be lifted?",
                custom_id=APPEAL_TEXT_FIELD,
                style=discord.TextStyle.paragraph,
                min_length=10,
                max_length=2000,
            )
        )
        await interaction.response.send_modal(modal)

    async def _appeal_submitted(
        self, interaction: discord.Interaction, custom_id: str, data: dict[str, Any]
    ) -> None:
        target = _appeal_target(custom_id.removeprefix(APPEAL_FORM_PREFIX))
        text = _modal_value(data, APPEAL_TEXT_FIELD).strip()
        if target is None or not text:
            await _tell(interaction, "The appeal was empty or is not one I know; nothing was sent.")
            return
        guild_id, sanction = target
        user_id = interaction.user.id
        now = datetime.now(UTC)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            async with self.bot.sessions() as session, session.begin():
                appeal = await open_appeal(
                    session,
                    guild_id=guild_id,
                    user_id=user_id,
                    sanction=sanction,
                    text=text,
                    created_at=now,
                )
        except AppealPending:
            await interaction.followup.send(
                f"You already have an appeal against this {sanction} waiting for a decision; "
                "you'll hear back here.",
                ephemeral=True,
            )
            return
        request = AppealRequest(guild_id, user_id, appeal.id, sanction, appeal.text, now)
        try:
            await signal_member(self.bot, guild_id, user_id, "appeal", request)
        except Exception:
            log.exception("could not signal appeal %s", appeal.id)
            async with self.bot.sessions() as session, session.begin():
                await withdraw_appeal(session, appeal.id)
            await interaction.followup.send(
                "The moderation service could not be reached; please send the appeal again "
                "in a few minutes.",
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            f"Your appeal against the {sanction} was sent to the moderators. "
            "You'll hear back here once someone decides.",
            ephemeral=True,
        )

    async def on_audit_log_entry(self, entry: discord.AuditLogEntry) -> None:
        """A ban, kick or timeout made by hand becomes a case; an unban or un-timeout a lift."""
        me = self.bot.user
        if entry.user_id is None or (me is not None and entry.user_id == me.id):
            return
        target_id = getattr(entry.target, "id", None)
        if target_id is None:
            return
        guild_id = entry.guild.id
        action = _manual_action(entry)
        if action is None:
            return
        kind, minutes = action
        reason = entry.reason or f"{kind} made by hand in Discord"
        if kind.startswith("lift:"):
            lift = LiftRequest(
                guild_id=guild_id,
                user_id=target_id,
                sanction=kind.removeprefix("lift:"),
                reason=entry.reason or "lifted by hand in Discord",
                source_key=f"audit:{entry.id}",
                requested_at=entry.created_at.astimezone(UTC),
                moderator_id=entry.user_id,
            )
            await signal_if_running(
                self.bot, moderation_workflow_id(guild_id, target_id), "lift", lift
            )
            return
        violation = Violation(
            guild_id=guild_id,
            user_id=target_id,
            source_key=f"audit:{entry.id}",
            source="manual",
            action=kind,
            reason=reason,
            occurred_at=entry.created_at.astimezone(UTC),
            points=0,
            moderator_id=entry.user_id,
            mod_log_channel_id=self.bot.guild_config(guild_id).mod_log_channel_id,
            duration_minutes=minutes,
            explicit=True,
            already_applied=True,
        )
        await report(self.bot, violation)

    async def on_member_join(self, member: discord.Member) -> None:
        """Tell a running workflow the member is back, so a sanction still running holds."""
        rejoined = MemberRejoined(member.guild.id, member.id, datetime.now(UTC))
        workflow_id = moderation_workflow_id(member.guild.id, member.id)
        try:
            await signal_if_running(self.bot, workflow_id, "member_rejoined", rejoined)
        except Exception:
            log.exception("could not tell %s that the member rejoined", workflow_id)


def modify_options(action: str) -> list[tuple[str, str]]:
    """(value, label) menu entries for the actions milder than `action`."""
    options: list[tuple[str, str]] = []
    for milder in milder_actions(action):
        if milder == "timeout":
            options.extend((f"timeout:{m}", f"Timeout for {label}") for m, label in MODIFY_TIMEOUTS)
        else:
            options.append((milder, milder.capitalize()))
    return options


def _manual_action(entry: discord.AuditLogEntry) -> tuple[str, int | None] | None:
    """What a hand-made audit entry means: (action, timeout minutes), 'lift:…', or None."""
    if entry.action == discord.AuditLogAction.ban:
        return "ban", None
    if entry.action == discord.AuditLogAction.kick:
        return "kick", None
    if entry.action == discord.AuditLogAction.unban:
        return "lift:ban", None
    if entry.action != discord.AuditLogAction.member_update:
        return None
    if not hasattr(entry.after, "timed_out_until"):
        return None
    until = entry.after.timed_out_until
    if until is None:
        return ("lift:timeout", None) if getattr(entry.before, "timed_out_until", None) else None
    seconds = (until - entry.created_at).total_seconds()
    if seconds <= 0:
        return None
    return "timeout", max(1, math.ceil(seconds / 60))


def _appeal_target(rest: str) -> tuple[int, str] | None:
    """`{guild_id}:{sanction}` from an appeal custom id, or None if malformed."""
    guild, _, sanction = rest.partition(":")
    if not guild.isdigit() or sanction not in APPEALABLE:
        return None
    return int(guild), sanction
