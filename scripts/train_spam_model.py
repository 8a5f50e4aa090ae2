"""Train the spam text model shipped in dcs/data/spam_text_model.json.gz (issue #4).

Usage: ``.venv/bin/python scripts/train_spam_model.py [--check]``. Data: the SMS Spam
Collection (CC BY 4.0) and the project's own Discord-style examples (CC0), both in
dcs/data/. Exact duplicates are dropped, then a stratified split (by source and label,
fixed seed) holds out 20%. Features are :func:`domain.spam_text.features` (the scorer's own),
kept when they occur in at least two training texts; a logistic regression (lbfgs, classes
weighted to balance and Discord-style examples weighted up, so the few Discord lures are
not drowned by SMS ham) is fit on
the training part only, so the held-out figures describe the shipped model. The output is
deterministic: the same data gives the same bytes. ``--check`` writes nothing and fails if
the committed file differs from a fresh training run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.spam_text import FORMAT, TextModel, features  # noqa: E402

DATA = ROOT / "dcs" / "data"
SMS = DATA / "sms_spam_collection.tsv.gz"
DISCORD = DATA / "discord_examples.tsv"
OUTPUT = DATA / "spam_text_model.json.gz"
SEED = 20_240_604
HELD_OUT = 0.2
MIN_DF = 2
C = 10.0
DISCORD_WEIGHT = 5.0
"""Sample weight of a Discord-style example (an SMS weighs 1): the target is Discord chat."""
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
"""Probabilities at which held-out precision and recall are reported."""
KINDS = ("words", "pairs", "grams")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text and where it comes from ('sms' or 'discord')."""

    text: str
    spam: bool
    source: str


def read_tsv(lines: Sequence[str], source: str) -> list[Example]:
    """'label<TAB>text' lines (label 'spam' or 'ham') as examples."""
    out = []
    for line in lines:
        label, _, text = line.rstrip("\n").partition("\t")
        if label not in ("spam", "ham") or not text:
            raise ValueError(f"{source}: bad line {line[:60]!r}")
        out.append(Example(text, label == "spam", source))
    return out


def load_examples() -> list[Example]:
    """Both corpora, exact duplicates dropped (first kept) so no text is on both sides."""
    sms = read_tsv(gzip.decompress(SMS.read_bytes()).decode("utf-8").splitlines(), "sms")
    discord = read_tsv(DISCORD.read_text(encoding="utf-8").splitlines(), "discord")
    seen: dict[str, Example] = {}
    for example in sms + discord:
        seen.setdefault(example.text, example)
    return list(seen.values())


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """A stratified (source, label) train / held-out split with the fixed seed."""
    strata = [f"{e.source}:{e.spam}" for e in examples]
    train, test = train_test_split(examples, test_size=HELD_OUT, random_state=SEED, stratify=strata)
    return list(train), list(test)


def vocabulary(texts: Sequence[str]) -> dict[tuple[int, str], int]:
    """(kind, feature) -> column, for features in at least MIN_DF training texts."""
    df: Counter[tuple[int, str]] = Counter()
    for text in texts:
        for kind, found in enumerate(features(text)):
            df.update((kind, f) for f in found)
    kept = sorted(key for key, n in df.items() if n >= MIN_DF)
    return {key: column for column, key in enumerate(kept)}


def matrix(texts: Sequence[str], vocab: dict[tuple[int, str], int]) -> csr_matrix:
    """Rows of 1/sqrt(n) at each known feature, n counting all the text's features."""
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        found = features(text)
        count = sum(len(f) for f in found)
        columns = sorted(
            vocab[(kind, f)] for kind, fs in enumerate(found) for f in fs if (kind, f) in vocab
        )
        indices.extend(columns)
        if columns:
            data.extend([1.0 / count**0.5] * len(columns))
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(texts), len(vocab)), dtype=np.float64)


def fit(examples: Sequence[Example]) -> tuple[LogisticRegression, dict[tuple[int, str], int]]:
    """A logistic regression on the examples' features (deterministic: lbfgs, fixed data)."""
    texts = [e.text for e in examples]
    vocab = vocabulary(texts)
    clf = LogisticRegression(
        C=C, class_weight="balanced", solver="lbfgs", max_iter=5_000, random_state=SEED
    )
    weights = np.array([DISCORD_WEIGHT if e.source == "discord" else 1.0 for e in examples])
    clf.fit(matrix(texts, vocab), np.array([e.spam for e in examples]), sample_weight=weights)
    return clf, vocab


def scores(
    clf: LogisticRegression, vocab: dict[tuple[int, str], int], examples: Sequence[Example]
) -> np.ndarray:
    """scikit-learn's decision function on the examples."""
    return np.asarray(clf.decision_function(matrix([e.text for e in examples], vocab)))


