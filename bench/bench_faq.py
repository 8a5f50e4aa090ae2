"""FAQ matching: per-question latency with 1,000 entries, and precision/recall on a labelled set.

The labelled set is docs/faq-eval/: a 42-entry knowledge base of an NFT game community (34 in
English, 2 each in es/de/fr/pt) and 196 messages (126 paraphrased questions labelled with their
entry, 70 chatter or unanswerable questions labelled none). For the 1,000-entry figures the
42 entries are joined by 958 generated distractors (other game topics, same shape), so the
labelled questions must be found among 1,000 entries.

Per message the gateway does what is timed here: `is_question`, lingua restricted to the
server's five languages, then the match. Lexical (BM25) runs in line; the semantic matcher
embeds the message with MiniLM (ONNX, one thread) in a worker thread. Both are reported.

Run alone for the evaluation table: `.venv/bin/python bench/bench_faq.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dcs import faq_model  # noqa: E402
from domain.faq import Entry, FaqIndex, is_question, parse_markdown  # noqa: E402

EVAL = ROOT / "docs" / "faq-eval"
LANGUAGES = ("en", "es", "de", "fr", "pt")
THRESHOLD = 0.5
"""The default `faq.threshold`."""
ENTRIES = 1000
ROUNDS = 5
SEED = 11

METHOD = (
    f"{ENTRIES} entries (the 42 labelled ones + generated distractors, ~2 phrasings each); the "
    f"196 labelled messages {ROUNDS} times over, one after another, one core: is_question, "
    "lingua over 5 languages, then BM25 (lexical) or BM25 + the message's MiniLM embedding and "
    f"cosine to every phrasing (combined). Threshold {THRESHOLD}."
)


@dataclass(frozen=True)
class Labelled:
    expect: str | None
    language: str
    text: str


def knowledge_base() -> list[Entry]:
    """The labelled entries; each entry's first tag is its label."""
    drafts, problems = parse_markdown((EVAL / "kb.md").read_text())
    if problems:
        raise ValueError(problems)
    return [
        Entry(i + 1, d.question, d.answer, d.language, d.variants, d.tags)
        for i, d in enumerate(drafts)
    ]


