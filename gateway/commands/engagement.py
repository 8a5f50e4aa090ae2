"""/rank, /leaderboard, /achievements and the admins' /xp give|take|reset."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from dcs.engagement import achievement_rules, counters_of
from domain.leveling import progress
from gateway.commands.context import guild_of as _guild
from gateway.commands.context import refused_without_manage_guild
from gateway.commands.context import suite_bot as _bot
from gateway.rank_card import RankCard, render_rank_card
from storage.achievements import list_achievements
from storage.levels import adjust_xp, get_member_level, leaderboard, member_rank, reset_member

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

PAGE_SIZE = 10
MAX_PAGE = 100


AVATAR_TIMEOUT_S = 2.0


async def _avatar(bot: SuiteBot, member: discord.abc.User) -> bytes | None:
    """The member's avatar, or None (the card draws one) in the sandbox or when the CDN lags."""
    if bot.sandbox:
        return None
    try:
        return await asyncio.wait_for(member.display_avatar.read(), AVATAR_TIMEOUT_S)
    except (TimeoutError, discord.DiscordException, OSError):
        return None


@app_commands.command(name="rank", description="Show your rank card, or another member's")
@app_commands.describe(member="Whose card (default: yours)")
@app_commands.guild_only()
async def rank(interaction: discord.Interaction, member: discord.Member | None = None) -> None:
    """Render the card from stored XP plus what is still waiting to be written."""
    bot, guild = _bot(interaction), _guild(interaction)
    target = member or cast("discord.Member", interaction.user)
    await interaction.response.defer(thinking=True)
    await bot.engagement.flush()
    config = bot.guild_config(guild.id)
    async with bot.sessions() as session:
        row = await get_member_level(session, guild.id, target.id)
        position = await member_rank(session, guild.id, target.id) if row else None
    total = row.xp if row else 0
    p = progress(config.xp.curve, total, config.xp.max_level)
    card = RankCard(
        display_name=target.display_name,
        username=target.name,
        avatar=await _avatar(bot, target),
        level=p.level,
        rank=position,
        xp_into_level=p.xp_into_level,
        xp_needed=p.xp_needed,
        total_xp=total,
    )
    png = await asyncio.to_thread(render_rank_card, card)
    await interaction.followup.send(file=discord.File(io.BytesIO(png), filename="rank.png"))


@app_commands.command(name="leaderboard", description="The server's most active members")
@app_commands.describe(page="Page number (10 members a page)")
@app_commands.guild_only()
async def leaderboard_cmd(
    interaction: discord.Interaction, page: app_commands.Range[int, 1, MAX_PAGE] = 1
) -> None:
    """One page of the leaderboard as an embed."""
    bot, guild = _bot(interaction), _guild(interaction)
    await bot.engagement.flush()
    config = bot.guild_config(guild.id)
    async with bot.sessions() as session:
        rows = await leaderboard(session, guild.id, limit=PAGE_SIZE * page)
    shown = rows[PAGE_SIZE * (page - 1) :]
    if not shown:
        await interaction.response.send_message(f"Page {page} is empty.", ephemeral=True)
        return
    lines = []
    for offset, row in enumerate(shown, start=PAGE_SIZE * (page - 1) + 1):
        level = progress(config.xp.curve, row.xp, config.xp.max_level).level
        lines.append(f"**#{offset}** <@{row.user_id}> · level {level} · {row.xp:,} XP")
    embed = discord.Embed(title=f"Leaderboard · {guild.name}", description="\n".join(lines))
    embed.set_footer(text=f"Page {page}")
    await interaction.response.send_message(
        embed=embed, allowed_mentions=discord.AllowedMentions.none()
    )


@app_commands.command(name="achievements", description="Badges earned, and those still ahead")
@app_commands.describe(member="Whose achievements (default: yours)")
@app_commands.guild_only()
async def achievements(
    interaction: discord.Interaction, member: discord.Member | None = None
) -> None:
    """Earned badges with dates, then progress towards the others."""
    bot, guild = _bot(interaction), _guild(interaction)
    target = member or interaction.user
    await bot.engagement.flush()
    config = bot.guild_config(guild.id)
    async with bot.sessions() as session:
        row = await get_member_level(session, guild.id, target.id)
        earned = dict(await list_achievements(session, guild.id, target.id))
    rules = achievement_rules(config)
    level = progress(config.xp.curve, row.xp if row else 0, config.xp.max_level).level
    counters = counters_of(row, level) if row else None
    lines = []
    for rule in rules:
        if rule.key in earned:
            lines.append(f"🏅 **{rule.name}** · <t:{int(earned[rule.key].timestamp())}:d>")
        else:
            have = getattr(counters, rule.counter, 0) if counters else 0
            lines.append(f"▫️ {rule.name} · {min(have, rule.threshold)}/{rule.threshold}")
    embed = discord.Embed(
        title=f"Achievements · {target.display_name}",
        description="\n".join(lines) or "This server has no achievements.",
    )
    await interaction.response.send_message(embed=embed, ephemeral=member is None)


xp_group = app_commands.Group(
    name="xp",
    description="Adjust members' XP (admins)",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


async def _change_xp(
    interaction: discord.Interaction, member: discord.Member, delta: int | None
) -> None:
    bot, guild = _bot(interaction), _guild(interaction)
    if await refused_without_manage_guild(interaction):
        return
    await bot.engagement.flush()
    async with bot.sessions() as session, session.begin():
        if delta is None:
            await reset_member(session, guild.id, member.id)
            total = 0
        else:
            row = await adjust_xp(
                session, guild.id, member.id, delta, level_of=bot.engagement.level_of(guild.id)
            )
            total = row.xp
    bot.engagement.tracker.confirm(guild.id, member.id, total)
    await bot.sync_reward_roles(member, total)
    verb = "reset" if delta is None else ("given" if delta >= 0 else "taken")
    await interaction.response.send_message(
        f"XP {verb}: {member.mention} now has {total:,} XP.",
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@xp_group.command(name="give", description="Give XP to a member")
@app_commands.describe(member="Who", amount="How much XP")
async def xp_give(
    interaction: discord.Interaction,
    member: discord.Member,
    amount: app_commands.Range[int, 1, 1_000_000],
) -> None:
    """Add XP (never below zero)."""
    await _change_xp(interaction, member, amount)


@xp_group.command(name="take", description="Take XP from a member")
@app_commands.describe(member="Who", amount="How much XP")
async def xp_take(
    interaction: discord.Interaction,
    member: discord.Member,
    amount: app_commands.Range[int, 1, 1_000_000],
) -> None:
    """Remove XP (stops at zero)."""
    await _change_xp(interaction, member, -amount)


@xp_group.command(name="reset", description="Reset a member's XP and level to zero")
@app_commands.describe(member="Who")
async def xp_reset(interaction: discord.Interaction, member: discord.Member) -> None:
    """Start the member over."""
    await _change_xp(interaction, member, None)


COMMANDS: list[app_commands.Command | app_commands.Group] = [
    rank,
    leaderboard_cmd,
    achievements,
    xp_group,
]
