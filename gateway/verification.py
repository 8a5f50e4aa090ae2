"""The verification gate in the gateway: the join, the Verify button and the challenge form.

- **Join**: with `verification.enabled`, the joiner gets the unverified role (if configured) and
  the guild's `verification:{guild}` workflow is signalled `member_joined` (signal-with-start),
  with whether a raid is on as the spam guard sees it.
- **Verify button** `verify:{guild}` (posted by `/verification panel`): in button mode it grants
  the verified role at once; in challenge mode (configured, or the member joined during a raid)
  it opens a form `verify-answer:{guild}:{seed}` with a question made from the seed. A right
  answer grants the role; a wrong one changes nothing but is counted by the workflow
  (`challenge_failed`), whose last allowed attempt brings the deadline to now.
- **Granting** adds the verified role, removes the unverified and quarantine roles and signals
  `member_verified`; the workflow's kick also checks the role, so a lost signal harms nobody.

Handlers work from the custom id, the config and the workflow, never from memory, so a panel
posted before a restart keeps working.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from temporalio.service import RPCError, RPCStatusCode

from dcs.server_config import ServerConfig, VerificationConfig
from domain.verification import (
    MemberDone,
    MemberJoined,
    Mode,
    PendingMember,
    VerificationPolicy,
    check_answer,
    make_challenge,
    rules_for,
)
from gateway.moderation_events import signal_if_running
from gateway.replies import modal_value as _modal_value
from gateway.replies import tell as _tell
from workflows.verification import (
    VerificationInput,
    VerificationWorkflow,
    verification_workflow_id,
)

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

VERIFY_PREFIX = "verify:"
ANSWER_PREFIX = "verify-answer:"
ANSWER_FIELD = "answer"
SIGNAL_ATTEMPTS = 3


def verify_custom_id(guild_id: int) -> str:
    """The panel button's custom id."""
    return f"{VERIFY_PREFIX}{guild_id}"


def policy_of(config: ServerConfig) -> VerificationPolicy:
    """The config section as the workflow's pure policy."""
    v = config.verification
    return VerificationPolicy(
        mode=v.mode,
        timeout_minutes=v.timeout_minutes,
        on_timeout=v.on_timeout,
        max_attempts=v.max_attempts,
        raid_timeout_minutes=v.raid.timeout_minutes,
        raid_challenge=v.raid.challenge,
        raid_kick=v.raid.kick,
        verified_role_id=v.verified_role_id,
        unverified_role_id=v.unverified_role_id,
        quarantine_role_id=v.quarantine_role_id,
        mod_log_channel_id=config.mod_log_channel_id,
    )


# ---------------------------------------------------------------------------------------------
# Talking to the guild's workflow
# ---------------------------------------------------------------------------------------------


async def signal_gate(bot: SuiteBot, guild_id: int, signal: str, arg: Any) -> None:
    """Signal-with-start the guild's gate, retrying a moment before giving up (and raising)."""
    for attempt in range(1, SIGNAL_ATTEMPTS + 1):
        try:
            await bot.temporal.start_workflow(
                VerificationWorkflow.run,
                VerificationInput(guild_id),
                id=verification_workflow_id(guild_id),
                task_queue=bot.task_queue,
                start_signal=signal,
                start_signal_args=[arg],
            )
            return
        except Exception:
            if attempt == SIGNAL_ATTEMPTS:
                raise
            await asyncio.sleep(0.2 * 2**attempt)


async def pending_members(bot: SuiteBot, guild_id: int) -> list[PendingMember]:
    """Who the guild's gate is waiting for (nobody when it is not running)."""
    handle = bot.temporal.get_workflow_handle(verification_workflow_id(guild_id))
    try:
        return await handle.query(VerificationWorkflow.pending)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return []
        raise


# ---------------------------------------------------------------------------------------------
# Joins and departures
# ---------------------------------------------------------------------------------------------


async def gate_new_member(bot: SuiteBot, member: discord.Member) -> None:
    """Give the unverified role and start the member's deadline in the guild's workflow."""
    config = bot.guild_config(member.guild.id)
    if member.bot or not config.verification.enabled:
        return
    raid = bot.spam_guard.raid_active(member.guild.id)
    role_id = config.verification.unverified_role_id
    if role_id is not None:
        try:
            await member.add_roles(discord.Object(role_id), reason="Not verified yet")
        except discord.HTTPException as exc:
            log.warning("could not give the unverified role in %s: %s", member.guild.id, exc)
    joined_at = member.joined_at or datetime.now(UTC)
    joined = MemberJoined(member.id, joined_at, raid, policy_of(config))
    try:
        await signal_gate(bot, member.guild.id, "member_joined", joined)
    except Exception:
        log.exception("could not hand %s's join to the verification gate", member.id)


async def member_left(bot: SuiteBot, guild_id: int, user_id: int) -> None:
    """A member who leaves has no deadline left (only signalled when the gate runs)."""
    if not bot.guild_config(guild_id).verification.enabled:
        return
    try:
        await signal_if_running(
            bot, verification_workflow_id(guild_id), "member_left", MemberDone(user_id)
        )
    except Exception:
        log.exception("could not tell the verification gate that %s left", user_id)


