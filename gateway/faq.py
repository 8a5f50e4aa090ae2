"""FAQ answers on the gateway: question check in line, match and reply off the message's path.

The check (`domain.faq.is_question`, channel lists, bots) runs in line with the fast path and
costs microseconds; everything else runs as a follow-up task. A server's index is built once per
knowledge-base change (its signature is polled at most every few seconds) and its phrasing
embeddings are computed in a thread. The models load in a thread at start; until MiniLM is
there the BM25 matcher answers alone, and until lingua is there the server's language is assumed.
Buttons: `faq:{entry}:yes|no` are ours; the ticket suggestion carries `ticket:open`, which the
tickets feature answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
import numpy as np

from dcs import faq_model
from dcs.server_config import FaqConfig, ServerConfig
from domain.analytics import FAQ_HITS
from domain.catalogue import language_of, text
from domain.faq import AnswerLimiter, FaqIndex, Match, channel_allowed, is_question
from storage import faq as store

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

BUTTON_PREFIX = "faq:"
TICKET_BUTTON = "ticket:open"
SIGNATURE_SECONDS = 5.0
"""How long a server's knowledge base is trusted before its signature is read again."""
NO_PINGS = discord.AllowedMentions.none()
"""An answer that says @everyone or names a role must not ping anyone."""


def button_id(entry_id: int, helpful: bool) -> str:
    """The custom_id of a feedback button."""
    return f"{BUTTON_PREFIX}{entry_id}:{'yes' if helpful else 'no'}"


def parse_button(custom_id: str) -> tuple[int, bool] | None:
    """(entry_id, helpful) of a feedback button; None for any other custom_id."""
    parts = custom_id.split(":")
    if len(parts) != 3 or parts[0] != "faq" or not parts[1].isdigit():
        return None
    if parts[2] not in ("yes", "no"):
        return None
    return int(parts[1]), parts[2] == "yes"


def feedback_view(entry_id: int, language: str) -> discord.ui.View:
    """Yes/No under an answer; persistent (the custom_ids carry everything)."""
    view = discord.ui.View(timeout=None)
    for helpful, key, style in (
        (True, "faq.yes", discord.ButtonStyle.success),
        (False, "faq.no", discord.ButtonStyle.secondary),
    ):
        view.add_item(
            discord.ui.Button(
                label=text(key, language), style=style, custom_id=button_id(entry_id, helpful)
            )
        )
    return view


