"""Ticket commands: /ticket open|panel, and in a ticket /claim, /assign, /close, /reopen.

Every one of them lands in the ticket's workflow (through `gateway/ticket_link.py`, which the
buttons use too); none touches Discord or the database itself. `/close` without a reason opens
a form that asks for one, because the transcript keeps it. Staff are members with a support or
category role, Manage Server or Manage Threads; the workflow refuses staff actions to others.
"""

from __future__ import annotations

import discord
from discord import app_commands

from domain.catalogue import text
from domain.tickets import ASSIGN, CLAIM, CLOSE, DEFAULT_SUBJECT, REOPEN
from gateway.commands.context import suite_bot as _bot
from gateway.ticket_link import OPEN_BUTTON, TicketLink


def _link(interaction: discord.Interaction) -> TicketLink:
    return _bot(interaction).tickets


def _language(interaction: discord.Interaction) -> str:
    guild = interaction.guild_id
    return _bot(interaction).guild_config(guild).language if guild else "en"


ticket_group = app_commands.Group(
    name="ticket", description="Open a private support ticket", guild_only=True
)


async def _category_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    guild = interaction.guild_id
    if guild is None:
        return []
    categories = _bot(interaction).guild_config(guild).tickets.categories
    return [
        app_commands.Choice(
            name=f"{c.name} — {c.description}"[:100] if c.description else c.name, value=c.name
        )
        for c in categories
        if current.lower() in c.name
    ][:25]


@ticket_group.command(name="open", description="Open a private ticket with the support staff")
@app_commands.describe(subject="What do you need help with?", category="The kind of problem")
@app_commands.autocomplete(category=_category_choices)
async def open_command(
    interaction: discord.Interaction,
    subject: app_commands.Range[str, 1, 200] | None = None,
    category: str | None = None,
) -> None:
    """Open a ticket for the member (the server's per-member limit applies)."""
    await _link(interaction).open_for(interaction, subject or DEFAULT_SUBJECT, category, "command")


@ticket_group.command(name="panel", description="Post a panel with an 'Open a ticket' button")
@app_commands.default_permissions(manage_guild=True)
async def panel(interaction: discord.Interaction) -> None:
    """Post the panel here; its button (`ticket:open`) opens a ticket for whoever presses it."""
    language = _language(interaction)
    embed = discord.Embed(
        title=text("ticket.panel.title", language),
        description=text("ticket.panel.body", language),
        colour=0x5865F2,
    )
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label=text("ticket.button.open", language),
            style=discord.ButtonStyle.primary,
            custom_id=OPEN_BUTTON,
            emoji="🎫",
        )
    )
    await interaction.response.send_message(embed=embed, view=view)


async def _here(interaction: discord.Interaction, number: int | None) -> int | None:
    found = number or await _link(interaction).ticket_here(interaction)
    if found is None:
        await interaction.response.send_message(
            f"⚠️ {text('ticket.refused.not_ticket', _language(interaction))}", ephemeral=True
        )
    return found


@app_commands.command(name="claim", description="Take this ticket")
@app_commands.guild_only()
async def claim(interaction: discord.Interaction, ticket: int | None = None) -> None:
    """Staff: claim the ticket (its members see who is helping)."""
    number = await _here(interaction, ticket)
    if number is not None:
        await _link(interaction).run_action(interaction, number, CLAIM)


@app_commands.command(name="assign", description="Assign this ticket to a staff member")
@app_commands.guild_only()
async def assign(
    interaction: discord.Interaction, member: discord.Member, ticket: int | None = None
) -> None:
    """Staff: hand the ticket to someone (they are pinged in it)."""
    number = await _here(interaction, ticket)
    if number is not None:
        await _link(interaction).run_action(interaction, number, ASSIGN, target_id=member.id)


@app_commands.command(
    name="close", description="Close this ticket (the reason goes in the transcript)"
)
@app_commands.guild_only()
async def close(
    interaction: discord.Interaction,
    reason: app_commands.Range[str, 1, 1000] | None = None,
    ticket: int | None = None,
) -> None:
    """Close: with a reason at once, without one a form asks for it."""
    number = await _here(interaction, ticket)
    if number is None:
        return
    if reason is None:
        await _link(interaction).ask_close_reason(interaction, number)
        return
    await _link(interaction).run_action(interaction, number, CLOSE, reason=reason)


@app_commands.command(name="reopen", description="Reopen this closed ticket")
@app_commands.guild_only()
async def reopen(interaction: discord.Interaction, ticket: int | None = None) -> None:
    """Staff: reopen (also a ticket closed long ago: its workflow starts again)."""
    number = await _here(interaction, ticket)
    if number is not None:
        await _link(interaction).run_action(interaction, number, REOPEN)


COMMANDS = [ticket_group, claim, assign, close, reopen]
