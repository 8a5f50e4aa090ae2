"""The `ai_review` activity: judge one flagged or reported message with an AI provider.

Providers are called through their official async SDKs, primary first (`AI_PROVIDER`), then the
other providers that have a key. Each call has a timeout (`AI_TIMEOUT_SECONDS`) and a small number
of SDK retries (`AI_MAX_RETRIES`); a 5xx, a timeout, a refused key or a reply that is not a valid
verdict makes the activity fall through to the next provider. When every provider fails, none has
a key, the server's monthly AI budget (its tier's limit) is spent, or the server is over its
tier's members or servers limit (storage.tiers.reserve_ai_call), the embedded local classifier
answers instead, and the verdict's reason says why the AI was not asked. So the activity itself
only fails on a database error.

Budget counting: one review that reaches the providers counts one call, whichever provider
answers. It is counted before the providers are asked, on every attempt of the activity: a
Temporal retry (which only follows a database error or a worker crash, as provider trouble never
fails the activity) may count a review twice at worst.

Cost: every provider reply (a valid verdict or not) returns the tokens the provider billed
(:class:`domain.ai_cost.Completion`); :func:`record_completion` adds them and their price to the
server's month and the hour's analytics right after the call, in its own transaction. A failed
or timed-out call records nothing. A retried attempt asks the provider again and is billed again,
so it is recorded again: each recorded call is one the provider answered.

The chain stops early, leaving time for the local classifier, when the activity's
`start_to_close_timeout` would otherwise run out; give it at least
:meth:`AIReviewActivities.worst_case_seconds` (80 s with three keys and the defaults) so every
provider gets its full chance.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from dcs import metrics
from dcs.local_classifier import LocalClassifier
from dcs.server_config import ConfigError, parse_server_config
from dcs.settings import Settings
from domain.ai_cost import Completion, Price, cost_micro_usd, price_table
from domain.ai_prompt import (
    REASON_MAX_CHARS,
    VerdictError,
    build_system_prompt,
    build_user_content,
    parse_verdict,
    usage_month,
)
from domain.review import REVIEW_ACTIVITY, ReviewRequest, ReviewVerdict
from storage.ai_usage import record_ai_tokens
from storage.servers import get_server_config
from storage.tiers import AIReservation, reserve_ai_call

log = logging.getLogger(__name__)

PROVIDER_ORDER = ("anthropic", "openai", "gemini")
MAX_OUTPUT_TOKENS = 300
RETRY_BACKOFF_ALLOWANCE_S = 5.0
"""Slack per provider for the SDKs' backoff between retries, on top of the request timeouts."""
LOCAL_RESERVE_S = 10.0
"""Time kept back from the activity's start-to-close timeout for the local classifier."""
MIN_PROVIDER_TIME_S = 1.0
"""A provider is not asked with less time than this left."""


class ReviewProvider(Protocol):
    """One AI provider: system prompt and user content in, the reply and its token usage out."""

    name: str

    async def complete(self, system: str, user: str) -> Completion:
        """Ask the model; raise on any failure (HTTP error, timeout, empty reply)."""
        ...

    async def aclose(self) -> None:
        """Release the SDK client's connections."""
        ...


class AnthropicProvider:
    """Claude through `anthropic.AsyncAnthropic().messages.create`."""

    name = "anthropic"

    def __init__(
        self, api_key: str, model: str, *, base_url: str | None, timeout: float, retries: int
    ) -> None:
        import anthropic

        self._model = model
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=retries
        )

    async def complete(self, system: str, user: str) -> Completion:
        """One Messages API call; the concatenated text blocks of the reply, and `usage`."""
        message = await self._client.messages.create(
            model=self._model,
            max_tokens=MAX_OUTPUT_TOKENS,
            system=system,
            messages=[{"role": "user", "content": user}],
        )
        text = "".join(getattr(block, "text", "") for block in message.content)
        usage = message.usage
        return Completion(text, usage.input_tokens, usage.output_tokens, self.name, self._model)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


