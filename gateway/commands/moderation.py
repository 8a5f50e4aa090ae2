"""Moderator commands: /warn /mute /kick /ban /unban /note /purge /case /cases /approve /reject.

Each sanction is checked here (the moderator's permission, then the role hierarchy: never the
owner, never someone at or above the moderator or the bot) and then reported to the member's
moderation workflow as a ``Violation(explicit=True, source='command')``. The workflow records the
numbered case, asks for approval when the server lists the action as sensitive, applies it, posts
the mod-log and DMs the member. The command waits a moment for the case number so the reply can
name it.

/purge deletes at once (Discord's bulk delete) and records its case here directly, since it is not
a sanction on one member; a purge of more than ``PURGE_APPROVAL_OVER`` messages counts as a
``mass_delete`` and, when the server lists that as sensitive, only an approver may run it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from sqlalchemy import select

from domain.cases import LiftRequest, Violation
from domain.hierarchy import Rank, hierarchy_problem
from gateway.commands.context import guild_of as _guild
from gateway.commands.context import suite_bot as _bot
from gateway.moderation_events import decide, may_decide, not_an_approver_message, report
from gateway.moderation_events import signal_member as _signal_member
from storage.cases import CaseRecord, get_case, list_cases, record_case
from storage.models import ModerationCase

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

CASE_WAIT_SECONDS = 2.0
"""How long a command waits for the workflow to number the case before replying without it."""
PURGE_APPROVAL_OVER = 20
PURGE_MAX = 100
PURGE_SCAN = 500
"""With a member filter, how many recent messages /purge looks through for theirs."""
MAX_TIMEOUT_MINUTES = 40320  # Discord's limit: 28 days
CASES_SHOWN = 10
POINTS = {"warn": 1, "timeout": 1, "kick": 1, "ban": 0, "note": 0}
"""Strike points a moderator's action adds (a ban ends the matter; a note is only a note)."""
VERBS = {"warn": "warning", "timeout": "timeout", "kick": "kick", "ban": "ban", "note": "note"}


def rank_of(user: discord.Member | discord.User, guild: discord.Guild) -> Rank:
    """Where an account stands in the guild (a non-member has no roles)."""
    position = user.top_role.position if isinstance(user, discord.Member) else 0
    return Rank(user.id, position, user.id == guild.owner_id, user.display_name)


def check_hierarchy(
    interaction: discord.Interaction, target: discord.Member | discord.User
) -> str | None:
    """Why the invoking moderator may not act on `target`, or None."""
    guild = _guild(interaction)
    return hierarchy_problem(
        rank_of(interaction.user, guild), rank_of(target, guild), rank_of(guild.me, guild)
    )


def _missing(interaction: discord.Interaction, permission: str) -> str | None:
    """Default permissions only hide commands; check again, as Discord lets admins override."""
    if getattr(interaction.permissions, permission):
        return None
    label = permission.replace("_", " ").title().replace("Moderate Members", "Timeout Members")
    return f"You need the {label} permission for that."


