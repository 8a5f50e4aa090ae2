"""What happens on Discord when a member levels up or earns a badge: roles and announcements."""

from __future__ import annotations

import logging

import discord

from dcs.engagement import role_rewards
from dcs.server_config import ServerConfig, XPConfig
from domain.catalogue import text
from domain.leveling import progress
from domain.role_rewards import role_changes
from domain.xp_tracker import XPAward
from gateway.engagement import Earned

log = logging.getLogger(__name__)


async def sync_reward_roles(member: discord.Member, config: ServerConfig, total_xp: int) -> None:
    """Give the member exactly the reward roles their level earns (stack or replace)."""
    rewards = role_rewards(config)
    if not rewards:
        return
    level = progress(config.xp.curve, total_xp, config.xp.max_level).level
    current = frozenset(r.id for r in member.roles)
    changes = role_changes(rewards, level, current, stack=config.xp.stack_rewards)
    guild = member.guild
    try:
        add = [r for r in (guild.get_role(i) for i in changes.add) if r is not None]
        remove = [r for r in (guild.get_role(i) for i in changes.remove) if r is not None]
        if add:
            await member.add_roles(*add, reason=f"Level {level} reward")
        if remove:
            await member.remove_roles(*remove, reason=f"Level {level} reward replaced")
    except discord.Forbidden:
        log.warning("cannot manage reward roles in guild %s (role above the bot?)", guild.id)
    except discord.NotFound:
        log.info("member %s left before their reward roles were set", member.id)


DEFAULT_LEVEL_UP = XPConfig.model_fields["announce_template"].default


def level_up_text(
    config: ServerConfig, member: discord.Member, award: XPAward, rank: int | None
) -> str:
    """The server's template, filled in; the default one in the server's language."""
    fields = {
        "mention": member.mention,
        "name": member.display_name,
        "level": award.level_after,
        "rank": rank if rank is not None else "?",
        "xp": award.total_after,
    }
    template = config.xp.announce_template
    if template == DEFAULT_LEVEL_UP:  # the suite's words, not the server's own
        return text("engagement.level_up", config.language, **fields)
    return template.format(**fields)


async def announce_level_up(
    message: discord.Message, config: ServerConfig, award: XPAward, rank: int | None = None
) -> None:
    """Post the level-up where the server wants it (channel, DM or nowhere)."""
    member = message.author
    if not isinstance(member, discord.Member) or config.xp.announce == "off":
        return
    text = level_up_text(config, member, award, rank)
    try:
        if config.xp.announce == "dm":
            await member.send(text)
            return
        channel = message.channel
        if config.xp.announce_channel_id is not None:
            found = member.guild.get_channel(config.xp.announce_channel_id)
            if isinstance(found, discord.TextChannel):
                channel = found
        await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[member]))
    except (discord.Forbidden, discord.NotFound):
        log.info("level-up announcement for %s could not be delivered", member.id)


async def announce_earned(guild: discord.Guild | None, config: ServerConfig, item: Earned) -> None:
    """Grant the badge's role and tell the member, where the server announces level-ups."""
    if guild is None:
        return
    member = guild.get_member(item.user_id)
    if member is None:
        return
    if item.rule.role_id is not None:
        role = guild.get_role(item.rule.role_id)
        if role is not None:
            try:
                await member.add_roles(role, reason=f"Achievement: {item.rule.name}")
            except (discord.Forbidden, discord.NotFound):
                log.warning("could not grant achievement role %s", item.rule.role_id)
    if config.xp.announce == "off":
        return
    key = "engagement.achievement_bonus" if item.rule.xp_bonus else "engagement.achievement"
    said = text(
        key, config.language, mention=member.mention, badge=item.rule.name, xp=item.rule.xp_bonus
    )
    try:
        if config.xp.announce == "dm":
            await member.send(said)
        elif config.xp.announce_channel_id is not None:
            channel = guild.get_channel(config.xp.announce_channel_id)
            if isinstance(channel, discord.TextChannel):
                await channel.send(said, allowed_mentions=discord.AllowedMentions(users=[member]))
    except (discord.Forbidden, discord.NotFound):
        log.info("achievement announcement for %s could not be delivered", member.id)
