"""The AI price table: micro-dollars per call, operator overrides, unknown models, USD text."""

import pytest

from dcs.settings import Settings, load_settings
from domain.ai_cost import PRICES, cost_micro_usd, price_of, price_table, usd


def test_the_default_models_have_prices():
    defaults = Settings.model_fields
    for field in ("anthropic_model", "openai_model", "gemini_model"):
        assert price_of(defaults[field].default, PRICES) is not None, field


@pytest.mark.parametrize(
    ("model", "tokens_in", "tokens_out", "micro"),
    [
        # USD per million tokens is micro-dollars per token
        ("gpt-4o-mini", 1_000_000, 1_000_000, 150_000 + 600_000),
        ("gpt-4o-mini", 1_200, 80, 180 + 48),
        ("claude-3-5-haiku-latest", 1_000, 100, 800 + 400),
        ("gemini-2.0-flash", 1_000, 100, 100 + 40),
        ("models/gemini-2.0-flash", 1_000, 100, 140),  # Gemini's resource name
        ("gemini-2.0-flash-lite", 7, 3, 1),  # 0.525 + 0.9 = 1.425 -> 1
        ("gemini-2.0-flash-lite", 10, 0, 1),  # 0.75 rounds half up to 1
        ("gemini-2.0-flash-lite", 2, 0, 0),  # 0.15 -> 0
        ("gpt-4o-mini", 0, 0, 0),
    ],
)
def test_cost_in_micro_dollars(model, tokens_in, tokens_out, micro):
    assert cost_micro_usd(model, tokens_in, tokens_out, PRICES) == micro


def test_an_unknown_model_is_unpriced_never_guessed():
    assert cost_micro_usd("claude-9-opus", 1_000, 1_000, PRICES) is None
    # a dated snapshot is priced only when listed: it may cost differently from its alias
    assert price_of("gpt-4o-2024-05-13", PRICES) is None
    assert price_of("gpt-4o-mini-2024-07-18", PRICES) == PRICES["gpt-4o-mini"]


def test_overrides_replace_and_add_prices():
    prices = price_table({"gpt-4o-mini": (1.0, 2.0), "my-local-llm": (0.0, 0.0)})
    assert cost_micro_usd("gpt-4o-mini", 1_000, 1_000, prices) == 3_000
    assert cost_micro_usd("my-local-llm", 1_000, 1_000, prices) == 0  # priced, free
    assert cost_micro_usd("gemini-2.0-flash", 1_000, 0, prices) == 100  # the rest unchanged
    assert PRICES["gpt-4o-mini"] == (0.15, 0.60)  # the built-in table is not changed


def test_ai_prices_setting_is_json(monkeypatch):
    monkeypatch.setenv("AI_PRICES", '{"my-model": [1.5, 6], "gpt-4o-mini": [0.2, 0.8]}')
    settings = load_settings(_env_file=None)
    assert settings.ai_prices == {"my-model": (1.5, 6.0), "gpt-4o-mini": (0.2, 0.8)}
    assert cost_micro_usd("my-model", 2, 1, price_table(settings.ai_prices)) == 9
    monkeypatch.setenv("AI_PRICES", '{"my-model": [-1, 6]}')
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        load_settings(_env_file=None)


def test_usd_text_is_exact():
    assert usd(0) == "0.000000"
    assert usd(1) == "0.000001"
    assert usd(1_234_567) == "1.234567"
    assert usd(12_000_000) == "12.000000"
