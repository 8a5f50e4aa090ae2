"""Carry out an automod judgement: delete at once, report to the member's workflow, then the rest.

The order matters for the member's experience and for the mod team: the message disappears
first (one REST call), the report with the rules' summed strike weight goes to the durable
moderation workflow (which applies warns, timeouts and the ladder), and the cosmetic and
channel actions (reply, roles, slowmode, mod-log alert) run afterwards off the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC
from typing import Any, Protocol

import discord

from dcs.server_config import ServerConfig
from domain.automod import Judgement, MessageSnapshot, RuleAction
from domain.automod_types import AttachmentInfo
from domain.cases import Violation

log = logging.getLogger(__name__)

SANCTION_ACTIONS = ("timeout", "warn", "escalate")
REPLY_DELETE_AFTER_S = 30.0
CONTEXT_MESSAGES = 5
"""Messages before a flagged one that the AI reviewer sees, to judge it in its conversation."""
REVIEW_CONTENT_LIMIT = 2000
"""A rule's reply is a notice to the author, not part of the conversation: it goes away."""
ALERT_COLOUR = 0xE67E22


class ActionHost(Protocol):
    """What the actions need of the bot (SuiteBot provides it; tests may pass a fake)."""

    def get_channel(self, channel_id: int, /) -> Any:
        """A cached channel by id."""
        ...

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...

    async def _report(self, violation: Violation) -> None: ...


def _category_and_parent(channel: Any) -> tuple[int | None, int | None]:
    """(category id, parent channel id) of a channel; a thread's category is its parent's."""
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return (parent.category_id if parent is not None else None), channel.parent_id
    return getattr(channel, "category_id", None), None


def snapshot_of(
    message: discord.Message, own_invite_codes: Any = frozenset()
) -> MessageSnapshot | None:
    """Translate a discord.py message into the domain's plain snapshot (guild messages only)."""
    if message.guild is None:
        return None
    author = message.author
    category_id, parent_id = _category_and_parent(message.channel)
    mentions = len(set(message.raw_mentions)) + len(set(message.raw_role_mentions))
    return MessageSnapshot(
        guild_id=message.guild.id,
        channel_id=message.channel.id,
        author_id=author.id,
        author_role_ids=frozenset(r.id for r in getattr(author, "roles", ())),
        author_is_bot=author.bot,
        content=message.content,
        parent_id=parent_id,
        category_id=category_id,
        mention_count=mentions,
        attachments=tuple(AttachmentInfo(a.filename, a.content_type) for a in message.attachments),
        account_created_at=author.created_at,
        joined_at=getattr(author, "joined_at", None),
        now=message.created_at.astimezone(UTC),
        own_invite_codes=own_invite_codes,
    )


def violation_of(
    message: discord.Message,
    judgement: Judgement,
    config: ServerConfig,
    context: tuple[str, ...] = (),
) -> Violation | None:
    """The report a member's workflow receives, or None when nothing is to be counted.

    A rule that names warn or timeout makes that the (explicit) sanction; otherwise the
    summed strike weight climbs the server's ladder. Weight 0 with no sanction is a silent
    clean-up: no case.
    """
    assert message.guild is not None
    actions = judgement.actions
    sanction = next((a for kind in SANCTION_ACTIONS for a in actions if a.kind == kind), None)
    if sanction is None and judgement.strike_weight == 0:
        return None
    first = judgement.verdicts[0]
    # Left to the ladder: the AI reviewer may add to it (never for a rule's explicit sanction).
    review = (sanction is None or sanction.kind == "escalate") and config.moderation.ai_review
    return Violation(
        guild_id=message.guild.id,
        user_id=message.author.id,
        source_key=f"automod:{message.id}",
        source="automod",
        action=sanction.kind if sanction is not None else "delete",
        reason=judgement.reason,
        occurred_at=message.created_at.astimezone(UTC),
        rule=",".join(judgement.rules),
        points=judgement.strike_weight,
        channel_id=message.channel.id,
        message_id=message.id,
        excerpt=first.excerpt,
        mod_log_channel_id=config.mod_log_channel_id,
        duration_minutes=sanction.duration_minutes if sanction is not None else None,
        explicit=sanction is not None and sanction.kind in ("warn", "timeout"),
        needs_review=review,
        content=message.content[:REVIEW_CONTENT_LIMIT] if review else None,
        context=context if review else (),
    )


def recent_context(bot: object, message: discord.Message) -> tuple[str, ...]:
    """The last few messages before ``message`` in its channel, from discord.py's cache."""
    cached = getattr(bot, "cached_messages", ())
    lines = [
        f"{m.author.display_name}: {m.content[:300]}"
        for m in cached
        if m.channel.id == message.channel.id and m.id < message.id and m.content
    ]
    return tuple(lines[-CONTEXT_MESSAGES:])


