"""The gateway's side of tickets: messages in ticket threads, and the tickets' buttons and form.

A message is checked against an in-memory map of ticket threads and channels (one dict lookup,
no I/O); authors are queued and flushed once a second as one `messages` signal per ticket, so a
busy ticket costs a signal a second, not one per message. The map is loaded from the open
tickets at start, learns each new ticket from its thread's creation (`ticket-{n}`, made by the
bot) and is reloaded every few minutes, which also forgets closed tickets.

Buttons: `ticket:open` (the panel's, and the FAQ's under an unanswered question: the subject is
the question replied to), `ticket:claim:{n}`, `ticket:close:{n}` (asks the reason in a form,
`ticket:close_form:{n}`), `ticket:reopen:{n}`, and `ticket:rate:{guild}:{n}:{score}` in the DM.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from dcs.server_config import ServerConfig
from domain.catalogue import text
from domain.tickets import CLAIM, CLOSE, RATE, REOPEN, TicketAction, TicketSpec, subject_from
from storage.tickets import find_ticket_by_space, open_ticket_spaces
from workflows.ticket_control import (
    TicketNotRunning,
    TicketRefused,
    act,
    open_ticket,
    signal_messages,
)

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
RELOAD_SECONDS = 300.0
OPEN_BUTTON = "ticket:open"
CLOSE_FORM = "ticket:close_form:"
REASON_FIELD = "reason"
SPACE_NAME = re.compile(r"^ticket-(\d{1,9})$")
_ACTIONS = {"claim": CLAIM, "reopen": REOPEN}


def is_staff(member: Any, config: ServerConfig) -> bool:
    """Support staff: a support or category role, or Manage Server / Manage Threads."""
    if not isinstance(member, discord.Member):
        return False
    perms = member.guild_permissions
    if perms.manage_guild or perms.manage_threads or perms.administrator:
        return True
    tickets = config.tickets
    staff_roles = set(tickets.support_role_ids)
    for category in tickets.categories:
        staff_roles.update(category.role_ids)
    return bool(staff_roles & {r.id for r in member.roles})


class TicketLink:
    """Ticket threads known to this gateway, their message batches, and the ticket buttons."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot
        self.spaces: dict[int, tuple[int, int]] = {}
        """Thread or channel id -> (guild, number) of an open ticket."""
        self._authors: dict[tuple[int, int], list[int]] = {}
        self.signals_sent = 0

    # -- the map of ticket threads -----------------------------------------------------------

    async def reload(self) -> None:
        """The open tickets' threads, from the database."""
        async with self.bot.sessions() as session:
            self.spaces = await open_ticket_spaces(session)

    def remember(self, space_id: int, guild_id: int, number: int) -> None:
        """A ticket's thread or channel, so its messages reach the workflow."""
        self.spaces[space_id] = (guild_id, number)

    def on_space_created(self, channel: Any) -> None:
        """A thread the bot made (or a channel) named `ticket-{n}` is that ticket's."""
        guild = getattr(channel, "guild", None)
        match = SPACE_NAME.match(getattr(channel, "name", "") or "")
        if guild is None or match is None:
            return
        owner = getattr(channel, "owner_id", None)
        me = self.bot.user
        if isinstance(channel, discord.Thread) and (me is None or owner != me.id):
            return
        self.remember(channel.id, guild.id, int(match.group(1)))

    # -- messages ------------------------------------------------------------------------------

    def on_message(self, message: discord.Message) -> bool:
        """Queue the author of a message in a ticket; True when it was in one."""
        ticket = self.spaces.get(message.channel.id)
        if ticket is None or message.author.bot:
            return False
        self._authors.setdefault(ticket, []).append(message.author.id)
        return True

    async def run(self) -> None:
        """Load the map, then flush every second and reload every few minutes."""
        try:
            await self.reload()
        except Exception:
            log.exception("loading the open tickets failed")
        loop = asyncio.get_running_loop()
        reloaded = loop.time()
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
                if loop.time() - reloaded >= RELOAD_SECONDS:
                    await self.reload()
                    reloaded = loop.time()
            except Exception:  # one failure must not end the loop
                log.exception("ticket flush failed")

    async def flush(self) -> None:
        """One `messages` signal per ticket with the authors gathered since the last flush."""
        batches, self._authors = self._authors, {}
        for (guild_id, number), authors in batches.items():
            try:
                await signal_messages(self.bot.temporal, guild_id, number, authors)
                self.signals_sent += 1
            except TicketNotRunning:
                self.spaces = {k: v for k, v in self.spaces.items() if v != (guild_id, number)}

    # -- buttons and the close form ------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> bool:
        """Answer a ticket button or the close form; True when the interaction was one."""
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith("ticket:"):
            return False
        if interaction.type is discord.InteractionType.modal_submit:
            if custom_id.startswith(CLOSE_FORM):
                await self._close_submitted(interaction, custom_id, data)
                return True
            return False
        if interaction.type is not discord.InteractionType.component:
            return False
        parts = custom_id.split(":")
        if custom_id == OPEN_BUTTON:
            await self._open(interaction)
        elif parts[1] == "rate" and len(parts) == 5 and all(p.isdigit() for p in parts[2:]):
            await self._rate(interaction, int(parts[2]), int(parts[3]), int(parts[4]))
        elif len(parts) == 3 and parts[2].isdigit() and parts[1] == "close":
            await self.ask_close_reason(interaction, int(parts[2]))
        elif len(parts) == 3 and parts[2].isdigit() and parts[1] in _ACTIONS:
            await self.run_action(interaction, int(parts[2]), _ACTIONS[parts[1]])
        else:
            return False
        return True

    def _language(self, guild_id: int | None) -> str:
        return self.bot.guild_config(guild_id).language if guild_id else "en"

    async def open_for(
        self,
        interaction: discord.Interaction,
        subject: str,
        category: str | None,
        source: str,
    ) -> None:
        """Open a ticket for the member who asked, answered privately (limit refused clearly)."""
        guild_id = interaction.guild_id
        assert guild_id is not None
        language = self._language(guild_id)
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        spec = TicketSpec(
            guild_id=guild_id,
            user_id=interaction.user.id,
            subject=subject,
            category=category,
            source=source,
            origin_channel_id=_parent_of(interaction.channel),
        )
        bot = self.bot
        try:
            number = await open_ticket(bot.temporal, bot.sessions, bot.task_queue, spec)
        except TicketRefused as exc:
            await interaction.followup.send(f"⚠️ {exc.say(language)}", ephemeral=True)
            return
        space = await self._space_of(guild_id, number)
        reply = (
            text("ticket.opened", language, number=number, channel=f"<#{space}>")
            if space
            else text("ticket.opening", language, number=number)
        )
        await interaction.followup.send(reply, ephemeral=True)

    async def _space_of(self, guild_id: int, number: int, wait: float = 5.0) -> int | None:
        """The new ticket's thread, once its workflow has made it (None if not yet)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline:
            for space, ticket in self.spaces.items():
                if ticket == (guild_id, number):
                    return space
            await asyncio.sleep(0.1)
        return None

    async def _open(self, interaction: discord.Interaction) -> None:
        """`ticket:open`: from the panel, or under a question the FAQ could not answer."""
        if interaction.guild_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        subject = subject_from(await _question_of(interaction.message))
        source = "faq" if interaction.message and interaction.message.reference else "button"
        await self.open_for(interaction, subject, None, source)

    async def ask_close_reason(self, interaction: discord.Interaction, number: int) -> None:
        """The close button and `/close` without a reason: a form asks for one."""
        language = self._language(interaction.guild_id)
        modal = discord.ui.Modal(
            title=text("ticket.close_modal.title", language, number=number)[:45],
            custom_id=f"{CLOSE_FORM}{number}",
        )
        modal.add_item(
            discord.ui.TextInput(
                label=text("ticket.close_modal.reason", language)[:45],
                custom_id=REASON_FIELD,
                style=discord.TextStyle.paragraph,
                min_length=1,
                max_length=1000,
            )
        )
        await interaction.response.send_modal(modal)

    async def _close_submitted(
        self, interaction: discord.Interaction, custom_id: str, data: dict[str, Any]
    ) -> None:
        number = custom_id.removeprefix(CLOSE_FORM)
        if not number.isdigit():
            return
        reason = _field(data, REASON_FIELD).strip()
        await self.run_action(interaction, int(number), CLOSE, reason=reason)

    async def run_action(
        self,
        interaction: discord.Interaction,
        number: int,
        kind: str,
        *,
        target_id: int | None = None,
        reason: str = "",
        guild_id: int | None = None,
        rating: int | None = None,
    ) -> None:
        """Send the action to the ticket's workflow and tell the member how it went."""
        guild = guild_id or interaction.guild_id
        if guild is None:
            return
        config = self.bot.guild_config(guild)
        language = config.language
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        action = TicketAction(
            kind=kind,
            actor_id=interaction.user.id,
            actor_is_staff=is_staff(interaction.user, config),
            target_id=target_id,
            reason=reason,
            rating=rating,
            source="button" if interaction.type is discord.InteractionType.component else "command",
        )
        bot = self.bot
        try:
            view = await act(
                bot.temporal,
                guild,
                number,
                action,
                sessions=bot.sessions,
                task_queue=bot.task_queue,
            )
        except TicketRefused as exc:
            await interaction.followup.send(f"⚠️ {exc.say(language)}", ephemeral=True)
            return
        except TicketNotRunning:
            await interaction.followup.send(
                f"⚠️ {text('ticket.refused.gone', language, number=number)}", ephemeral=True
            )
            return
        if kind == REOPEN and view.channel_id:
            self.remember(view.channel_id, guild, number)
        if kind == RATE:
            reply = text("ticket.rating.thanks", language, stars="★" * (rating or 0))
        else:
            reply = text("ticket.done", language, number=number, status=view.status)
        await interaction.followup.send(reply, ephemeral=True)

    async def _rate(
        self, interaction: discord.Interaction, guild_id: int, number: int, score: int
    ) -> None:
        await self.run_action(interaction, number, RATE, guild_id=guild_id, rating=score)

    async def ticket_here(self, interaction: discord.Interaction) -> int | None:
        """The number of the ticket whose thread or channel the interaction came from."""
        channel_id = interaction.channel_id
        if channel_id is None:
            return None
        known = self.spaces.get(channel_id)
        if known is not None:
            return known[1]
        async with self.bot.sessions() as session:
            found = await find_ticket_by_space(session, channel_id)
        return found[1] if found is not None and found[0] == interaction.guild_id else None


def _parent_of(channel: Any) -> int | None:
    """Where a ticket opened from here should hang: a thread's parent, else the channel."""
    if channel is None:
        return None
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return int(channel.id)


async def _question_of(message: discord.Message | None) -> str | None:
    """The text of the message this one replies to (the FAQ's question), if any."""
    if message is None or message.reference is None or message.reference.message_id is None:
        return None
    resolved = message.reference.resolved
    if isinstance(resolved, discord.Message):
        return resolved.content
    try:
        channel = message.channel
        if isinstance(channel, discord.abc.Messageable):
            found = await channel.fetch_message(message.reference.message_id)
            return found.content
    except discord.HTTPException:
        return None
    return None


def _field(data: dict[str, Any], custom_id: str) -> str:
    for row in data.get("components") or []:
        for item in row.get("components") or []:
            if item.get("custom_id") == custom_id:
                return str(item.get("value") or "")
    return ""
