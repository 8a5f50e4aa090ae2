"""FAQ commands: /faq add|edit|remove|list, for members with Manage Server or Manage Messages.

Variants and tags are typed separated by '|'. A change is seen by this gateway's matcher at once
(its index is dropped); other gateways see it within a few seconds.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from domain.faq import MAX_ANSWER, EntryDraft, draft_problems
from gateway.commands.context import suite_bot as _bot
from storage import faq as store

LIST_LIMIT = 15
Languages = app_commands.Range[str, 2, 5]


def _refused(interaction: discord.Interaction) -> str | None:
    if interaction.guild_id is None:
        return "This command only works in a server."
    perms = interaction.permissions
    if not (perms.manage_guild or perms.manage_messages):
        return "You need the Manage Server or Manage Messages permission for that."
    return None


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split("|") if v.strip())


faq_group = app_commands.Group(
    name="faq",
    description="Manage the server's FAQ answers",
    guild_only=True,
    default_permissions=discord.Permissions(manage_messages=True),
)


async def _stored(interaction: discord.Interaction, draft: EntryDraft, entry_id: int | None) -> str:
    """Validate, then insert or update; the reply text."""
    problems = draft_problems(draft, "entry")
    if problems:
        return "⚠️ " + "; ".join(p.removeprefix("entry: ") for p in problems)
    guild_id = interaction.guild_id
    assert guild_id is not None
    bot = _bot(interaction)
    async with bot.sessions() as session, session.begin():
        if entry_id is None:
            (row,) = await store.create_entries(session, guild_id, [draft])
            new_id = row.id
        else:
            updated = await store.update_entry(session, guild_id, entry_id, draft)
            if updated is None:
                return f"⚠️ There is no FAQ entry #{entry_id}."
            new_id = updated.id
    bot.faq.invalidate(guild_id)
    verb = "Added" if entry_id is None else "Updated"
    return f"{verb} FAQ entry #{new_id} ({draft.language}): {draft.question}"


@faq_group.command(name="add", description="Add a question and its answer")
@app_commands.describe(
    question="The question as members ask it",
    answer="The answer the bot gives",
    variants="Other phrasings, separated by |",
    tags="Tags, separated by |",
    language="Language code of this entry (en, es, de, fr, pt)",
)
async def add(
    interaction: discord.Interaction,
    question: app_commands.Range[str, 1, 300],
    answer: app_commands.Range[str, 1, MAX_ANSWER],
    variants: str | None = None,
    tags: str | None = None,
    language: Languages = "en",
) -> None:
    """Add an entry; the matcher uses it at once."""
    if (problem := _refused(interaction)) is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    draft = EntryDraft(question, answer, language, _split(variants), _split(tags))
    await interaction.response.send_message(await _stored(interaction, draft, None), ephemeral=True)


@faq_group.command(name="edit", description="Change an entry (only the options you give)")
@app_commands.describe(entry="The entry's number (see /faq list)")
async def edit(
    interaction: discord.Interaction,
    entry: app_commands.Range[int, 1],
    question: app_commands.Range[str, 1, 300] | None = None,
    answer: app_commands.Range[str, 1, MAX_ANSWER] | None = None,
    variants: str | None = None,
    tags: str | None = None,
    language: Languages | None = None,
) -> None:
    """Change the options given; counts stay."""
    if (problem := _refused(interaction)) is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild_id is not None
    async with _bot(interaction).sessions() as session:
        row = await store.get_entry(session, interaction.guild_id, entry)
    if row is None:
        await interaction.response.send_message(
            f"⚠️ There is no FAQ entry #{entry}.", ephemeral=True
        )
        return
    draft = EntryDraft(
        question=question or row.question,
        answer=answer or row.answer,
        language=language or row.language,
        variants=_split(variants) if variants is not None else tuple(row.variants or ()),
        tags=_split(tags) if tags is not None else tuple(row.tags or ()),
    )
    await interaction.response.send_message(
        await _stored(interaction, draft, entry), ephemeral=True
    )


@faq_group.command(name="remove", description="Delete an entry")
async def remove(interaction: discord.Interaction, entry: app_commands.Range[int, 1]) -> None:
    """Delete an entry and its votes."""
    if (problem := _refused(interaction)) is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild_id is not None
    bot = _bot(interaction)
    async with bot.sessions() as session, session.begin():
        gone = await store.delete_entry(session, interaction.guild_id, entry)
    bot.faq.invalidate(interaction.guild_id)
    reply = f"Removed FAQ entry #{entry}." if gone else f"⚠️ There is no FAQ entry #{entry}."
    await interaction.response.send_message(reply, ephemeral=True)


@faq_group.command(name="list", description="The entries, with their answer and feedback counts")
async def list_entries(interaction: discord.Interaction, language: Languages | None = None) -> None:
    """The first entries with their counts (the API pages through all)."""
    if (problem := _refused(interaction)) is not None:
        await interaction.response.send_message(problem, ephemeral=True)
        return
    assert interaction.guild_id is not None
    async with _bot(interaction).sessions() as session:
        page = await store.list_entries(
            session, interaction.guild_id, language=language, limit=LIST_LIMIT
        )
    if not page.items:
        await interaction.response.send_message("The FAQ is empty.", ephemeral=True)
        return
    lines = [
        f"**#{r.id}** [{r.language}] {r.question[:80]} — {r.hits} answers, "
        f"👍 {r.helpful} 👎 {r.not_helpful}"
        for r in page.items
    ]
    if page.next_cursor:
        lines.append(f"… more in `GET /api/servers/{interaction.guild_id}/faq`")
    await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)


COMMANDS: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [faq_group]