def metrics(examples: Sequence[Example], decisions: np.ndarray) -> dict[str, Any]:
    """Precision, recall and F1 of 'spam' at each reporting threshold, plus the counts."""
    truth = np.array([e.spam for e in examples])
    probability = 1.0 / (1.0 + np.exp(-decisions))
    out: dict[str, Any] = {"texts": len(examples), "spam": int(truth.sum())}
    for threshold in THRESHOLDS:
        p, r, f, _ = precision_recall_fscore_support(
            truth, probability >= threshold, average="binary", zero_division=0
        )
        false_pos = int(((probability >= threshold) & ~truth).sum())
        out[f"p>={threshold:g}"] = {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "false_positives": false_pos,
        }
    return out


def model_dict(clf: LogisticRegression, vocab: dict[tuple[int, str], int]) -> dict[str, Any]:
    """The model file's JSON object: weights per kind (full precision), keys sorted."""
    coef = clf.coef_[0]
    tables: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    for (kind, feature), column in vocab.items():
        if coef[column] != 0.0:
            tables[KINDS[kind]][feature] = float(coef[column])
    return {"format": FORMAT, "bias": float(clf.intercept_[0]), **tables}


def max_domain_gap(model: TextModel, examples: Sequence[Example], decisions: np.ndarray) -> float:
    """Largest |domain score - scikit-learn score| over the examples."""
    ours = np.array([model.decision(e.text) for e in examples])
    return float(np.abs(ours - decisions).max())


def evaluate(examples: list[Example]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train on the split, check the domain scorer, and report held-out figures."""
    train, test = split(examples)
    clf, vocab = fit(train)
    data = model_dict(clf, vocab)
    decisions = scores(clf, vocab, test)
    gap = max_domain_gap(TextModel.from_dict(data), test, decisions)
    if gap > 1e-6:
        raise AssertionError(f"domain scores differ from scikit-learn's by {gap}")
    by_source = {
        name: [i for i, e in enumerate(test) if name in ("all", e.source)]
        for name in ("all", "sms", "discord")
    }
    report: dict[str, Any] = {
        "seed": SEED,
        "held_out_share": HELD_OUT,
        "C": C,
        "class_weight": "balanced",
        "discord_sample_weight": DISCORD_WEIGHT,
        "min_df": MIN_DF,
        "train_texts": len(train),
        "features": {kind: len(data[kind]) for kind in KINDS},
        "max_abs_gap_domain_vs_sklearn": gap,
        "mixed_model": {
            name: metrics([test[i] for i in idx], decisions[idx]) for name, idx in by_source.items()
        },
        "sms_only_model": sms_only(train, test),
    }
    return data, report


def sms_only(train: Sequence[Example], test: Sequence[Example]) -> dict[str, Any]:
    """The public corpus alone: trained and tested on its parts of the same split."""
    sms_train = [e for e in train if e.source == "sms"]
    sms_test = [e for e in test if e.source == "sms"]
    clf, vocab = fit(sms_train)
    discord_test = [e for e in test if e.source == "discord"]
    return {
        "sms": metrics(sms_test, scores(clf, vocab, sms_test)),
        "discord": metrics(discord_test, scores(clf, vocab, discord_test)),
    }


def encode(data: dict[str, Any]) -> bytes:
    """Compact, sorted JSON, gzipped without a timestamp (same input, same bytes)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0)


WEIGHT_TOLERANCE = 1e-9
"""Weights may differ in the last bits between BLAS builds and CPUs; more than this is a change."""


def model_differences(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """What differs between two model files beyond floating-point noise (empty: the same)."""
    found = []
    if new["format"] != old.get("format"):
        found.append(f"format {old.get('format')!r} != {new['format']!r}")
    if abs(new["bias"] - old.get("bias", float("inf"))) > WEIGHT_TOLERANCE:
        found.append(f"bias {old.get('bias')} != {new['bias']}")
    for kind in KINDS:
        ours, theirs = new[kind], old.get(kind, {})
        if ours.keys() != theirs.keys():
            found.append(f"{kind}: {len(ours.keys() ^ theirs.keys())} features differ")
            continue
        drift = max((abs(ours[k] - theirs[k]) for k in ours), default=0.0)
        if drift > WEIGHT_TOLERANCE:
            found.append(f"{kind}: a weight moved by {drift:.3g}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Train, report, and write (or with --check, compare) the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args(argv)
    data, report = evaluate(load_examples())
    print(json.dumps(report, indent=2))
    blob = encode(data)
    if args.check:
        shipped = json.loads(gzip.decompress(OUTPUT.read_bytes())) if OUTPUT.exists() else {}
        found = model_differences(data, shipped) if shipped else ["no model file"]
        print("model file is up to date" if not found else "model file differs: retrain")
        for line in found:
            print(f"  {line}")
        return 1 if found else 0
    OUTPUT.write_bytes(blob)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(blob):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