class OpenAIProvider:
    """GPT through `openai.AsyncOpenAI().chat.completions.create` in JSON mode."""

    name = "openai"

    def __init__(
        self, api_key: str, model: str, *, base_url: str | None, timeout: float, retries: int
    ) -> None:
        import openai

        self._model = model
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=retries
        )

    async def complete(self, system: str, user: str) -> Completion:
        """One Chat Completions call with `response_format={"type": "json_object"}`."""
        completion = await self._client.chat.completions.create(
            model=self._model,
            temperature=0,
            max_completion_tokens=MAX_OUTPUT_TOKENS,
            response_format={"type": "json_object"},
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        )
        if not completion.choices:
            raise VerdictError("no choices in the completion")
        usage = completion.usage  # prompt/completion tokens (reasoning tokens included)
        return Completion(
            completion.choices[0].message.content or "",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            self.name,
            self._model,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


class GeminiProvider:
    """Gemini through `google.genai.Client().aio.models.generate_content` with a JSON MIME type."""

    name = "gemini"

    def __init__(
        self, api_key: str, model: str, *, base_url: str | None, timeout: float, retries: int
    ) -> None:
        from google import genai
        from google.genai import types

        self._types = types
        self._model = model
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=max(1, int(timeout * 1000)),  # milliseconds
                retry_options=types.HttpRetryOptions(
                    attempts=retries + 1, initial_delay=0.25, max_delay=2.0, jitter=0.25
                ),
            ),
        )

    async def complete(self, system: str, user: str) -> Completion:
        """One generateContent call; the reply's text and `usage_metadata` (thinking is output)."""
        response = await self._client.aio.models.generate_content(
            model=self._model,
            contents=user,
            config=self._types.GenerateContentConfig(
                system_instruction=system,
                response_mime_type="application/json",
                temperature=0,
                max_output_tokens=MAX_OUTPUT_TOKENS,
            ),
        )
        usage = response.usage_metadata
        output = (
            (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) if usage else 0
        )
        return Completion(
            response.text or "",
            (usage.prompt_token_count or 0) if usage else 0,
            output,
            self.name,
            self._model,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aio.aclose()


def provider_order(settings: Settings) -> list[str]:
    """AI_PROVIDER first, then the other providers with a key; empty for AI_PROVIDER=local."""
    if settings.ai_provider == "local":
        return []
    keyed = [p for p in PROVIDER_ORDER if getattr(settings, f"{p}_api_key") is not None]
    return sorted(keyed, key=lambda p: p != settings.ai_provider)


def build_providers(settings: Settings) -> list[ReviewProvider]:
    """SDK clients for the providers in :func:`provider_order`."""
    classes: dict[str, Callable[..., ReviewProvider]] = {
        "anthropic": AnthropicProvider,
        "openai": OpenAIProvider,
        "gemini": GeminiProvider,
    }
    providers = []
    for name in provider_order(settings):
        key = getattr(settings, f"{name}_api_key")
        providers.append(
            classes[name](
                key.get_secret_value(),
                getattr(settings, f"{name}_model"),
                base_url=getattr(settings, f"{name}_base_url"),
                timeout=settings.ai_timeout_seconds,
                retries=settings.ai_max_retries,
            )
        )
    return providers


class AIReviewActivities:
    """The `ai_review` activity with its providers, budget store and local fallback.

    `settings` None (or no keys, or AI_PROVIDER=local) leaves only the local classifier.
    """

    def __init__(
        self,
        settings: Settings | None,
        sessions: async_sessionmaker[AsyncSession],
        *,
        providers: Sequence[ReviewProvider] | None = None,
        local: LocalClassifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._providers: list[ReviewProvider] | None = (
            list(providers) if providers is not None else None
        )
        self._local = local or LocalClassifier()
        self._clock = clock
        self._nonce = nonce
        timeout = settings.ai_timeout_seconds if settings else 10.0
        retries = settings.ai_max_retries if settings else 1
        self._per_provider_s = timeout * (retries + 1) + RETRY_BACKOFF_ALLOWANCE_S
        self._prices = price_table(settings.ai_prices if settings else None)

    @property
    def providers(self) -> list[ReviewProvider]:
        """The providers in order; their SDK clients are made on first use (or by warm_up)."""
        if self._providers is None:
            self._providers = build_providers(self._settings) if self._settings else []
        return self._providers

    def warm_up(self) -> None:
        """Import the SDKs, make their clients and load the local model now (a few seconds).

        The worker calls this at start, so none of it eats into the first review's time.
        """
        _ = self.providers
        self._local.warm_up()

    def worst_case_seconds(self) -> float:
        """Longest a review can take: every provider timing out on every retry, then local."""
        return self._per_provider_s * len(self.providers) + 5.0

    async def aclose(self) -> None:
        """Close the providers' HTTP clients."""
        for provider in self._providers or []:
            try:
                await provider.aclose()
            except Exception:  # closing is best effort
                log.debug("closing %s failed", provider.name, exc_info=True)

    @activity.defn(name=REVIEW_ACTIVITY)
    async def review(self, request: ReviewRequest) -> ReviewVerdict:
        """Judge the message: providers in order, the local classifier when they cannot."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _time_for_providers()  # from the attempt's start
        if not self.providers:
            return await self._local.review(request.message)
        request = await self._with_server_config(request)
        gate = await self._take_budget(request)
        if not gate.allowed:
            metrics.AI_REFUSED.labels("review", gate.reason).inc()
            log.info("guild %s: %s (local classifier)", request.guild_id, gate.explain())
            local = await self._local.review(request.message, budget_exhausted=True)
            return replace(local, reason=f"{gate.explain()}. {local.reason}"[:REASON_MAX_CHARS])
        nonce = self._nonce()
        system = build_system_prompt(request.rules, request.culture, nonce)
        user = build_user_content(request, nonce)
        for provider in self.providers:
            remaining = deadline - loop.time()
            if remaining < MIN_PROVIDER_TIME_S:
                log.warning("AI review out of time before %s; local classifier", provider.name)
                break
            verdict = await self._ask(
                request.guild_id, provider, system, user, min(remaining, self._per_provider_s)
            )
            if verdict is not None:
                return verdict
        log.warning("guild %s: no AI provider answered; local classifier", request.guild_id)
        return await self._local.review(request.message)

    async def _ask(
        self, guild_id: int, provider: ReviewProvider, system: str, user: str, timeout: float
    ) -> ReviewVerdict | None:
        """One provider's verdict, or None (logged) when it fails in any way.

        A reply that came back is recorded (tokens, cost) even when it is not a valid verdict:
        the provider bills it all the same.
        """
        try:
            with metrics.observe_ai_call("review", provider.name):
                reply = await asyncio.wait_for(provider.complete(system, user), timeout=timeout)
        except VerdictError as exc:
            log.warning("AI provider %s gave an invalid verdict: %s", provider.name, exc)
            return None
        except Exception as exc:  # HTTP status, timeout, connection: all mean "try the next one"
            log.warning("AI provider %s failed: %s", provider.name, _describe(exc))
            return None
        await record_completion(self._sessions, guild_id, reply, self._prices, now=self._clock())
        try:
            return parse_verdict(reply.text, provider.name)
        except VerdictError as exc:
            log.warning("AI provider %s gave an invalid verdict: %s", provider.name, exc)
        return None

    async def _with_server_config(self, request: ReviewRequest) -> ReviewRequest:
        """Fill rules and culture the caller left empty, and take the tier, from the config."""
        async with self._sessions() as session:
            raw, _ = await get_server_config(session, request.guild_id)
        if raw is None:
            return request
        try:
            config = parse_server_config(raw)
        except ConfigError:
            return request
        return ReviewRequest(
            guild_id=request.guild_id,
            user_id=request.user_id,
            message=request.message,
            flagged_by=request.flagged_by,
            rules=request.rules or config.rules,
            culture=request.culture or config.culture,
            context=request.context,
            tier=config.tier,
        )

    async def _take_budget(self, request: ReviewRequest) -> AIReservation:
        """Count one AI call against the guild's tier (`servers.tier`) for this month, or refuse.

        The tier is read from the database, never from the request or the server's config:
        tiers are billing, set by the operator (storage.tiers.set_tier).
        """
        async with self._sessions() as session, session.begin():
            return await reserve_ai_call(session, request.guild_id, now=self._clock())


_UNPRICED_LOGGED: set[str] = set()


async def record_completion(
    sessions: async_sessionmaker[AsyncSession],
    guild_id: int,
    completion: Completion,
    prices: Mapping[str, Price],
    *,
    now: datetime,
) -> int | None:
    """Add a returned call's tokens and cost to the guild's month and the hour's analytics.

    Returns the cost in micro-dollars, or None for a model with no price (counted at cost 0,
    logged once per model). A database error propagates, as for the budget.
    """
    cost = cost_micro_usd(
        completion.model, completion.input_tokens, completion.output_tokens, prices
    )
    if cost is None and completion.model not in _UNPRICED_LOGGED:
        _UNPRICED_LOGGED.add(completion.model)
        log.warning(
            "AI model %r (%s) has no price; its tokens are counted at cost 0 (set AI_PRICES)",
            completion.model,
            completion.provider,
        )
    async with sessions() as session, session.begin():
        await record_ai_tokens(
            session,
            guild_id,
            usage_month(now),
            completion.input_tokens,
            completion.output_tokens,
            cost or 0,
            now=now,
        )
    return cost


def _time_for_providers() -> float:
    """Seconds the providers may use: the activity's start-to-close timeout less a reserve.

    The reserve is for the local classifier, so Temporal never times the activity out (and
    retries it) in the middle of the chain.
    """
    if activity.in_activity():
        timeout = activity.info().start_to_close_timeout
        if timeout is not None:
            return timeout.total_seconds() - LOCAL_RESERVE_S
    return float("inf")


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a provider failure for the log."""
    status: Any = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    kind = type(exc).__name__
    return f"{kind} (status {status})" if status else kind