def messages() -> list[Labelled]:
    out = []
    for line in (EVAL / "messages.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        expect, language, text = line.split("\t")
        out.append(Labelled(None if expect == "none" else expect, language, text))
    return out


_THINGS = (
    "dragon mount", "guild hall", "pet egg", "crafting table", "dungeon key", "season pass",
    "weapon skin", "arena badge", "fishing rod", "potion recipe", "castle banner", "quest log",
    "battle pet", "storage chest", "emote pack", "hero card", "farm plot", "treasure map",
    "boss trophy", "racing kart", "spell book", "armor set", "land parcel", "trade post",
)  # fmt: skip
_VERBS = (
    "craft", "upgrade", "repair", "unlock", "rename", "trade", "recycle", "equip", "share",
    "hatch", "enchant", "decorate", "sell", "gift", "reset", "level",
)  # fmt: skip
_PLACES = (
    "in ranked mode", "in the guild war", "on the test server", "during the winter event",
    "in co-op", "in the hardcore realm", "at the harbour market", "in the season finale",
)  # fmt: skip
_TEMPLATES = (
    ("How do I {verb} my {thing} {place}?", "can I {verb} the {thing} {place}"),
    ("Why can't I {verb} the {thing} {place}?", "{verb} {thing} not working {place}"),
    ("What does it cost to {verb} a {thing}?", "price to {verb} a {thing}"),
    ("Is there a limit on how often I can {verb} my {thing}?", "{thing} {verb} cooldown"),
)


def distractors(count: int, start_id: int) -> list[Entry]:
    """Generated entries on other game topics, shaped like real ones."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    out: list[Entry] = []
    while len(out) < count:
        question, variant = rng.choice(_TEMPLATES)
        fields = {"verb": rng.choice(_VERBS), "thing": rng.choice(_THINGS),
                  "place": rng.choice(_PLACES)}  # fmt: skip
        text = question.format(**fields)
        if text in seen:
            continue
        seen.add(text)
        out.append(
            Entry(start_id + len(out), text, f"Answer about {fields['thing']}.", "en",
                  (variant.format(**fields),), (f"gen-{len(out)}",))
        )  # fmt: skip
    return out


def _languages(texts: list[str]) -> list[str]:
    detector = faq_model.detector(LANGUAGES)
    return [detector.detect(t) or "en" for t in texts]


def evaluate(
    index: FaqIndex, labelled: list[Labelled], threshold: float, vectors: Any | None
) -> dict[str, Any]:
    """Precision (answers that were right) and recall (answerable questions answered right)."""
    languages = _languages([m.text for m in labelled])
    right = wrong = 0
    mistakes = []
    for i, (message, language) in enumerate(zip(labelled, languages, strict=True)):
        if not is_question(message.text):
            continue
        vector = None if vectors is None else vectors[i]
        match = index.answer(message.text, language, "en", threshold, vector)
        if match is None or match.confidence < threshold:
            continue
        if match.entry.tags and match.entry.tags[0] == message.expect:
            right += 1
        else:
            wrong += 1
            label = match.entry.tags[0] if match.entry.tags else "?"
            mistakes.append(f"{message.text!r}: {message.expect} -> {label}")
    answerable = sum(1 for m in labelled if m.expect is not None)
    return {
        "precision_pct": round(100 * right / max(right + wrong, 1), 1),
        "recall_pct": round(100 * right / answerable, 1),
        "answered_right": right,
        "answered_wrong": wrong,
        "answerable": answerable,
        "language_accuracy_pct": round(
            100
            * sum(lang == m.language for lang, m in zip(languages, labelled, strict=True))
            / len(labelled),
            1,
        ),
        "mistakes": mistakes,
    }


def _index(entries: list[Entry], embedder: faq_model.Embedder | None) -> FaqIndex:
    plain = FaqIndex(entries)
    if embedder is None:
        return plain
    return FaqIndex(entries, embedder.encode_phrasings(plain.phrasings()))


def _timed(index: FaqIndex, texts: list[str], embedder: faq_model.Embedder | None) -> list[float]:
    detector = faq_model.detector(LANGUAGES)
    timings = []
    for _ in range(ROUNDS):
        for text in texts:
            start = time.perf_counter()
            if is_question(text):
                language = detector.detect(text) or "en"
                vector = None if embedder is None else embedder.encode([text])[0]
                index.answer(text, language, "en", THRESHOLD, vector)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return timings


def _p99(timings: list[float]) -> float:
    return round(timings[int(len(timings) * 0.99) - 1], 3)


def run() -> dict[str, dict[str, Any]]:
    """Figures faq_match_p99_ms, faq_questions_per_s and faq_match_precision/recall_pct."""
    embedder = faq_model.embedder()
    labelled = messages()
    kb = knowledge_base()
    entries = kb + distractors(ENTRIES - len(kb), len(kb) + 1)
    started = time.perf_counter()
    big = _index(entries, embedder)
    build_s = time.perf_counter() - started
    big_lexical = FaqIndex(entries)
    texts = [m.text for m in labelled]
    vectors = embedder.encode(texts)
    _timed(big, texts[:20], embedder)  # warm-up
    combined = _timed(big, texts, embedder)
    lexical = _timed(big_lexical, texts, None)
    questions = sum(1 for t in texts if is_question(t)) * ROUNDS
    quality = evaluate(big, labelled, THRESHOLD, vectors)
    quality_lexical = evaluate(big_lexical, labelled, THRESHOLD, None)
    small = evaluate(_index(kb, embedder), labelled, THRESHOLD, vectors)
    common = {"method": METHOD, "entries": len(entries), "phrasings": len(big.phrasings())}
    return {
        "faq_match_p99_ms": {
            "value": _p99(combined), "unit": "ms", "max": 5,
            "p50_ms": round(statistics.median(combined), 3),
            "lexical_only_p99_ms": _p99(lexical),
            "lexical_only_p50_ms": round(statistics.median(lexical), 3),
            "index_build_with_embeddings_s": round(build_s, 1), **common,
        },
        "faq_match_lexical_p99_ms": {"value": _p99(lexical), "unit": "ms", "max": 5, **common},
        "faq_questions_per_s": {
            "value": round(questions / (sum(combined) / 1000)), "unit": "questions/s",
            "lexical_only": round(questions / (sum(lexical) / 1000)), **common,
        },
        "faq_match_precision_pct": {
            "value": quality["precision_pct"], "unit": "%", **common, "combined": quality,
            "lexical_only": quality_lexical, "labelled_kb_only_42_entries": small,
        },
        "faq_match_recall_pct": {
            "value": quality["recall_pct"], "unit": "%", **common,
            "lexical_only_pct": quality_lexical["recall_pct"],
            "labelled_kb_only_42_entries_pct": small["recall_pct"],
        },
    }  # fmt: skip


if __name__ == "__main__":
    embedder = faq_model.embedder()
    labelled = messages()
    kb = knowledge_base()
    vectors = embedder.encode([m.text for m in labelled])
    print("threshold  entries  matcher   precision  recall")
    for size, entries in ((len(kb), kb), (ENTRIES, kb + distractors(ENTRIES - len(kb), 100))):
        for name, index, vecs in (
            ("lexical", FaqIndex(entries), None),
            ("combined", _index(entries, embedder), vectors),
        ):
            for threshold in (0.4, 0.5, 0.6):
                r = evaluate(index, labelled, threshold, vecs)
                print(f"{threshold:9}  {size:7}  {name:8}  {r['precision_pct']:8}%  "
                      f"{r['recall_pct']:5}%")  # fmt: skip
