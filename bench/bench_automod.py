"""Automod fast path vs the two ways a hobby bot usually does it: per-term loop, big regex."""

from __future__ import annotations

import gc
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from automod_data import Message, blocked_terms, corpus

from domain.automod import compile_blocked_terms

TERM_COUNT = 1_000
CORPUS_SIZE = 20_000
REPEATS = 5
LOOP_SUBSET = 400
"""The per-term loop is ~1 ms per message, so it runs on every 50th message and is extrapolated."""
ALTERNATION_SUBSET = 2_000
MIN_SAMPLE_S = 0.25
"""Short samples are at the mercy of timer and scheduler noise; repeat passes up to this."""

Check = Callable[[str], object]


def _term_body(term: str) -> str:
    """Regex a hobby bot would write for a term: escaped, with ``*`` as ``\\w*``."""
    core = re.escape(term.strip("*"))
    head = r"\w*" if term.startswith("*") else ""
    tail = r"\w*" if term.endswith("*") else ""
    return head + core + tail


def loop_baseline(terms: Sequence[str]) -> Check:
    """One precompiled ``\\bterm\\b`` per term, tried in turn on the lower-cased message."""
    patterns = [re.compile(rf"\b{_term_body(term)}\b") for term in terms]

    def check(text: str) -> object:
        lowered = text.lower()
        for pattern in patterns:
            if pattern.search(lowered):
                return pattern
        return None

    return check


def alternation_baseline(terms: Sequence[str]) -> Check:
    """All terms in one ``\\b(?:t1|t2|...)\\b`` case-insensitive alternation."""
    body = "|".join(_term_body(term) for term in terms)
    return re.compile(rf"\b(?:{body})\b", re.IGNORECASE).search


def ours(terms: Sequence[str]) -> Check:
    """The compiled matcher with evasion normalisation on."""
    return compile_blocked_terms(terms, normalise_evasions=True).match


