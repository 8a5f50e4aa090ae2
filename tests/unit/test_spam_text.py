"""The learned spam text score: featuriser, equality with scikit-learn, the shipped model."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from dcs.spam_model import MODEL_NAME, load_model, shipped_model
from domain.spam_text import FORMAT, TextModel, features

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_spam_model.py"

LURES = [
    "@everyone free discord nitro for 3 months, claim it here https://dlscord-gift.com/claim",
    "Free Nitro from Steam! grab your gift before it expires https://steamcommunity-gift.ru/n",
    "i'm giving away my cs2 skins, first come first served https://steamcommnuity.com/trade",
    "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 now",
    "earn $500 a day from home with crypto trading, no experience needed, dm me",
]
CHAT = [
    "hi everyone, just joined! how do i get the verified role?",
    "anyone up for ranked tonight?",
    "did you see the patch notes? they nerfed the shotgun again",
    "can someone send the link to the tournament rules?",
    "lol",
    "my cat just knocked the controller off the desk 😂",
    "thanks for the help <@123456789012345678> <:kekw:912345678901234567>",
    "here's the bug report https://github.com/org/repo/issues/12",
]


def logit(p):
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def trainer():
    """The training script as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("train_spam_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(trainer):
    """One training run: the held-out examples, sklearn's classifier and its vocabulary."""
    train, test = trainer.split(trainer.load_examples())
    clf, vocab = trainer.fit(train)
    return train, test, clf, vocab


def test_features_normalise_digits_links_and_discord_markup():
    """Digits fold to 0, links to '_url_' plus host words, mentions and emojis to one word."""
    words, pairs, grams = features("Call 0800 now! https://dlscord-gift.com/x?y=1 <@!42> <:a:9>")
    assert {"call", "0000", "now", "!", "_url_", "dlscord", "gift", "com"} <= words
    assert {"_mention_", "_emoji_"} <= words
    assert "call 0000" in pairs
    assert "0000 now" in pairs
    assert " cal" in grams
    assert all(len(g) == 4 for g in grams)
    assert not any("42" in w or "claim" in w for w in words)


def test_a_text_without_words_has_no_features_and_scores_the_bias():
    """Emoji-only or empty texts fall back to the bias, not a division by zero."""
    model = TextModel(-2.0, {}, {}, {})
    assert features("🎉🎉") == (frozenset(), frozenset(), frozenset())
    assert model.decision("🎉🎉") == -2.0
    assert model.decision("") == -2.0


def test_decision_is_bias_plus_known_weights_over_root_of_all_features():
    """Unknown features count in n but weigh nothing, as in the training matrix."""
    words, pairs, grams = features("free nitro")
    n = len(words) + len(pairs) + len(grams)
    model = TextModel(0.5, {"free": 2.0, "nitro": 1.0}, {"free nitro": 3.0}, {})
    assert model.decision("free nitro") == pytest.approx(0.5 + 6.0 / math.sqrt(n), abs=1e-12)
    assert model.probability("free nitro") == pytest.approx(
        1 / (1 + math.exp(-model.decision("free nitro")))
    )


def test_a_model_of_another_format_is_refused():
    """A file from another featuriser version must not be silently misread."""
    with pytest.raises(ValueError, match="not a"):
        TextModel.from_dict({"format": "other/2", "bias": 0, "words": {}, "pairs": {}, "grams": {}})
    with pytest.raises(ValueError, match="must map"):
        TextModel.from_dict({"format": FORMAT, "bias": 0, "words": [], "pairs": {}, "grams": {}})


def test_domain_scores_equal_sklearn_decision_function_on_the_held_out_set(trainer, trained):
    """The pure scorer and scikit-learn agree to 1e-6 on every held-out text."""
    _, test, clf, vocab = trained
    model = TextModel.from_dict(trainer.model_dict(clf, vocab))
    expected = trainer.scores(clf, vocab, test)
    ours = np.array([model.decision(e.text) for e in test])
    assert len(test) > 900
    assert np.abs(ours - expected).max() < 1e-6


def test_the_committed_model_is_what_training_produces(trainer, trained):
    """Training is deterministic and the shipped file is up to date with the data (to the last
    bits a different BLAS build may change)."""
    _, _, clf, vocab = trained
    data = trainer.model_dict(clf, vocab)
    shipped = json.loads(gzip.decompress((ROOT / "dcs" / "data" / MODEL_NAME).read_bytes()))
    assert shipped["format"] == FORMAT
    assert trainer.model_differences(data, shipped) == []
    moved = dict(shipped, words=dict(shipped["words"]))
    word = next(iter(moved["words"]))
    moved["words"][word] += 1e-6
    assert trainer.model_differences(data, moved) == ["words: a weight moved by 1e-06"]


def test_held_out_precision_stays_high_at_the_deletion_threshold(trainer, trained):
    """At the standard preset's 0.95 no held-out ham is called spam, most spam still is."""
    _, test, clf, vocab = trained
    report = trainer.metrics(test, trainer.scores(clf, vocab, test))
    at = report["p>=0.95"]
    assert at["false_positives"] == 0
    assert at["recall"] >= 0.6
    assert report["p>=0.5"]["f1"] >= 0.9


def test_the_shipped_model_scores_lures_high_and_chat_low():
    """Lures (not in the training data) score >= 0.9, everyday chat stays under 0.5."""
    model = shipped_model()
    assert shipped_model() is model  # read once per process
    lure_scores = [model.probability(t) for t in LURES]
    chat_scores = [model.probability(t) for t in CHAT]
    assert min(lure_scores) >= 0.9, lure_scores
    assert max(chat_scores) < 0.5, chat_scores


def test_load_model_reads_the_training_scripts_encoding(trainer):
    """dcs.spam_model reads exactly what the script writes."""
    data = {"format": FORMAT, "bias": -1.5, "words": {"nitro": 2.0}, "pairs": {}, "grams": {}}
    model = load_model(trainer.encode(data))
    assert model.bias == -1.5
    assert model.words == {"nitro": 2.0}


def test_score_leaves_bare_links_and_short_replies_unjudged():
    """Too few words outside links: None; otherwise the same log-odds as decision()."""
    model = shipped_model()
    assert model.score("https://example.com/tournament/rules") is None
    assert model.score("lol ok") is None
    assert model.score("see <#456789012345678901> https://github.com/org/repo") is None
    text = "free nitro here https://dlscord-gift.com/claim"
    assert model.score(text) == model.decision(text)


def test_everyday_chat_from_the_automod_bench_stays_under_the_thresholds():
    """Chat written for another purpose: no line reaches 0.95 (newcomers' deletion), none
    with an ordinary link reaches 0.99 (a regular's alert): false positives stay at ~0."""
    spec = importlib.util.spec_from_file_location(
        "automod_data", ROOT / "bench" / "automod_data.py"
    )
    assert spec is not None and spec.loader is not None
    data = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = data
    spec.loader.exec_module(data)
    chat = [m.text for m in data.corpus(data.blocked_terms(1_000), 2_000) if m.kind == "clean"]
    links = ("https://github.com/org/repo/issues/12", "https://tenor.com/view/cat-gif-123")
    model = shipped_model()
    plain = [t for t in chat if (model.score(t) or -99) >= logit(0.95)]
    linked = [
        t for t in chat for link in links if (model.score(f"{t} {link}") or -99) >= logit(0.99)
    ]
    assert len(chat) > 1_800
    assert plain == []
    assert linked == []
