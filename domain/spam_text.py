"""A learned spam score for one message's text: a small linear model over words and letters.

Pure: the weights come in as data (``dcs/spam_model.py`` reads the shipped file, trained by
``scripts/train_spam_model.py``), and :func:`features` is the one featuriser both training
and scoring use, so a score here equals scikit-learn's decision function on the same text.

A text becomes three sets of features, each present or not: its words, its word pairs and
its letter 4-grams (across word boundaries, so 'nitro' in 'freenitro' still counts).
Before that, the text is lower-cased, Discord's mentions and custom emojis become one word
each ('_mention_', '_role_', '_channel_', '_emoji_'), digits become '0' (phone numbers and
prices look alike) and each link is cut out, leaving only the words ``_url_`` and its host's
('dlscord-gift.com' -> 'dlscord', 'gift', 'com'), so a link weighs a few words and its path
none. Every present feature weighs ``1/sqrt(n)`` for ``n`` features in all, known to the
model or not, so long texts don't score higher for being long. Unknown features weigh
nothing, as in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise, repeat
from typing import Any

FORMAT = "dcs-spam-text/1"
"""The model file's format tag: a file of another format is refused, not misread."""

_MARKUP = re.compile(r"<(@[!&]?|#|a?:\w+:)\d+>")
_MARKUP_WORD = {"@": " _mention_ ", "@!": " _mention_ ", "@&": " _role_ ", "#": " _channel_ "}
_URL = re.compile(r"(?:https?://|www\.)([^\s/?#]*)\S*|\b(discord\.gg)/\S+")
_HOST_WORD = re.compile(r"[^\W_]+")
_WORD = re.compile(r"[\w£$€']+|[!?@]")
_DIGITS = str.maketrans("0123456789", "0000000000")
Features = tuple[frozenset[str], frozenset[str], frozenset[str]]
"""Distinct words (with links' host words), word pairs and letter 4-grams of one text."""
_NO_FEATURES: Features = (frozenset(), frozenset(), frozenset())
GRAM = 4
"""Letter n-gram length."""
MIN_WORDS = 3
"""Fewer words outside links than this ('lol', a bare link) are not judged by the model: the
SMS corpus has no such texts, so its score there means nothing (links are automod's job)."""


def _markup(match: re.Match[str]) -> str:
    """A Discord mention or custom emoji as one word, so its snowflake isn't a phone number."""
    return _MARKUP_WORD.get(match.group(1), " _emoji_ ")


def _hosts(text: str) -> list[str]:
    """'_url_' and the words of each link's host (lure domains count, paths don't)."""
    out = []
    for match in _URL.finditer(text):
        out.append("_url_")
        out.extend(_HOST_WORD.findall(match.group(1) or match.group(2) or ""))
    return out


def tokens(text: str) -> tuple[list[str], list[str]]:
    """The normalised words outside links, and the links' '_url_' and host words."""
    lowered = text.lower()
    if "<" in lowered:
        lowered = _MARKUP.sub(_markup, lowered)
    hosts: list[str] = []
    if "://" in lowered or "www." in lowered or "discord.gg/" in lowered:
        hosts = _hosts(lowered)
        lowered = _URL.sub(" ", lowered)
    return _WORD.findall(lowered.translate(_DIGITS)), hosts


def features(text: str) -> Features:
    """The text's distinct words, word pairs and letter 4-grams (the model's three inputs)."""
    return _features(*tokens(text))


def _features(words: list[str], hosts: list[str]) -> Features:
    """Features from :func:`tokens`' words and hosts (pairs and grams of the words only)."""
    if not words:
        return (frozenset(hosts), frozenset(), frozenset()) if hosts else _NO_FEATURES
    padded = f" {' '.join(words)} "
    grams = frozenset([padded[i : i + GRAM] for i in range(len(padded) - GRAM + 1)])
    pairs = frozenset([f"{a} {b}" for a, b in pairwise(words)])
    return frozenset(words + hosts), pairs, grams


@dataclass(frozen=True, slots=True)
class TextModel:
    """Logistic-regression weights per feature kind; unknown features weigh 0."""

    bias: float
    words: Mapping[str, float]
    pairs: Mapping[str, float]
    grams: Mapping[str, float]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextModel:
        """The model from its file's JSON object (format checked, weights as floats)."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: {data.get('format')!r}")

        def table(name: str) -> dict[str, float]:
            raw = data[name]
            if not isinstance(raw, dict):
                raise ValueError(f"model field {name!r} must map features to weights")
            return {str(k): float(v) for k, v in raw.items()}

        return cls(float(data["bias"]), table("words"), table("pairs"), table("grams"))

    def decision(self, text: str) -> float:
        """The log-odds that ``text`` is spam (scikit-learn's ``decision_function``)."""
        return self._decide(features(text))

    def score(self, text: str, min_words: int = MIN_WORDS) -> float | None:
        """The log-odds, or None for too few words outside links to judge (a bare link)."""
        words, hosts = tokens(text)
        if len(words) < min_words:
            return None
        return self._decide(_features(words, hosts))

    def _decide(self, found: Features) -> float:
        """Bias plus the known features' weights over the root of the feature count."""
        words, pairs, grams = found
        count = len(words) + len(pairs) + len(grams)
        if not count:
            return self.bias
        zero = repeat(0.0)
        total = (
            sum(map(self.words.get, words, zero))
            + sum(map(self.pairs.get, pairs, zero))
            + sum(map(self.grams.get, grams, zero))
        )
        return self.bias + total / math.sqrt(count)

    def probability(self, text: str) -> float:
        """The probability that ``text`` is spam, by the logistic function."""
        return sigmoid(self.decision(text))


def sigmoid(z: float) -> float:
    """The probability of log-odds ``z`` (without overflow for large negative ``z``)."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def logit(probability: float) -> float:
    """The log-odds of a probability (1.0: infinity, which no score reaches)."""
    if probability >= 1.0:
        return math.inf
    return math.log(probability / (1.0 - probability))
