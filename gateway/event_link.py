"""The gateway's side of RSVPs: reactions on event posts, batched, and the posts' buttons.

Reactions are queued in the order they arrive and flushed twice a second, one `RsvpBatch` signal
per event, so a burst of a hundred reactions is a handful of signals and a remove that overtakes
its add is still applied in order. The workflow later checks its book against the reactions
really on the post, so a lost batch costs a few seconds, not a wrong count. Buttons
(`event:{id}:going|maybe|declined|leave`) are workflow updates answered to the member at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Protocol

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from domain.events import (
    DECLINED,
    EMOJI_CHOICE,
    GOING,
    MAYBE,
    WAITLIST,
    RsvpAction,
    RsvpBatch,
    RsvpOutcome,
)
from storage.events import find_event_by_message
from workflows.event_control import EventNotRunning, EventRejected, rsvp, signal_rsvps

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
MAX_CACHED_POSTS = 10_000
MISS_SECONDS = 30.0
"""A message found not to be an event post is believed so this long (then looked up again)."""
MAX_HELD = 5_000
"""Actions kept per event across failed flushes; the oldest go first (reconciling fixes them)."""
BUTTON_PREFIX = "event:"
BUTTON_CHOICES = {"going": GOING, "maybe": MAYBE, "declined": DECLINED, "leave": None}


class LinkHost(Protocol):
    """What the link needs of the bot."""

    temporal: Client
    sessions: async_sessionmaker[AsyncSession]

    @property
    def user(self) -> Any:
        """The bot's own user (None before login)."""
        ...


def button_id(event_id: int, choice: str) -> str:
    """The custom_id of an announcement's RSVP button (`going`, `maybe`, `declined`, `leave`)."""
    return f"{BUTTON_PREFIX}{event_id}:{choice}"


def parse_button(custom_id: str) -> tuple[int, str | None] | None:
    """(event_id, choice) from a button's custom_id; None when it is not an RSVP button."""
    parts = custom_id.split(":")
    if len(parts) != 3 or parts[0] + ":" != BUTTON_PREFIX or not parts[1].isdigit():
        return None
    if parts[2] not in BUTTON_CHOICES:
        return None
    return int(parts[1]), BUTTON_CHOICES[parts[2]]


def outcome_text(outcome: RsvpOutcome) -> str:
    """What a member who pressed a button is told."""
    if outcome.refused:
        return f"Sorry: {outcome.refused}."
    if outcome.status == GOING:
        return "You're going"
    if outcome.status == WAITLIST:
        return f"You're #{outcome.position} on the waitlist"
    if outcome.status == MAYBE:
        return "Marked as maybe"
    if outcome.status == DECLINED:
        return "Marked as not going"
    return "You're no longer signed up"


def reaction_action(payload: discord.RawReactionActionEvent, added: bool) -> RsvpAction | None:
    """The RSVP a reaction means, or None when its emoji is not an RSVP emoji."""
    choice = EMOJI_CHOICE.get(str(payload.emoji))
    if choice is None:
        return None
    member = payload.member
    roles = tuple(role.id for role in member.roles) if isinstance(member, discord.Member) else ()
    return RsvpAction(
        payload.user_id, choice, added=added, source="reaction",
        role_ids=roles, roles_known=member is not None,
    )  # fmt: skip


class EventLink:
    """Reaction RSVPs batched per event, and the RSVP buttons, for one gateway."""

    def __init__(self, bot: LinkHost) -> None:
        self.bot = bot
        self._queue: list[tuple[int, RsvpAction]] = []
        """(message_id, action) in arrival order, not yet resolved to an event."""
        self._held: dict[tuple[int, int], list[RsvpAction]] = {}
        """(guild_id, event_id) -> actions a failed flush keeps for the next one."""
        self._posts: OrderedDict[int, tuple[int, int] | None] = OrderedDict()
        self._missed_at: dict[int, float] = {}
        self.signals_sent = 0

    # -- from the listeners -------------------------------------------------------------------

    def on_reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> bool:
        """Queue a reaction RSVP; True when it was one (an RSVP emoji, not a bot's)."""
        if payload.guild_id is None:
            return False
        me = self.bot.user
        if (me is not None and payload.user_id == me.id) or (
            payload.member is not None and payload.member.bot
        ):
            return False
        if self._cached(payload.message_id, miss_only=True):
            return False  # known not to be an event post
        action = reaction_action(payload, added)
        if action is None:
            return False
        self._queue.append((payload.message_id, action))
        return True

    async def on_interaction(self, interaction: discord.Interaction) -> bool:
        """Answer an RSVP button; True when the interaction was one."""
        if (
            interaction.type is not discord.InteractionType.component
            or interaction.guild_id is None
        ):
            return False
        data: Any = interaction.data or {}
        parsed = parse_button(str(data.get("custom_id", "")))
        if parsed is None:
            return False
        event_id, choice = parsed
        user = interaction.user
        roles = tuple(r.id for r in user.roles) if isinstance(user, discord.Member) else ()
        action = RsvpAction(user.id, choice, source="button", role_ids=roles)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            outcome = await rsvp(self.bot.temporal, interaction.guild_id, event_id, action)
            text = outcome_text(outcome)
        except EventNotRunning:
            text = "This event is over."
        except EventRejected as exc:
            text = f"Sorry: {exc}."
        await interaction.followup.send(text, ephemeral=True)
        return True

    # -- to Temporal --------------------------------------------------------------------------

    async def run_flusher(self) -> None:
        """Send what gathered, twice a second."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # one failure must not end the loop
                log.exception("RSVP flush failed")

    async def flush(self) -> None:
        """Resolve queued reactions to events and signal each event once, in arrival order."""
        queued, self._queue = self._queue, []
        batches: dict[tuple[int, int], list[RsvpAction]] = self._held
        self._held = {}
        for message_id, action in queued:
            event = await self.event_of(message_id)
            if event is not None:
                batches.setdefault(event, []).append(action)
        for (guild_id, event_id), actions in batches.items():
            try:
                await signal_rsvps(self.bot.temporal, guild_id, event_id, RsvpBatch(tuple(actions)))
                self.signals_sent += 1
            except EventNotRunning:
                continue  # the event is over: its reactions no longer count
            except Exception:
                log.exception("RSVP signal to event %s failed; retrying", event_id)
                self._held[(guild_id, event_id)] = actions[-MAX_HELD:]

    async def event_of(self, message_id: int) -> tuple[int, int] | None:
        """(guild_id, event_id) of an event post, through a bounded cache of hits and misses."""
        if message_id in self._posts and not self._expired(message_id):
            self._posts.move_to_end(message_id)
            return self._posts[message_id]
        async with self.bot.sessions() as session:
            found = await find_event_by_message(session, message_id)
        self.remember(message_id, found)
        return found

    def remember(self, message_id: int, event: tuple[int, int] | None) -> None:
        """Cache what a message is (a post the bot just made can be told here at once)."""
        self._posts[message_id] = event
        self._posts.move_to_end(message_id)
        if event is None:
            self._missed_at[message_id] = time.monotonic()
        else:
            self._missed_at.pop(message_id, None)
        while len(self._posts) > MAX_CACHED_POSTS:
            old, _ = self._posts.popitem(last=False)
            self._missed_at.pop(old, None)

    def _expired(self, message_id: int) -> bool:
        missed = self._missed_at.get(message_id)
        return missed is not None and time.monotonic() - missed > MISS_SECONDS

    def _cached(self, message_id: int, *, miss_only: bool) -> bool:
        if message_id not in self._posts or self._expired(message_id):
            return False
        return not miss_only or self._posts[message_id] is None
