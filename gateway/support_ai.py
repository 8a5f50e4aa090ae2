"""AI support on the gateway: start a `support-answer` workflow for a member's message.

Three ways in, all cheap in line (a config read, a dict lookup) with the work in the workflow:

- :func:`ask_ai`: the FAQ matcher was unsure of a question; the AI answers from the FAQ.
- :func:`translate_answer`: the FAQ answer exists only in another language; the AI translates it.
- :func:`observe`: the member mentioned the bot or replied to it; the AI chats in the server's
  tone (engagement or general prompt). With no AI provider it leaves the message to the FAQ
  path, so the FAQ matcher answers a question addressed to the bot.

Each allows one AI answer per member per `support_ai.member_interval_seconds` (in memory, per
gateway); the server's monthly budget is enforced by the workflow's activity.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.ai_review import provider_order
from dcs.server_config import ServerConfig
from dcs.settings import load_settings
from domain.catalogue import language_of
from domain.faq import channel_allowed
from domain.support_ai import (
    SUPPORT_WORKFLOW,
    MemberInterval,
    Mode,
    Strategy,
    SupportRequest,
    can_translate,
    choose_strategy,
    support_workflow_id,
)

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

RUN_TIMEOUT = timedelta(minutes=5)


class SupportAI:
    """One gateway's AI support state: whether a provider is configured, and the limiter."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot
        self.limiter = MemberInterval()
        self.available: bool | None = None
        """Whether an AI provider has a key; None: read from the settings on first use."""
        self.started = 0

    def ai_available(self) -> bool:
        """True when the settings name at least one keyed provider (not AI_PROVIDER=local)."""
        if self.available is None:
            try:
                self.available = bool(provider_order(load_settings()))
            except Exception:
                log.exception("settings unreadable; AI support answers are off")
                self.available = False
        return self.available

    def allow(self, message: discord.Message, config: ServerConfig) -> bool:
        """The member's interval is over (and now starts again)."""
        assert message.guild is not None
        seconds = float(config.support_ai.member_interval_seconds)
        return self.limiter.allow(message.guild.id, message.author.id, seconds, time.monotonic())

    async def start(
        self,
        message: discord.Message,
        language: str,
        mode: Mode,
        strategy: Strategy,
        *,
        source_answer: str = "",
        source_language: str = "",
    ) -> bool:
        """Start the message's workflow; False when it already exists or Temporal is down."""
        assert message.guild is not None
        request = SupportRequest(
            guild_id=message.guild.id,
            channel_id=message.channel.id,
            message_id=message.id,
            user_id=message.author.id,
            question=_without_bot_mention(message.content, self.bot),
            language=language_of(language),
            mode=mode,
            strategy=strategy,
            source_answer=source_answer,
            source_language=source_language,
        )
        try:
            await self.bot.temporal.start_workflow(
                SUPPORT_WORKFLOW,
                request,
                id=support_workflow_id(request.guild_id, request.message_id),
                task_queue=self.bot.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                execution_timeout=RUN_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            return False
        except Exception:
            log.exception("could not start the support answer for message %s", message.id)
            self.limiter.release(request.guild_id, request.user_id)
            return False
        self.started += 1
        return True


_services: weakref.WeakKeyDictionary[SuiteBot, SupportAI] = weakref.WeakKeyDictionary()


def service(bot: SuiteBot) -> SupportAI:
    """The bot's AI support state, made on first use."""
    found = _services.get(bot)
    if found is None:
        found = _services[bot] = SupportAI(bot)
    return found


async def ask_ai(bot: SuiteBot, message: discord.Message, language: str) -> bool:
    """For the FAQ path below its threshold: True if an AI answer grounded on the FAQ started.

    False (the caller suggests a ticket itself) when AI support is off for the server, no
    provider is configured, the member had an AI answer within the interval, or the workflow
    could not start. When the budget is spent or no provider answers, the workflow itself posts
    the ticket suggestion.
    """
    if message.guild is None:
        return False
    me = service(bot)
    config = bot.guild_config(message.guild.id)
    if not config.support_ai.enabled or not me.ai_available() or not me.allow(message, config):
        return False
    return await me.start(message, language, "faq", "support")


async def translate_answer(
    bot: SuiteBot, message: discord.Message, answer: str, source_language: str, language: str
) -> bool:
    """For the FAQ path when only another language's entry matched: True if a translation started.

    `answer` is written in `source_language` and is translated into `language`. False (the caller
    answers with the untranslated entry) when translation is off, no provider is configured, the
    answer is too long to come back whole, or the member had an AI answer within the interval.
    """
    if message.guild is None or language_of(language) == language_of(source_language):
        return False
    if not can_translate(answer):
        return False
    me = service(bot)
    config = bot.guild_config(message.guild.id)
    ai = config.support_ai
    if not (ai.enabled and ai.translate) or not me.ai_available():
        return False
    if not me.allow(message, config):
        return False
    return await me.start(
        message,
        language,
        "translate",
        "support",
        source_answer=answer,
        source_language=language_of(source_language),
    )


def addressed_to(message: discord.Message, bot_id: int) -> bool:
    """The message mentions the bot, or replies to one of the bot's messages."""
    if any(user.id == bot_id for user in message.mentions):
        return True
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


def observe(bot: SuiteBot, message: discord.Message, config: ServerConfig) -> bool:
    """In line on the fast path: True when the member talked to the bot and the AI takes it.

    False leaves the message to the FAQ path: without an AI provider a question addressed to the
    bot is answered by the FAQ matcher under the FAQ's own rules (question check, channels,
    cooldowns). A member still within their interval gets no answer, and the message is still
    taken, so the FAQ path does not answer it instead.
    """
    ai = config.support_ai
    if message.guild is None or bot.user is None or not (ai.enabled and ai.answer_mentions):
        return False
    if message.author.bot or not addressed_to(message, bot.user.id):
        return False
    channel = message.channel
    parent = getattr(channel, "parent_id", None)
    if not channel_allowed(channel.id, parent, ai.allow_channel_ids, ai.deny_channel_ids):
        return False
    me = service(bot)
    if not me.ai_available():
        return False
    if me.allow(message, config):
        bot._spawn(_chat(bot, message, config))
    return True


async def _chat(bot: SuiteBot, message: discord.Message, config: ServerConfig) -> None:
    """Start the chat answer: the engagement prompt for chit-chat, the general one otherwise."""
    language = bot.faq.language_of(message.content, config.faq, config.language)
    strategy = choose_strategy(_without_bot_mention(message.content, bot))
    await service(bot).start(message, language, "chat", strategy)


def _without_bot_mention(content: str, bot: discord.Client) -> str:
    if bot.user is None:
        return content.strip()
    return re.sub(rf"<@!?{bot.user.id}>", " ", content).strip()
