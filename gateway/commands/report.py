"""'Report to moderators' on a message: a person flags it, the AI reviewer judges it in context.

The report lands in the author's moderation workflow with ``needs_review``; the reviewer's verdict
(none / warn / mute / kick / ban) decides what follows, through the ladder and approvals like any
other case. Only reported or automod-flagged messages ever reach the AI.
"""

from __future__ import annotations

from datetime import UTC

import discord
from discord import app_commands

from domain.automod import EXCERPT_LIMIT
from domain.cases import Violation
from gateway.automod_actions import REVIEW_CONTENT_LIMIT, recent_context
from gateway.commands.context import suite_bot
from gateway.moderation_events import report


@app_commands.context_menu(name="Report to moderators")
@app_commands.default_permissions(moderate_members=True)
@app_commands.guild_only()
async def report_message(interaction: discord.Interaction, message: discord.Message) -> None:
    """Send the message to the AI reviewer and the author's moderation record."""
    bot = suite_bot(interaction)
    if interaction.guild is None:
        return
    if message.author.bot or message.author.id == interaction.user.id:
        await interaction.response.send_message(
            "Bots' and your own messages can't be reported.", ephemeral=True
        )
        return
    if not message.content.strip():
        await interaction.response.send_message(
            "That message has no text for the reviewer to read.", ephemeral=True
        )
        return
    config = bot.guild_config(interaction.guild.id)
    if not config.moderation.ai_review:
        await interaction.response.send_message(
            "AI review is turned off on this server (`moderation.ai_review`); use /warn, /mute, "
            "/kick or /ban instead.",
            ephemeral=True,
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    violation = Violation(
        guild_id=interaction.guild.id,
        user_id=message.author.id,
        source_key=f"report:{message.id}",
        source="report",
        action="review",
        reason=f"reported by {interaction.user.display_name}",
        occurred_at=message.created_at.astimezone(UTC),
        points=0,
        channel_id=message.channel.id,
        message_id=message.id,
        excerpt=message.content[:EXCERPT_LIMIT],
        moderator_id=interaction.user.id,
        mod_log_channel_id=config.mod_log_channel_id,
        needs_review=True,
        content=message.content[:REVIEW_CONTENT_LIMIT],
        context=recent_context(bot, message),
    )
    delivered = await report(bot, violation)
    text = (
        f"Reported {message.author.mention}'s message: the reviewer's verdict goes to the mod-log."
        if delivered
        else "Reported: the moderation service is not answering, it will be reviewed once back."
    )
    await interaction.followup.send(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


COMMANDS = [report_message]
