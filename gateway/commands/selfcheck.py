"""/selfcheck: the server's self-check (`POST /api/servers/{id}/test`, `dcs selfcheck`) in Discord.

For server managers: what the bot can do here against what the config needs (permissions,
channels, roles) and whether the database, the gateway, Telegram, the AI providers, Temporal and
the server's workflows answer. The reply is only for the caller and nothing is changed.
"""

from __future__ import annotations

import discord
from discord import app_commands

from domain.self_check import Finding, Report
from gateway.commands.context import refused_without_manage_guild, suite_bot

COLOURS = {"ok": 0x2ECC71, "warn": 0xF1C40F, "fail": 0xE74C3C}
MARKS = {"ok": "✅", "warn": "⚠️", "fail": "❌"}
DESCRIPTION_LIMIT = 4096
"""Discord's limit on an embed's description."""


@app_commands.command(name="selfcheck", description="Check the bot's setup on this server")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def selfcheck(interaction: discord.Interaction) -> None:
    """Reply (only to the caller) with every check, the problems first, each with its fix."""
    assert interaction.guild is not None
    if await refused_without_manage_guild(interaction):
        return
    bot = suite_bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    report = await bot.self_checker().run(interaction.guild.id)
    await interaction.followup.send(
        embed=report_embed(report), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


def report_embed(report: Report) -> discord.Embed:
    """The report as one embed: fails, then warnings with their fixes, then what is fine."""
    order = {"fail": 0, "warn": 1, "ok": 2}
    findings = sorted(report.findings, key=lambda f: order[f.status])
    counts = {s: sum(f.status == s for f in findings) for s in ("fail", "warn", "ok")}
    lines = [_line(f) for f in findings]
    description = ""
    for n, line in enumerate(lines):
        more = f"\n… and {len(lines) - n} more (`dcs selfcheck` or `POST …/test` lists all)"
        if len(description) + len(line) + 1 + len(more) > DESCRIPTION_LIMIT:
            description += more
            break
        description += ("\n" if description else "") + line
    embed = discord.Embed(
        title=f"Self-check: {report.status.upper()}",
        description=description,
        colour=COLOURS[report.status],
    )
    embed.set_footer(text=f"{counts['fail']} failing, {counts['warn']} warnings, {counts['ok']} ok")
    return embed


def _line(finding: Finding) -> str:
    line = f"{MARKS[finding.status]} **{finding.name}**: {finding.detail}"
    if finding.fix:
        line += f"\n   ↳ {finding.fix}"
    return line


COMMANDS: list[app_commands.Command | app_commands.Group] = [selfcheck]
