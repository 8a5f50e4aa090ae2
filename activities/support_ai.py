"""The support-answer activities: ask an AI provider from the server's FAQ, then post the reply.

`support_ai_answer` reuses the AI reviewer's providers (`activities.ai_review.build_providers`:
the official SDKs, primary first, the others as fallback) and its budget: one answer that reaches
the providers counts one call against the server's monthly tier limit (`storage.tiers`),
counted before any provider is asked. A spent budget or a server over its tier's members or
servers limit (outcome `budget`), no provider, or every provider failing
returns an outcome instead of raising, so the workflow offers a ticket; the activity itself only
fails on a database error (and a Temporal retry then may count one answer twice at worst).
Each reply that comes back has its tokens and cost recorded like a review's
(`activities.ai_review.record_completion`).

`post_support_reply` posts through `DiscordHttp` with a nonce derived from the member's message
and `enforce_nonce`, so a retried post is not posted twice; 429 is retried after `retry_after`,
403/404 (channel or message gone, no permission) end it without a reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ai_review import ReviewProvider, _describe, build_providers, record_completion
from activities.discord_rest import DiscordHttp, refused_with
from dcs import metrics
from dcs.server_config import ServerConfig, stored_or_default
from dcs.settings import Settings
from domain.ai_cost import price_table
from domain.catalogue import language_of, text
from domain.faq import Entry
from domain.support_ai import (
    ANSWER_ACTIVITY,
    POST_ACTIVITY,
    ParsedReply,
    ReplyError,
    ReplyPlan,
    SupportAnswer,
    SupportRequest,
    build_system_prompt,
    build_translation_prompt,
    build_user_content,
    parse_reply,
    top_entries,
)
from storage import faq as faq_store
from storage.servers import get_server_config
from storage.tiers import reserve_ai_call

log = logging.getLogger(__name__)

TICKET_BUTTON = "ticket:open"
PROVIDER_SHARE_S = 25.0
"""Most one provider may take (its SDK timeout and retries are usually shorter)."""


def reply_nonce(guild_id: int, message_id: int) -> str:
    """A stable nonce (25 chars) per member message, so Discord drops a retried duplicate."""
    return hashlib.sha256(f"support:{guild_id}:{message_id}".encode()).hexdigest()[:25]


def ticket_components(language: str) -> list[dict[str, Any]]:
    """The 'Open a ticket' button; the tickets feature answers `ticket:open`."""
    button = {
        "type": 2,
        "style": 1,
        "label": text("support_ai.open_ticket", language),
        "custom_id": TICKET_BUTTON,
    }
    return [{"type": 1, "components": [button]}]


def reply_body(plan: ReplyPlan) -> dict[str, Any]:
    """The message: the AI answer with its footer, or the ticket suggestion with the button."""
    language = language_of(plan.language)
    body: dict[str, Any] = {
        "message_reference": {
            "message_id": str(plan.message_id),
            "channel_id": str(plan.channel_id),
            "fail_if_not_exists": False,
        },
        "allowed_mentions": {"parse": [], "replied_user": False},
        "nonce": reply_nonce(plan.guild_id, plan.message_id),
        "enforce_nonce": True,
    }
    if plan.text:
        key = "support_ai.translated" if plan.mode == "translate" else "support_ai.answer"
        content = text(key, language, answer=plan.text)
        body["content"] = content[:2000]
    else:
        # a chat the AI could not take (budget, providers down) is not "not in the FAQ"
        busy = plan.mode == "chat" and plan.outcome in ("budget", "unavailable")
        key = "support_ai.busy" if busy else "support_ai.unknown"
        body["content"] = text(key, language)
        body["components"] = ticket_components(language)
    return body


class SupportAIActivities:
    """The two activities, with the providers, the database and Discord REST."""

    def __init__(
        self,
        settings: Settings | None,
        sessions: async_sessionmaker[AsyncSession],
        http: DiscordHttp,
        *,
        providers: Sequence[ReviewProvider] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._http = http
        self._providers = list(providers) if providers is not None else None
        self._clock = clock
        self._nonce = nonce
        timeout = settings.ai_timeout_seconds if settings else 10.0
        retries = settings.ai_max_retries if settings else 1
        self._per_provider_s = min(PROVIDER_SHARE_S, timeout * (retries + 1) + 5.0)
        self._prices = price_table(settings.ai_prices if settings else None)

    @property
    def providers(self) -> list[ReviewProvider]:
        """The providers in order; SDK clients are made on first use."""
        if self._providers is None:
            self._providers = build_providers(self._settings) if self._settings else []
        return self._providers

    async def aclose(self) -> None:
        """Close the providers' HTTP clients."""
        for provider in self._providers or []:
            try:
                await provider.aclose()
            except Exception:  # closing is best effort
                log.debug("closing %s failed", provider.name, exc_info=True)

    @activity.defn(name=ANSWER_ACTIVITY)
    async def answer(self, request: SupportRequest) -> SupportAnswer:
        """Ask the providers in order from the FAQ; an outcome, never a provider exception."""
        if not self.providers:
            return SupportAnswer("unavailable")
        config = await self._config(request.guild_id)
        if not await self._take_budget(request.guild_id):
            return SupportAnswer("budget")
        nonce = self._nonce()
        if request.mode == "translate":
            system = build_translation_prompt(request.source_language, request.language, nonce)
        else:
            entries = await self._entries(request, config)
            system = build_system_prompt(
                request.strategy, entries, config.rules, config.culture, request.language, nonce
            )
        user = build_user_content(request, nonce)
        for provider in self.providers:
            reply = await self._ask(request.guild_id, provider, system, user)
            if reply is None:
                continue
            if not reply.known:
                return SupportAnswer("unknown", provider=provider.name)
            return SupportAnswer("answered", reply.answer, provider.name)
        log.warning("guild %s: no AI provider answered; ticket suggestion", request.guild_id)
        return SupportAnswer("unavailable")

    @activity.defn(name=POST_ACTIVITY)
    async def post_reply(self, plan: ReplyPlan) -> int:
        """Reply to the member once (nonce); 0 when Discord refuses for good (403/404)."""
        body = reply_body(plan)
        try:
            msg = await self._http.request(
                "POST", f"/channels/{plan.channel_id}/messages", json=body
            )
        except ApplicationError as err:
            if refused_with(err, 403, 404):
                log.warning("support reply in channel %s refused: %s", plan.channel_id, err)
                return 0
            raise
        return int(msg["id"])

    async def _ask(
        self, guild_id: int, provider: ReviewProvider, system: str, user: str
    ) -> ParsedReply | None:
        """The provider's parsed answer, or None; a reply that came back is recorded (cost)."""
        try:
            with metrics.observe_ai_call("support", provider.name):
                raw = await asyncio.wait_for(
                    provider.complete(system, user), timeout=self._per_provider_s
                )
        except Exception as exc:  # HTTP status, timeout, connection: try the next one
            log.warning("AI provider %s failed: %s", provider.name, _describe(exc))
            return None
        await record_completion(self._sessions, guild_id, raw, self._prices, now=self._clock())
        try:
            return parse_reply(raw.text)
        except ReplyError as exc:
            log.warning("AI provider %s gave an invalid answer: %s", provider.name, exc)
        return None

    async def _config(self, guild_id: int) -> ServerConfig:
        async with self._sessions() as session:
            raw, _ = await get_server_config(session, guild_id)
        return stored_or_default(raw)

    async def _entries(self, request: SupportRequest, config: ServerConfig) -> list[Entry]:
        async with self._sessions() as session:
            rows = await faq_store.all_entries(session, request.guild_id)
        entries = [faq_store.entry_of(r) for r in rows]
        limit = config.support_ai.max_faq_entries_in_prompt
        return top_entries(entries, request.question, request.language, limit)

    async def _take_budget(self, guild_id: int) -> bool:
        """Count one AI call against the server's tier (storage.tiers); False when refused."""
        async with self._sessions() as session, session.begin():
            gate = await reserve_ai_call(session, guild_id, now=self._clock())
        if not gate.allowed:
            metrics.AI_REFUSED.labels("support", gate.reason).inc()
            log.info("guild %s: %s; ticket suggestion instead", guild_id, gate.explain())
        return gate.allowed