# ---------------------------------------------------------------------------------------------
# Granting
# ---------------------------------------------------------------------------------------------


def _held(member: discord.Member, role_ids: list[int | None]) -> list[discord.Object]:
    have = {r.id for r in member.roles}
    return [discord.Object(r) for r in role_ids if r is not None and r in have]


async def grant(bot: SuiteBot, member: discord.Member, by: str) -> str:
    """Verified role on, unverified and quarantine roles off, the gate told; a reply to show."""
    gate = bot.guild_config(member.guild.id).verification
    if gate.verified_role_id is None:
        return "Verification has no verified role configured; ask the server's admins."
    try:
        await member.add_roles(discord.Object(gate.verified_role_id), reason=f"Verified ({by})")
        stale = _held(member, [gate.unverified_role_id, gate.quarantine_role_id])
        if stale:
            await member.remove_roles(*stale, reason=f"Verified ({by})")
    except discord.Forbidden:
        return "I am not allowed to give that role; please tell the server's admins."
    try:
        await signal_if_running(
            bot, verification_workflow_id(member.guild.id), "member_verified", MemberDone(member.id)
        )
    except Exception:  # the role is the truth: the workflow checks it before acting
        log.exception("could not tell the verification gate that %s verified", member.id)
    return f"{member.mention} is verified. Welcome!"


# ---------------------------------------------------------------------------------------------
# Interactions
# ---------------------------------------------------------------------------------------------


async def on_interaction(bot: SuiteBot, interaction: discord.Interaction) -> None:
    """The Verify button and the challenge form; other interactions are not ours."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    try:
        if interaction.type == discord.InteractionType.component:
            if custom_id.startswith(VERIFY_PREFIX):
                await _pressed(bot, interaction, custom_id)
        elif interaction.type == discord.InteractionType.modal_submit:
            if custom_id.startswith(ANSWER_PREFIX):
                await _answered(bot, interaction, custom_id, data)
    except Exception:
        log.exception("verification interaction %s failed", custom_id)
        await _tell(interaction, "Something went wrong on our side; please try again.")


def _gate_of(
    bot: SuiteBot, interaction: discord.Interaction, guild_text: str
) -> tuple[discord.Member, VerificationConfig] | str:
    """The member and their guild's gate, or why this press cannot be handled."""
    member = interaction.user
    if not isinstance(member, discord.Member) or str(member.guild.id) != guild_text:
        return "This button belongs to another server."
    gate = bot.guild_config(member.guild.id).verification
    if not gate.enabled:
        return "Verification is not switched on in this server."
    return member, gate


async def _mode_for(bot: SuiteBot, member: discord.Member) -> Mode:
    """The mode the member faces: theirs from the gate, else today's (a raid means challenge)."""
    entry = next(
        (p for p in await pending_members(bot, member.guild.id) if p.user_id == member.id), None
    )
    if entry is not None:
        return entry.mode
    policy = policy_of(bot.guild_config(member.guild.id))
    return rules_for(policy, bot.spam_guard.raid_active(member.guild.id)).mode


async def _pressed(bot: SuiteBot, interaction: discord.Interaction, custom_id: str) -> None:
    gate = _gate_of(bot, interaction, custom_id.removeprefix(VERIFY_PREFIX))
    if isinstance(gate, str):
        await _tell(interaction, gate)
        return
    member, config = gate
    if any(r.id == config.verified_role_id for r in member.roles):
        await _tell(interaction, "You are already verified.")
        return
    if await _mode_for(bot, member) == "challenge":
        challenge = make_challenge(interaction.id)
        modal = discord.ui.Modal(
            title="Verification", custom_id=f"{ANSWER_PREFIX}{member.guild.id}:{interaction.id}"
        )
        modal.add_item(
            discord.ui.TextInput(
                label=challenge.question[:45], custom_id=ANSWER_FIELD, max_length=50
            )
        )
        await interaction.response.send_modal(modal)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send(await grant(bot, member, "button"), ephemeral=True)


async def _answered(
    bot: SuiteBot, interaction: discord.Interaction, custom_id: str, data: dict[str, Any]
) -> None:
    guild_text, _, seed = custom_id.removeprefix(ANSWER_PREFIX).partition(":")
    gate = _gate_of(bot, interaction, guild_text)
    if isinstance(gate, str) or not seed.isdigit():
        await _tell(interaction, gate if isinstance(gate, str) else "This form is not one I know.")
        return
    member, _ = gate
    await interaction.response.defer(ephemeral=True, thinking=True)
    if check_answer(make_challenge(int(seed)), _modal_value(data, ANSWER_FIELD)):
        await interaction.followup.send(await grant(bot, member, "challenge"), ephemeral=True)
        return
    await signal_if_running(
        bot, verification_workflow_id(member.guild.id), "challenge_failed", MemberDone(member.id)
    )
    await interaction.followup.send(
        "That is not the answer. Press Verify again for a new question.", ephemeral=True
    )


def panel_view(guild_id: int) -> discord.ui.View:
    """The panel's Verify button (handled by custom id in `on_interaction`, not by the view)."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label="Verify",
            style=discord.ButtonStyle.success,
            custom_id=verify_custom_id(guild_id),
        )
    )
    return view
