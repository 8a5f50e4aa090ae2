"""The embedded local reviewer: a real offensive-language model, mapped to mild verdicts."""

import pytest

from dcs.local_classifier import WARN_AT, LocalClassifier, offensive_probability, verdict_for


async def test_a_plain_insult_gets_a_warning():
    verdict = await LocalClassifier().review("shut up you stupid worthless moron")
    assert verdict.action == "warn" and verdict.categories == ("harassment",)
    assert verdict.provider == "local" and verdict.confidence >= WARN_AT
    assert not verdict.budget_exhausted


async def test_friendly_text_is_left_alone():
    verdict = await LocalClassifier().review("good morning everyone, who's up for the event?")
    assert verdict.action == "none" and verdict.categories == ()
    assert verdict.confidence > 0.5


async def test_budget_flag_is_carried():
    verdict = await LocalClassifier().review("hello", budget_exhausted=True)
    assert verdict.budget_exhausted and verdict.provider == "local"


def test_it_is_keyword_led_and_misses_a_scam():
    """The documented limit: a scam worded politely scores as harmless."""
    assert offensive_probability("claim your free nitro here before it's gone") < WARN_AT


@pytest.mark.parametrize(
    ("probability", "action"), [(0.0, "none"), (0.89, "none"), (0.9, "warn"), (1.0, "warn")]
)
def test_probability_thresholds(probability, action):
    verdict = verdict_for(probability)
    assert verdict.action == action
    assert 0.0 <= verdict.confidence <= 1.0