async def perform(
    bot: ActionHost, message: discord.Message, judgement: Judgement, config: ServerConfig
) -> None:
    """Do what the rules ask: delete now, report, then the rest without holding up the path."""
    if judgement.deletes:
        await delete_message(message)
    violation = violation_of(message, judgement, config, recent_context(bot, message))
    if violation is not None:
        await bot._report(violation)
    for action in judgement.actions:
        step = _STEPS.get(action.kind)
        if step is not None:
            bot._spawn(_guarded(action, step(bot, message, judgement, config, action)))
    if judgement.has("raise_raid_level"):
        guild_id = message.guild.id if message.guild is not None else None
        log.warning("automod %s in guild %s: raise the raid level", judgement.rules, guild_id)
        dispatch = getattr(bot, "dispatch", None)
        if callable(dispatch):  # the raid module (issue #4) can listen: on_automod_raid_signal
            dispatch("automod_raid_signal", message, judgement)


async def delete_message(message: discord.Message) -> None:
    """Delete, tolerating a message already gone or a channel we may not moderate."""
    try:
        await message.delete()
    except discord.NotFound:
        log.info("message %s already gone", message.id)
    except discord.Forbidden:
        log.warning("missing permission to delete in channel %s", message.channel.id)


async def _guarded(action: RuleAction, step: Awaitable[None]) -> None:
    """An action Discord refuses is logged, never raised into the gateway."""
    try:
        await step
    except discord.Forbidden:
        log.warning("automod %s: missing permission", action.describe())
    except discord.HTTPException as exc:
        log.warning("automod %s failed: %s", action.describe(), exc)


async def _reply(
    bot: ActionHost,
    message: discord.Message,
    judgement: Judgement,
    config: ServerConfig,
    action: RuleAction,
) -> None:
    """Tell the author in the channel ({mention}, {rule} are filled in)."""
    text = (action.text or "").replace("{mention}", message.author.mention)
    text = text.replace("{rule}", ", ".join(judgement.rules))
    await message.channel.send(
        text,
        delete_after=REPLY_DELETE_AFTER_S,
        allowed_mentions=discord.AllowedMentions(users=[message.author], roles=False),
    )


async def _change_role(
    bot: ActionHost,
    message: discord.Message,
    judgement: Judgement,
    config: ServerConfig,
    action: RuleAction,
) -> None:
    """Add or remove the rule's role on the author."""
    member = message.author
    if not isinstance(member, discord.Member) or action.role_id is None:
        return
    role = discord.Object(id=action.role_id)
    reason = f"automod: {', '.join(judgement.rules)}"
    if action.kind == "add_role":
        await member.add_roles(role, reason=reason)
    else:
        await member.remove_roles(role, reason=reason)


async def _slowmode(
    bot: ActionHost,
    message: discord.Message,
    judgement: Judgement,
    config: ServerConfig,
    action: RuleAction,
) -> None:
    """Raise the channel's slowmode to the rule's seconds (never lowers a stricter one)."""
    channel = message.channel
    seconds = action.seconds or 0
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        return
    if (channel.slowmode_delay or 0) >= seconds:
        return
    await channel.edit(slowmode_delay=seconds, reason=f"automod: {', '.join(judgement.rules)}")


async def _alert(
    bot: ActionHost,
    message: discord.Message,
    judgement: Judgement,
    config: ServerConfig,
    action: RuleAction,
) -> None:
    """Post a heads-up to the mod-log channel (nothing when the server has none)."""
    if config.mod_log_channel_id is None:
        return
    channel = bot.get_channel(config.mod_log_channel_id)
    if channel is None or not hasattr(channel, "send"):
        log.info("mod-log channel %s not visible; automod alert dropped", config.mod_log_channel_id)
        return
    embed = discord.Embed(
        title="Automod alert",
        description=judgement.reason,
        colour=ALERT_COLOUR,
    )
    embed.add_field(name="Member", value=f"{message.author.mention} ({message.author.id})")
    embed.add_field(name="Channel", value=f"<#{message.channel.id}>")
    embed.add_field(name="Actions", value=", ".join(a.describe() for a in judgement.actions))
    embed.add_field(name="Excerpt", value=judgement.verdicts[0].excerpt or "(empty)", inline=False)
    embed.set_footer(text=f"strike weight {judgement.strike_weight}")
    await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())


Step = Callable[
    [ActionHost, discord.Message, Judgement, ServerConfig, RuleAction], Coroutine[Any, Any, None]
]
_STEPS: dict[str, Step] = {
    "reply": _reply,
    "add_role": _change_role,
    "remove_role": _change_role,
    "slowmode": _slowmode,
    "alert": _alert,
}