async def _refuse(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def _find_case(bot: SuiteBot, guild_id: int, source_key: str) -> int | None:
    async with bot.sessions() as session:
        number: int | None = await session.scalar(
            select(ModerationCase.case_number).where(
                ModerationCase.guild_id == guild_id, ModerationCase.source_key == source_key
            )
        )
    return number


async def wait_for_case(bot: SuiteBot, guild_id: int, source_key: str) -> int | None:
    """The case number the workflow gave this report, if it appears within CASE_WAIT_SECONDS."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CASE_WAIT_SECONDS
    while True:
        number = await _find_case(bot, guild_id, source_key)
        if number is not None or loop.time() >= deadline:
            return number
        await asyncio.sleep(0.1)


async def _sanction(
    interaction: discord.Interaction,
    target: discord.Member | discord.User,
    action: str,
    reason: str,
    *,
    permission: str,
    duration_minutes: int | None = None,
) -> None:
    """Permission, hierarchy, then report to the workflow and say what happens next."""
    problem = _missing(interaction, permission) or check_hierarchy(interaction, target)
    if problem is not None:
        await _refuse(interaction, problem)
        return
    bot, guild = _bot(interaction), _guild(interaction)
    config = bot.guild_config(guild.id)
    await interaction.response.defer(ephemeral=True, thinking=True)
    violation = Violation(
        guild_id=guild.id,
        user_id=target.id,
        source_key=f"command:{interaction.id}",
        source="command",
        action=action,
        reason=reason,
        occurred_at=datetime.now(UTC),
        points=POINTS.get(action, 0),
        channel_id=interaction.channel_id,
        moderator_id=interaction.user.id,
        mod_log_channel_id=config.mod_log_channel_id,
        duration_minutes=duration_minutes,
        explicit=True,
        already_applied=action == "note",
    )
    delivered = await report(bot, violation)
    what = f"{VERBS[action]} of {target.mention}"
    if duration_minutes:
        what += f" for {_minutes(duration_minutes)}"
    sensitive = action in config.approvals.sensitive_actions
    if not delivered:
        text = (
            f"The {what} is queued: the moderation service is not answering right now, and "
            "it will be handled as soon as it is back."
        )
    else:
        number = await wait_for_case(bot, guild.id, violation.source_key)
        prefix = f"Case #{number}: " if number is not None else ""
        what = what[:1].upper() + what[1:] if not prefix else what
        if sensitive:
            text = f"{prefix}{what} is waiting for approval (see the mod-log)."
        elif action == "note":
            text = f"{prefix}{what} recorded."
        else:
            text = f"{prefix}{what} is being applied."
    await interaction.followup.send(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


def _minutes(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' * (days != 1)}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minute{'s' * (minutes != 1)}"


Reason = app_commands.Range[str, 1, 500]


@app_commands.command(name="warn", description="Warn a member (recorded as a case)")
@app_commands.describe(member="Who to warn", reason="Why (the member sees this)")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def warn(interaction: discord.Interaction, member: discord.Member, reason: Reason) -> None:
    """A warning adds one strike."""
    await _sanction(interaction, member, "warn", reason, permission="moderate_members")


@app_commands.command(name="mute", description="Time a member out")
@app_commands.describe(member="Who to time out", minutes="How long", reason="Why")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def mute(
    interaction: discord.Interaction,
    member: discord.Member,
    minutes: app_commands.Range[int, 1, MAX_TIMEOUT_MINUTES],
    reason: Reason,
) -> None:
    """A Discord timeout for `minutes`."""
    await _sanction(
        interaction,
        member,
        "timeout",
        reason,
        permission="moderate_members",
        duration_minutes=minutes,
    )


@app_commands.command(name="kick", description="Kick a member")
@app_commands.describe(member="Who to kick", reason="Why")
@app_commands.guild_only()
@app_commands.default_permissions(kick_members=True)
async def kick(interaction: discord.Interaction, member: discord.Member, reason: Reason) -> None:
    """Kick (waits for approval when the server lists kicks as sensitive)."""
    await _sanction(interaction, member, "kick", reason, permission="kick_members")


@app_commands.command(name="ban", description="Ban a user, for a while or for good")
@app_commands.describe(
    user="Who to ban (a member, or any user by id)",
    reason="Why",
    minutes="How long (leave empty for a permanent ban)",
)
@app_commands.guild_only()
@app_commands.default_permissions(ban_members=True)
async def ban(
    interaction: discord.Interaction,
    user: discord.User,
    reason: Reason,
    minutes: app_commands.Range[int, 1, 525_600] | None = None,
) -> None:
    """Ban; with `minutes` the workflow lifts it when the time is up."""
    await _sanction(
        interaction, user, "ban", reason, permission="ban_members", duration_minutes=minutes
    )


@app_commands.command(name="note", description="Add a note to a member's record (no sanction)")
@app_commands.describe(member="About whom", text="The note")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def note(interaction: discord.Interaction, member: discord.User, text: Reason) -> None:
    """A case with no sanction and no strike."""
    await _sanction(interaction, member, "note", text, permission="moderate_members")


@app_commands.command(name="unban", description="Lift a ban")
@app_commands.describe(user="Who to unban (their id works)", reason="Why")
@app_commands.guild_only()
@app_commands.default_permissions(ban_members=True)
async def unban(interaction: discord.Interaction, user: discord.User, reason: Reason) -> None:
    """The member's workflow lifts the ban and records it."""
    problem = _missing(interaction, "ban_members")
    if problem is not None:
        await _refuse(interaction, problem)
        return
    bot, guild = _bot(interaction), _guild(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await guild.fetch_ban(user)
    except discord.NotFound:
        await interaction.followup.send(f"{user.mention} is not banned here.", ephemeral=True)
        return
    lift = LiftRequest(
        guild_id=guild.id,
        user_id=user.id,
        sanction="ban",
        reason=reason,
        source_key=f"command:{interaction.id}",
        requested_at=datetime.now(UTC),
        moderator_id=interaction.user.id,
    )
    try:
        await _signal_member(bot, guild.id, user.id, "lift", lift)
    except Exception:
        await interaction.followup.send(
            "The moderation service could not be reached; please try again in a minute.",
            ephemeral=True,
        )
        return
    await interaction.followup.send(
        f"Unban of {user.mention} is being applied.",
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@app_commands.command(name="purge", description="Delete recent messages in this channel")
@app_commands.describe(count="How many messages", member="Only this member's messages")
@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
async def purge(
    interaction: discord.Interaction,
    count: app_commands.Range[int, 1, PURGE_MAX],
    member: discord.Member | None = None,
) -> None:
    """Bulk delete, then one case; a big purge is a mass delete only approvers may run."""
    problem = _missing(interaction, "manage_messages")
    bot, guild = _bot(interaction), _guild(interaction)
    config = bot.guild_config(guild.id)
    actor = cast("discord.Member", interaction.user)
    if problem is None and member is not None:
        problem = check_hierarchy(interaction, member) if member.id != actor.id else None
    if (
        problem is None
        and count > PURGE_APPROVAL_OVER
        and "mass_delete" in config.approvals.sensitive_actions
        and not may_decide(actor, config)
    ):
        problem = (
            f"Purging more than {PURGE_APPROVAL_OVER} messages is a mass delete, which this "
            f"server keeps for approvers. {not_an_approver_message(config)}"
        )
    channel = interaction.channel
    if problem is None and not isinstance(channel, discord.TextChannel | discord.Thread):
        problem = "Messages can only be purged in a text channel or thread."
    if problem is not None:
        await _refuse(interaction, problem)
        return
    assert isinstance(channel, discord.TextChannel | discord.Thread)
    await interaction.response.defer(ephemeral=True, thinking=True)
    chosen: list[int] = []

    def wanted(message: discord.Message) -> bool:
        if len(chosen) >= count or message.flags.ephemeral or message.interaction_metadata:
            return False
        if member is not None and message.author.id != member.id:
            return False
        chosen.append(message.id)
        return True

    scan = PURGE_SCAN if member is not None else count + 5
    try:
        deleted = await channel.purge(limit=scan, check=wanted, reason=f"/purge by {actor}")
    except discord.Forbidden:
        await interaction.followup.send("I can't delete messages in this channel.", ephemeral=True)
        return
    case = await _record_purge(interaction, channel, len(deleted), member)
    await _post_purge(bot, config.mod_log_channel_id, case, channel)
    whose = f" from {member.mention}" if member else ""
    await interaction.followup.send(
        f"Case #{case.case_number}: deleted {len(deleted)} message"
        f"{'s' * (len(deleted) != 1)}{whose}.",
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


async def _record_purge(
    interaction: discord.Interaction,
    channel: discord.TextChannel | discord.Thread,
    deleted: int,
    member: discord.Member | None,
) -> CaseRecord:
    bot, guild = _bot(interaction), _guild(interaction)
    about = member.id if member is not None else interaction.user.id
    whose = f" from {member}" if member is not None else ""
    async with bot.sessions() as session, session.begin():
        return await record_case(
            session,
            guild_id=guild.id,
            user_id=about,
            moderator_id=interaction.user.id,
            action="purge",
            reason=f"Purged {deleted} messages{whose} in #{channel.name}",
            evidence={
                "channel_id": str(channel.id),
                "deleted": deleted,
                "member_id": str(member.id) if member else None,
            },
            source="command",
            source_key=f"command:{interaction.id}",
            created_at=datetime.now(UTC),
        )


async def _post_purge(
    bot: SuiteBot,
    mod_log_channel_id: int | None,
    case: CaseRecord,
    channel: discord.TextChannel | discord.Thread,
) -> None:
    target = bot.get_channel(mod_log_channel_id) if mod_log_channel_id else None
    if not isinstance(target, discord.TextChannel):
        return
    try:
        await target.send(
            f"**Case #{case.case_number}** · purge in {channel.mention} by <@{case.moderator_id}>"
            f"\n{case.reason}",
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException:
        pass  # the case is on record; a mod-log Discord refuses is not worth failing over


@app_commands.command(name="case", description="Show one moderation case")
@app_commands.describe(number="The case number")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def case(
    interaction: discord.Interaction, number: app_commands.Range[int, 1, 2**31 - 1]
) -> None:
    """The case as an embed."""
    problem = _missing(interaction, "moderate_members")
    if problem is not None:
        await _refuse(interaction, problem)
        return
    bot, guild = _bot(interaction), _guild(interaction)
    async with bot.sessions() as session:
        found = await get_case(session, guild.id, number)
    if found is None:
        await _refuse(interaction, f"There is no case #{number} in this server.")
        return
    await interaction.response.send_message(embed=case_embed(found), ephemeral=True)


def case_embed(record: CaseRecord) -> discord.Embed:
    """One case, for moderators."""
    embed = discord.Embed(
        title=f"Case #{record.case_number} · {record.action}",
        description=record.reason[:4000],
        timestamp=record.created_at,
    )
    embed.add_field(name="Member", value=f"<@{record.user_id}>")
    moderator = f"<@{record.moderator_id}>" if record.moderator_id else record.source
    embed.add_field(name="By", value=moderator)
    embed.add_field(name="Source", value=record.source)
    if record.duration_seconds:
        embed.add_field(name="Duration", value=_minutes(record.duration_seconds // 60 or 1))
    if record.points:
        embed.add_field(name="Points", value=str(record.points))
    if record.evidence:
        evidence = ", ".join(f"{k}: {v}" for k, v in record.evidence.items() if v is not None)
        embed.add_field(name="Evidence", value=evidence[:1024] or "-", inline=False)
    return embed


@app_commands.command(name="cases", description="A member's moderation history")
@app_commands.describe(member="Whose cases")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def cases(interaction: discord.Interaction, member: discord.User) -> None:
    """The member's latest cases, newest first."""
    problem = _missing(interaction, "moderate_members")
    if problem is not None:
        await _refuse(interaction, problem)
        return
    bot, guild = _bot(interaction), _guild(interaction)
    async with bot.sessions() as session:
        found = await list_cases(session, guild.id, user_id=member.id, limit=CASES_SHOWN)
    if not found:
        await _refuse(interaction, f"{member.mention} has no cases here.")
        return
    lines = [
        f"**#{c.case_number}** · {c.action} · <t:{int(c.created_at.timestamp())}:d> · "
        f"{c.reason[:80]}"
        for c in found
    ]
    embed = discord.Embed(title=f"Cases · {member.display_name}", description="\n".join(lines))
    if len(found) == CASES_SHOWN:
        embed.set_footer(text=f"The latest {CASES_SHOWN}; the API has the whole history.")
    await interaction.response.send_message(embed=embed, ephemeral=True)


async def _decide_command(interaction: discord.Interaction, approval_id: str, verdict: str) -> None:
    member = interaction.user
    assert isinstance(member, discord.Member)
    await interaction.response.defer(ephemeral=True, thinking=True)
    text = await decide(
        _bot(interaction),
        member,
        approval_id.strip(),
        "approve" if verdict == "approve" else "reject",
        "command",
    )
    await interaction.followup.send(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


@app_commands.command(name="approve", description="Approve a pending moderation action")
@app_commands.describe(approval_id="The approval's id (shown in the mod-log request)")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def approve(
    interaction: discord.Interaction, approval_id: app_commands.Range[str, 1, 36]
) -> None:
    """Same path as the mod-log button; approvers only."""
    await _decide_command(interaction, approval_id, "approve")


@app_commands.command(name="reject", description="Reject a pending moderation action")
@app_commands.describe(approval_id="The approval's id (shown in the mod-log request)")
@app_commands.guild_only()
@app_commands.default_permissions(moderate_members=True)
async def reject(
    interaction: discord.Interaction, approval_id: app_commands.Range[str, 1, 36]
) -> None:
    """Same path as the mod-log button; approvers only."""
    await _decide_command(interaction, approval_id, "reject")


COMMANDS: list[app_commands.Command | app_commands.Group] = [
    warn,
    mute,
    kick,
    ban,
    unban,
    note,
    purge,
    case,
    cases,
    approve,
    reject,
]