def ticket_view(language: str) -> discord.ui.View:
    """The ticket suggestion's button; the tickets feature answers `ticket:open`."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label=text("faq.open_ticket", language),
            style=discord.ButtonStyle.primary,
            custom_id=TICKET_BUTTON,
        )
    )
    return view


@dataclass
class _Cached:
    signature: tuple[int, int, str]
    index: FaqIndex
    checked_at: float
    embedded: bool


class FaqService:
    """One gateway's FAQ: indexes per server, the models, the answer limits."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot
        self.embedder: faq_model.Embedder | None = None
        self._detectors: dict[tuple[str, ...], faq_model.Detector | None] = {}
        self._cache: dict[int, _Cached] = {}
        self._building: dict[int, asyncio.Task[None]] = {}
        self._limiters: dict[int, tuple[tuple[int, int], AnswerLimiter]] = {}
        self.answered = 0
        self.suggested = 0

    # -- models ----------------------------------------------------------------------------

    async def load_models(self) -> None:
        """Load MiniLM in a thread (the loop keeps serving); failures leave BM25 alone."""
        try:
            self.embedder = await asyncio.to_thread(faq_model.embedder)
            self._cache.clear()  # the next question rebuilds with embeddings
            log.info("FAQ embedding model loaded")
        except Exception:
            log.exception("FAQ embedding model could not load; answering with BM25 only")

    def detector(self, languages: tuple[str, ...]) -> faq_model.Detector | None:
        """The detector for these languages, or None while it loads in a thread."""
        key = tuple(sorted(set(languages)))
        if key in self._detectors:
            return self._detectors[key]
        self._detectors[key] = None

        async def load() -> None:
            try:
                self._detectors[key] = await asyncio.to_thread(faq_model.detector, key)
            except Exception:
                log.exception("language detector for %s could not load", key)

        self.bot._spawn(load())
        return None

    # -- the fast path ---------------------------------------------------------------------

    def observe(self, message: discord.Message, config: ServerConfig) -> bool:
        """In line with the fast path: start answering when this is a question we may answer."""
        faq = config.faq
        if not faq.enabled or message.guild is None or message.author.bot:
            return False
        channel = message.channel
        parent = getattr(channel, "parent_id", None)
        if not channel_allowed(channel.id, parent, faq.allow_channel_ids, faq.deny_channel_ids):
            return False
        if not is_question(message.content):
            return False
        self.bot._spawn(self._respond(message, config))
        return True

    async def _respond(self, message: discord.Message, config: ServerConfig) -> None:
        try:
            await self.respond(message, config)
        except Exception:
            log.exception("FAQ answer to message %s failed", message.id)

    async def respond(self, message: discord.Message, config: ServerConfig) -> Match | None:
        """Match the question and reply: the answer with feedback buttons, or a ticket button."""
        assert message.guild is not None
        faq = config.faq
        index = await self.index_for(message.guild.id)
        if index is None or not index.entries:
            return None
        language = self.language_of(message.content, faq, config.language)
        vector = await self._vector(message.content, index)
        default = language_of(config.language)
        match = index.answer(message.content, language, default, faq.threshold, vector)
        confident = match is not None and match.confidence >= faq.threshold
        if not confident and not (faq.suggest_ticket or config.support_ai.enabled):
            return None  # nothing to offer below the threshold
        limiter = self._limiter(message.guild.id, faq)
        if not limiter.allow(message.guild.id, message.channel.id, message.author.id, _now()):
            return None
        if confident and match is not None:
            entry = match.entry
            if language_of(entry.language) != language and await self._translated(
                message, entry.answer, entry.language, language
            ):
                await self._count_hit(entry.id)  # the AI support workflow posts the translation
                return match
            await self._answer(message, entry.id, entry.answer, entry.language)
            return match
        if await self._ai_took_it(message, language):
            return None  # AI support answers from the FAQ, or offers the ticket itself
        if faq.suggest_ticket:
            await self._suggest(message, language)
        return None

    async def _ai_took_it(self, message: discord.Message, language: str) -> bool:
        """Below the threshold: hand the question to AI support (`gateway.support_ai`) if on."""
        from gateway import support_ai  # the AI feature's side; it imports the FAQ's domain

        try:
            return await support_ai.ask_ai(self.bot, message, language)
        except Exception:
            log.exception("AI support could not take message %s", message.id)
            return False

    async def _translated(
        self, message: discord.Message, answer: str, source: str, language: str
    ) -> bool:
        """Only another language's entry matched: AI support may translate it for the member."""
        from gateway import support_ai

        try:
            return await support_ai.translate_answer(self.bot, message, answer, source, language)
        except Exception:
            log.exception("AI support could not translate for message %s", message.id)
            return False

    def language_of(self, content: str, faq: FaqConfig, server_language: str) -> str:
        """The message's language among the server's FAQ languages (the server's when unsure)."""
        fallback = language_of(server_language)
        detector = self.detector(tuple(faq.languages))
        found = detector.detect(content) if detector is not None else None
        return found or fallback

    async def _vector(self, content: str, index: FaqIndex) -> np.ndarray | None:
        if self.embedder is None or index.vectors is None:
            return None
        vectors = await asyncio.to_thread(self.embedder.encode, [content])
        return vectors[0]

    async def _answer(
        self,
        message: discord.Message,
        entry_id: int,
        answer: str,
        language: str,
    ) -> None:
        """Reply with the answer and the feedback buttons; count the entry's hit."""
        language = language_of(language)
        body = text("faq.answer", language, answer=answer)
        try:
            await message.reply(
                body[:2000],
                view=feedback_view(entry_id, language),
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as exc:
            log.warning("FAQ answer in channel %s failed: %s", message.channel.id, exc)
            return
        self.answered += 1
        if message.guild is not None:
            self.bot.analytics.count(message.guild.id, FAQ_HITS)
        await self._count_hit(entry_id)

    async def _count_hit(self, entry_id: int) -> None:
        async with self.bot.sessions() as session, session.begin():
            await store.record_hit(session, entry_id)

    async def _suggest(self, message: discord.Message, language: str) -> None:
        try:
            await message.reply(
                text("faq.suggest_ticket", language),
                view=ticket_view(language),
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
            self.suggested += 1
        except discord.HTTPException as exc:
            log.warning("ticket suggestion in channel %s failed: %s", message.channel.id, exc)

    def _limiter(self, guild_id: int, faq: FaqConfig) -> AnswerLimiter:
        key = (faq.channel_cooldown_seconds, faq.member_cooldown_seconds)
        held = self._limiters.get(guild_id)
        if held is None or held[0] != key:
            held = (key, AnswerLimiter(float(key[0]), float(key[1])))
            self._limiters[guild_id] = held
        return held[1]

    # -- indexes ---------------------------------------------------------------------------

    def invalidate(self, guild_id: int) -> None:
        """Forget a server's index (its knowledge base just changed here)."""
        self._cache.pop(guild_id, None)

    async def index_for(self, guild_id: int) -> FaqIndex | None:
        """The server's index, rebuilt when its knowledge base changed (embeddings in a thread)."""
        cached = self._cache.get(guild_id)
        now = _now()
        if cached is not None and now - cached.checked_at < SIGNATURE_SECONDS:
            if not cached.embedded and self.embedder is not None:
                self._embed_later(guild_id, cached)
            return cached.index
        async with self.bot.sessions() as session:
            signature = await store.kb_signature(session, guild_id)
            if cached is not None and cached.signature == signature:
                cached.checked_at = now
                return cached.index
            rows = await store.all_entries(session, guild_id)
        entries = [store.entry_of(r) for r in rows]
        index = FaqIndex(entries)
        fresh = _Cached(signature, index, now, embedded=False)
        self._cache[guild_id] = fresh
        if self.embedder is not None and entries:
            self._embed_later(guild_id, fresh)  # BM25 answers until the vectors are there
        return index

    async def ready(self, guild_id: int) -> FaqIndex | None:
        """The server's index with its embeddings when the model is loaded (tests, warm-up)."""
        index = await self.index_for(guild_id)
        building = self._building.get(guild_id)
        if building is not None:
            await building
        cached = self._cache.get(guild_id)
        return cached.index if cached is not None else index

    def _embed_later(self, guild_id: int, cached: _Cached) -> None:
        if guild_id not in self._building:
            self._building[guild_id] = asyncio.create_task(self._embed(guild_id, cached))

    async def _embed(self, guild_id: int, cached: _Cached) -> None:
        """Embed every phrasing once (in a thread), then swap in the index that has them."""
        try:
            embedder = self.embedder
            if embedder is None:
                return
            entries = cached.index.entries
            vectors = await asyncio.to_thread(embedder.encode_phrasings, cached.index.phrasings())
            if self._cache.get(guild_id) is cached:
                cached.index = FaqIndex(entries, vectors)
                cached.embedded = True
        except Exception:
            log.exception("embedding the FAQ of guild %s failed", guild_id)
        finally:
            self._building.pop(guild_id, None)

    # -- buttons ---------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> bool:
        """Record a 'Did this help?' click; True when the interaction was one of ours."""
        if interaction.type is not discord.InteractionType.component:
            return False
        data: Any = interaction.data or {}
        parsed = parse_button(str(data.get("custom_id", "")))
        if parsed is None or interaction.guild_id is None or interaction.message is None:
            return False
        entry_id, helpful = parsed
        language = language_of(self.bot.guild_config(interaction.guild_id).language)
        async with self.bot.sessions() as session, session.begin():
            stored = await store.record_feedback(
                session, interaction.guild_id, interaction.message.id,
                interaction.user.id, entry_id, helpful,
            )  # fmt: skip
        key = "faq.gone" if not stored else ("faq.thanks_yes" if helpful else "faq.thanks_no")
        await interaction.response.send_message(text(key, language), ephemeral=True)
        return True


def _now() -> float:
    return time.monotonic()
