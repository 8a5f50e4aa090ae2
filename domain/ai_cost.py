"""AI cost without I/O: what a provider call returned, and its price in integer micro-dollars.

Prices are USD per million tokens, (input, output), from the providers' public price pages as of
2026-12-06: anthropic.com/pricing (Claude API), openai.com/api/pricing (standard tier, not
batch), ai.google.dev/gemini-api/docs/pricing (paid tier, text input, prompts up to 200k tokens).
Check those pages when a price changes; an operator overrides or adds models with the `AI_PRICES`
setting (JSON `{"model": [input, output]}`), which wins over this table.

A model is looked up by its exact name (only a leading `models/` is dropped, as Gemini names may
carry it): dated snapshots are priced only when listed, because a snapshot can cost differently
from its alias (gpt-4o-2024-05-13 did). An unknown model is never guessed: its tokens are counted
and its cost is 0, reported as unpriced.

Since one micro-dollar per token is one dollar per million tokens, a call costs
`input_tokens * input_price + output_tokens * output_price` micro-dollars, rounded half up to a
whole micro-dollar per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Price = tuple[float, float]
"""USD per million tokens: (input, output)."""

PRICES: Mapping[str, Price] = {
    # Anthropic (anthropic.com/pricing)
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-3-5-haiku-20241022": (0.80, 4.00),
    "claude-3-haiku-20240307": (0.25, 1.25),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-haiku-4-5-20251001": (1.00, 5.00),
    "claude-3-5-sonnet-latest": (3.00, 15.00),
    "claude-3-7-sonnet-latest": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-sonnet-4-20250514": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4-5-20250929": (3.00, 15.00),
    # OpenAI (openai.com/api/pricing, standard)
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-mini-2024-07-18": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-2024-11-20": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    # Google (ai.google.dev/gemini-api/docs/pricing, paid tier)
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-001": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
    "gemini-2.0-flash-lite-001": (0.075, 0.30),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
}
"""Built-in prices per model; `AI_PRICES` entries replace or add to them."""


@dataclass(frozen=True, slots=True)
class Completion:
    """One provider call that returned: the reply text and the tokens the provider billed.

    `model` is the model the suite asked for (the setting), which is what the price table knows.
    """

    text: str
    input_tokens: int
    output_tokens: int
    provider: str
    model: str


def price_table(overrides: Mapping[str, Price] | None = None) -> dict[str, Price]:
    """The built-in prices with the operator's `AI_PRICES` over them."""
    return {**PRICES, **(overrides or {})}


def price_of(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The model's (input, output) price per million tokens, or None when it is not listed."""
    name = model.strip()
    return prices.get(name) or prices.get(name.removeprefix("models/"))


def cost_micro_usd(
    model: str, input_tokens: int, output_tokens: int, prices: Mapping[str, Price]
) -> int | None:
    """The call's cost in micro-dollars (rounded half up), or None for a model with no price."""
    price = price_of(model, prices)
    if price is None:
        return None
    micro = Decimal(max(0, input_tokens)) * Decimal(str(price[0])) + Decimal(
        max(0, output_tokens)
    ) * Decimal(str(price[1]))
    return int(micro.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usd(micro: int) -> str:
    """Micro-dollars as an exact USD amount with six decimals: 1234567 -> '1.234567'."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"
