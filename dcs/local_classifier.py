"""The embedded reviewer used when no AI provider can answer: alt-profanity-check's linear model.

It ships inside the `alt-profanity-check` wheel (scikit-learn, no download) and scores how
offensive a text is. It is English-centred and keyword-led: it catches plain insults and slurs,
misses scams, threats worded politely and sarcasm, and flags quoted insults. So it never proposes
more than a warning, and its verdicts say `provider='local'` (see docs/ai-review.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from domain.review import ReviewVerdict

WARN_AT = 0.9
"""Offensive-language probability from which the local classifier proposes a warning."""

_lock = threading.Lock()
_predict: Callable[[Sequence[str]], Any] | None = None


def _predict_prob() -> Callable[[Sequence[str]], Any]:
    """Import the model once (about a second: it unpickles a scikit-learn pipeline)."""
    global _predict
    with _lock:
        if _predict is None:
            from profanity_check import predict_prob

            _predict = predict_prob
        return _predict


def offensive_probability(text: str) -> float:
    """The model's probability that `text` is offensive, 0..1."""
    return float(_predict_prob()([text])[0])


def verdict_for(probability: float, *, budget_exhausted: bool = False) -> ReviewVerdict:
    """Map the model's probability to a verdict: a warning from WARN_AT, otherwise nothing."""
    if probability >= WARN_AT:
        return ReviewVerdict(
            action="warn",
            categories=("harassment",),
            confidence=round(probability, 4),
            reason=f"Local classifier: offensive language (score {probability:.2f}).",
            provider="local",
            budget_exhausted=budget_exhausted,
        )
    return ReviewVerdict(
        action="none",
        categories=(),
        confidence=round(1.0 - probability, 4),
        reason=f"Local classifier: no offensive language found (score {probability:.2f}).",
        provider="local",
        budget_exhausted=budget_exhausted,
    )


class LocalClassifier:
    """The offline reviewer; scoring runs in a thread so the event loop never stalls."""

    async def review(self, message: str, *, budget_exhausted: bool = False) -> ReviewVerdict:
        """Judge one message with the embedded model."""
        probability = await asyncio.to_thread(offensive_probability, message)
        return verdict_for(probability, budget_exhausted=budget_exhausted)

    def warm_up(self) -> None:
        """Load the model now rather than on the first review."""
        _predict_prob()
