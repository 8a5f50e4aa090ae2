"""The labelled evaluation set (docs/faq-eval) keeps the matcher honest: a regression that
answers wrong or stops answering fails here, with the mistakes listed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dcs import faq_model
from domain.faq import FaqIndex

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_faq.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_faq_for_tests", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_labelled_set_is_what_the_docs_describe(bench):
    kb, labelled = bench.knowledge_base(), bench.messages()
    assert len(kb) == 42 and {e.language for e in kb} == {"en", "es", "de", "fr", "pt"}
    labels = {e.tags[0] for e in kb}
    assert len(labels) == 42  # every entry has its own label
    assert {m.expect for m in labelled} - {None} <= labels
    assert len(labelled) == 196 and sum(m.expect is None for m in labelled) == 70


def test_combined_matcher_precision_and_recall_at_the_default_threshold(bench):
    embedder = faq_model.embedder()
    kb, labelled = bench.knowledge_base(), bench.messages()
    index = FaqIndex(kb, embedder.encode_phrasings(FaqIndex(kb).phrasings()))
    vectors = embedder.encode([m.text for m in labelled])
    result = bench.evaluate(index, labelled, 0.5, vectors)
    assert result["precision_pct"] >= 95, result["mistakes"]
    assert result["recall_pct"] >= 85, result
    assert result["language_accuracy_pct"] >= 95


def test_lexical_matcher_alone_stays_precise(bench):
    kb, labelled = bench.knowledge_base(), bench.messages()
    result = bench.evaluate(FaqIndex(kb), labelled, 0.5, None)
    assert result["precision_pct"] >= 95, result["mistakes"]
    assert result["recall_pct"] >= 60
