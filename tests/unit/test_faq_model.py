"""The real local models: MiniLM (ONNX) embeddings and lingua, each loaded once per session."""

from __future__ import annotations

import numpy as np
import pytest

from dcs import faq_model


@pytest.fixture(scope="module")
def embedder() -> faq_model.Embedder:
    return faq_model.embedder()


def test_embeddings_are_unit_vectors_that_put_paraphrases_together(embedder):
    vectors = embedder.encode(
        ["How do I link my wallet?", "connect wallet to my discord account", "I like pizza"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2] + 0.3


def test_a_text_embeds_the_same_alone_or_among_others(embedder):
    alone = embedder.encode(["when is the mint?"])[0]
    among = embedder.encode(["a much longer sentence that would pad a batch", "when is the mint?"])
    assert np.allclose(alone, among[1], atol=1e-6)


def test_the_model_is_loaded_once(embedder):
    assert faq_model.embedder() is embedder


def test_language_detection_restricted_to_the_servers_languages():
    detector = faq_model.detector(("en", "es", "de", "fr", "pt"))
    assert detector.detect("¿Cuándo es el próximo mint?") == "es"
    assert detector.detect("Wann ist der nächste Mint?") == "de"
    assert detector.detect("Quand est le prochain mint ?") == "fr"
    assert detector.detect("Quando é o próximo mint?") == "pt"
    assert detector.detect("when is the next mint?") == "en"
    assert faq_model.detector(("en",)).detect("¿Cuándo es el mint?") == "en"  # only one choice


def test_phrasings_are_remembered_across_index_builds(embedder):
    first = embedder.encode_phrasings(["how do I stake?", "what is the royalty fee?"])
    memo_before = len(embedder._memo)
    again = embedder.encode_phrasings(["what is the royalty fee?", "how do I stake?"])
    assert len(embedder._memo) == memo_before  # nothing embedded twice
    assert np.array_equal(first[::-1], again)
    assert np.allclose(again[0], embedder.encode(["what is the royalty fee?"])[0], atol=1e-6)


def test_a_phrasing_embeds_exactly_as_the_same_words_in_a_message(embedder):
    texts = ["hi", "what is the mint price in ETH for allowlisted wallets on saturday?", "gm"]
    phrasings = embedder.encode_phrasings([f"{t} (batch)" for t in texts])
    messages = embedder.encode([f"{t} (batch)" for t in texts])
    assert np.array_equal(phrasings, messages)


def test_the_process_runs_the_requantized_model_close_to_the_wheels(embedder, tmp_path):
    wheel = faq_model.model_path(None)
    assert embedder.model != wheel and embedder.model.name.startswith("minilm-l6-matmul-int8-")
    plain = faq_model.Embedder(wheel)
    texts = ["How do I link my wallet?", "¿Cuándo es el próximo mint?", "the raffle results"]
    similarity = (embedder.encode(texts) * plain.encode(texts)).sum(axis=1)
    assert similarity.min() > 0.97  # the int8 kernels move vectors a little, not their meaning
    again = faq_model.model_path(embedder.model.parent)
    assert again == embedder.model  # built once, then reused


def test_a_model_cache_that_cannot_be_written_leaves_the_wheels_model(tmp_path, caplog):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    assert faq_model.model_path(blocked) == faq_model.model_path(None)
    assert "running the wheel's model as it is" in caplog.text