def _time_passes(check: Check, texts: Sequence[str], passes: int) -> float:
    """Seconds to judge every text ``passes`` times, with the garbage collector paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(passes):
            for text in texts:
                check(text)
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def _passes_for(check: Check, texts: Sequence[str]) -> int:
    """Passes over ``texts`` needed for one sample to last MIN_SAMPLE_S (also warms up)."""
    return max(1, math.ceil(MIN_SAMPLE_S / _time_passes(check, texts, 1)))


def _sample(check: Check, texts: Sequence[str], passes: int) -> float:
    """One messages-per-second sample."""
    return len(texts) * passes / _time_passes(check, texts, passes)


def measure(check: Check, texts: Sequence[str], repeats: int) -> dict[str, Any]:
    """Messages per second, best of ``repeats`` samples of at least MIN_SAMPLE_S each."""
    passes = _passes_for(check, texts)
    samples = [_sample(check, texts, passes) for _ in range(repeats)]
    return {"best": max(samples), "samples": samples, "messages": len(texts), "passes": passes}


def compare(ours: Check, baseline: Check, texts: Sequence[str], repeats: int) -> dict[str, Any]:
    """Ours vs a baseline on the same texts, samples interleaved so both see the same machine."""
    ours_passes, base_passes = _passes_for(ours, texts), _passes_for(baseline, texts)
    pairs = [
        (_sample(ours, texts, ours_passes), _sample(baseline, texts, base_passes))
        for _ in range(repeats)
    ]
    ours_samples, base_samples = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "ratio_of_bests": max(ours_samples) / max(base_samples),
        "median_paired_ratio": statistics.median(o / b for o, b in pairs),
        "ours_msgs_per_s": {
            "best": max(ours_samples),
            "samples": ours_samples,
            "passes": ours_passes,
        },
        "baseline_msgs_per_s": {
            "best": max(base_samples),
            "samples": base_samples,
            "passes": base_passes,
        },
        "messages": len(texts),
    }


def _flags(check: Check, messages: Sequence[Message]) -> list[bool]:
    """Whether ``check`` flags each message."""
    return [check(message.text) is not None for message in messages]


def _tally(messages: Sequence[Message], flagged: Sequence[bool]) -> dict[str, int]:
    """Plain offenders missed, evasions caught and clean messages flagged by one approach."""
    pairs = list(zip(messages, flagged, strict=True))
    return {
        "plain_missed": sum(1 for m, f in pairs if m.kind == "plain" and not f),
        "evasions_caught": sum(1 for m, f in pairs if m.kind.startswith("evasion") and f),
        "clean_flagged": sum(1 for m, f in pairs if m.kind == "clean" and f),
    }


def sanity(checks: dict[str, Check], messages: Sequence[Message]) -> dict[str, Any]:
    """Apples to apples: every approach must flag every plain offending message."""
    subset = [m for m in messages if m.kind != "clean"]
    subset += [m for m in messages[::10] if m.kind == "clean"]
    flags = {name: _flags(check, subset) for name, check in checks.items()}
    report: dict[str, Any] = {name: _tally(subset, flagged) for name, flagged in flags.items()}
    evasions = [i for i, m in enumerate(subset) if m.kind.startswith("evasion")]
    baselines = [name for name in checks if name != "ours"]
    report["messages_checked"] = len(subset)
    report["evasions_total"] = len(evasions)
    report["evasions_only_ours"] = sum(
        1 for i in evasions if flags["ours"][i] and not any(flags[b][i] for b in baselines)
    )
    report["evasions_missed_by_ours"] = [subset[i].text for i in evasions if not flags["ours"][i]]
    report["ok"] = all(report[name]["plain_missed"] == 0 for name in checks)
    return report


def _corpus_info(terms: Sequence[str], messages: Sequence[Message]) -> dict[str, Any]:
    """What was measured, for the details file."""
    kinds = ("clean", "plain", "evasion")
    return {
        "terms": len(terms),
        "messages": len(messages),
        "kinds": {k: sum(1 for m in messages if m.kind.split(":")[0] == k) for k in kinds},
        "mean_length": sum(len(m.text) for m in messages) / len(messages),
    }


METHOD = (
    "messages/s = messages judged / wall time of a plain loop calling the checker once per "
    f"message (gc paused; one sample repeats the message set until it lasts >= {MIN_SAMPLE_S} s), "
    f"best of {REPEATS} samples. Ratios = our best / the baseline's best on the same subset of "
    "messages, with the two approaches' samples interleaved so both see the same machine state "
    "(the median of paired ratios is kept too). The per-term loop runs on every "
    f"{CORPUS_SIZE // LOOP_SUBSET}th message ({LOOP_SUBSET} messages; its msg/s is extrapolated "
    f"from them), the alternation on every {CORPUS_SIZE // ALTERNATION_SUBSET}th "
    f"({ALTERNATION_SUBSET} messages)."
)


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``; extra keys go to the details file."""
    terms = blocked_terms(TERM_COUNT)
    messages = corpus(terms, CORPUS_SIZE)
    texts = [m.text for m in messages]
    checks = {
        "ours": ours(terms),
        "loop": loop_baseline(terms),
        "alternation": alternation_baseline(terms),
    }
    report = sanity(checks, messages)
    if not report["ok"]:
        raise RuntimeError(f"approaches disagree on plain offending messages: {report}")
    full = measure(checks["ours"], texts, REPEATS)
    loop = compare(checks["ours"], checks["loop"], texts[:: CORPUS_SIZE // LOOP_SUBSET], REPEATS)
    alternation = compare(
        checks["ours"], checks["alternation"], texts[:: CORPUS_SIZE // ALTERNATION_SUBSET], REPEATS
    )
    return {
        "automod_msgs_per_s": {
            "value": round(full["best"]),
            "unit": "msg/s",
            "min": 50_000,
            "method": METHOD,
            **full,
            "corpus": _corpus_info(terms, messages),
            "sanity": report,
        },
        "automod_vs_loop_ratio": {
            "value": round(loop["ratio_of_bests"], 1),
            "unit": "x",
            "min": 100,
            **loop,
        },
        "automod_vs_alternation_ratio": {
            "value": round(alternation["ratio_of_bests"], 1),
            "unit": "x",
            "min": 20,
            **alternation,
        },
    }
