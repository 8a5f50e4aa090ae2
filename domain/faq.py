"""FAQ answers on the fast path: is this a question, which entry answers it, may we answer now.

Pure: no I/O, time is passed in, and embeddings arrive as vectors from whoever computed them
(`dcs/faq_model.py`), so this module runs the same in the gateway, the bench and the eval.

Matching is per language. Each phrasing of an entry (its question and every variant) is one BM25
document; an entry scores as its best phrasing. BM25 scores are unbounded, so the lexical
confidence divides the score by the most the query could have scored (the sum of its terms'
IDF, unseen terms counting as a typical one), which says "how much of what was asked is in this
entry". When a message vector is given, the cosine to the best phrasing is blended in.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
from bm25s import stopwords as _sw

LANGUAGES = ("en", "es", "de", "fr", "pt")

INTERROGATIVES: dict[str, frozenset[str]] = {
    "en": frozenset(
        "what when where which who whom whose why how is are am can could do does did will "
        "would should shall may might has have had anyone anybody".split()
    ),
    "es": frozenset(
        "que qué cuando cuándo donde dónde cual cuál cuales cuáles quien quién quienes por "
        "porque cómo como cuanto cuánto cuanta cuánta cuantos cuántos puedo puede hay alguien "
        "sabe saben es".split()
    ),
    "de": frozenset(
        "was wann wo woher wohin welche welcher welches wer wen wem warum wieso weshalb wie "
        "kann koennen können darf gibt ist sind hat haben muss weiss weiß jemand".split()
    ),
    "fr": frozenset(
        "que quoi quand ou où quel quelle quels quelles qui pourquoi comment combien est-ce "
        "est peut peux puis y-a-t-il quelqu'un sait".split()
    ),
    "pt": frozenset(
        "que quê quando onde qual quais quem porque por como quanto quanta quantos quantas "
        "posso pode tem há alguém sabe é".split()
    ),
}
_ALL_INTERROGATIVES = frozenset().union(*INTERROGATIVES.values())
_OPENERS = frozenset(
    "what when where which who why how can could does do is are anyone "
    "que qué cuándo dónde cuál quién cómo cuánto "
    "was wann wo welche wer warum wie kann gibt "
    "quand où quel quelle qui pourquoi comment combien "
    "quando onde qual quem como quanto".split()
)
"""Words that make a message a question when it starts with them, even without '?'."""

_STOP: dict[str, frozenset[str]] = {
    "en": frozenset(_sw.STOPWORDS_EN_PLUS),
    "es": frozenset(_sw.STOPWORDS_SPANISH),
    "de": frozenset(_sw.STOPWORDS_GERMAN),
    "fr": frozenset(_sw.STOPWORDS_FRENCH),
    "pt": frozenset(_sw.STOPWORDS_PORTUGUESE),
}
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"<[@#:&!a-zA-Z0-9_]+>")
MIN_QUESTION_CHARS = 8
MAX_QUESTION_CHARS = 600
MIN_QUESTION_WORDS = 2


def fold(text: str) -> str:
    """Lower case without accents, so 'Cuándo' and 'cuando' are one word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Words of a message, mentions and links removed, folded."""
    clean = _MENTION.sub(" ", _URL.sub(" ", text))
    return _WORD.findall(fold(clean))


_FOLDED_INTERROGATIVES = frozenset(fold(w) for w in _ALL_INTERROGATIVES)
_FOLDED_OPENERS = frozenset(fold(w) for w in _OPENERS)


def is_question(text: str) -> bool:
    """A cheap guess: length in bounds, and a '?' or an interrogative opening word (5 languages).

    It errs towards yes: the matcher's threshold, not this check, keeps chatter unanswered.
    """
    stripped = text.strip()
    if not MIN_QUESTION_CHARS <= len(stripped) <= MAX_QUESTION_CHARS:
        return False
    found = words(stripped)
    if len(found) < MIN_QUESTION_WORDS:
        return False
    if "?" in stripped or "¿" in stripped:
        return True
    return found[0] in _FOLDED_OPENERS


def _stem(word: str) -> str:
    """A crude plural strip shared by all five languages ('wallets' -> 'wallet')."""
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str, language: str) -> list[str]:
    """Index terms: folded words minus stop words and question words, lightly stemmed."""
    stop = _STOP.get(language, _STOP["en"])
    return [
        _stem(w)
        for w in words(text)
        if w not in stop and w not in _FOLDED_INTERROGATIVES and (len(w) > 1 or w.isdigit())
    ]


@dataclass(frozen=True)
class Entry:
    """One FAQ entry as the matcher sees it."""

    id: int
    question: str
    answer: str
    language: str = "en"
    variants: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question and its variants: each is matched on its own."""
        return (self.question, *self.variants)


@dataclass(frozen=True)
class Match:
    """The best entry for a message and how sure we are (0..1)."""

    entry: Entry
    confidence: float
    lexical: float
    semantic: float | None


@dataclass(frozen=True)
class Weights:
    """How lexical and semantic confidence blend, tuned on docs/faq-eval (see docs/faq.md).

    A cosine of `semantic_floor` is worth 0 and `semantic_full` is worth 1. Alone (before the
    model is loaded, or without it) the lexical share is stretched so that `lexical_full` of the
    query's ideal BM25 score counts as full confidence: one threshold serves both modes.
    """

    semantic: float = 0.6
    semantic_floor: float = 0.25
    semantic_full: float = 0.8
    lexical_full: float = 0.5


class _LanguageIndex:
    """BM25 over one language's phrasings, plus what normalising a score needs."""

    def __init__(self, language: str, entries: Sequence[Entry]) -> None:
        self.language = language
        self.entries = list(entries)
        self.owner: list[int] = []
        corpus: list[list[str]] = []
        for i, entry in enumerate(self.entries):
            for phrasing in entry.phrasings:
                corpus.append(terms(phrasing, language) or ["\x00"])
                self.owner.append(i)
        df: dict[str, int] = {}
        for doc in corpus:
            for term in set(doc):
                df[term] = df.get(term, 0) + 1
        n = len(corpus)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.unseen_idf = float(np.median(list(self.idf.values()))) if self.idf else 1.0
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        self.bm25.index(corpus, show_progress=False)
        self._owner = np.array(self.owner, dtype=np.int64)

    def lexical(self, query: list[str]) -> np.ndarray:
        """Per entry: its best phrasing's BM25 score over the query's ideal score, 0..1."""
        scores = np.zeros(len(self.entries), dtype=np.float32)
        known = [t for t in dict.fromkeys(query) if t in self.idf]
        if not known:
            return scores
        ideal = sum(self.idf.get(t, self.unseen_idf) for t in dict.fromkeys(query))
        raw = self.bm25.get_scores(known)
        np.maximum.at(scores, self._owner, raw.astype(np.float32))
        normalised: np.ndarray = np.minimum(scores / ideal, 1.0)
        return normalised


class FaqIndex:
    """A server's knowledge base, built once per change and then matched many times.

    `vectors`, when given, holds one unit-length embedding per phrasing in the order of
    `phrasings()`; without it only the lexical matcher answers.
    """

    def __init__(
        self,
        entries: Iterable[Entry],
        vectors: np.ndarray | None = None,
        weights: Weights | None = None,
    ) -> None:
        self.entries = list(entries)
        self.weights = weights or Weights()
        by_language: dict[str, list[Entry]] = {}
        for entry in self.entries:
            by_language.setdefault(entry.language, []).append(entry)
        self._langs = {lang: _LanguageIndex(lang, items) for lang, items in by_language.items()}
        self._rows: dict[str, np.ndarray] = {}
        """language -> rows of `vectors` for its phrasings, in its own phrasing order."""
        self.vectors = vectors
        if vectors is not None:
            if len(vectors) != len(self.phrasings()):
                raise ValueError("one vector per phrasing is needed")
            start: dict[int, int] = {}
            row = 0
            for entry in self.entries:
                start[entry.id] = row
                row += len(entry.phrasings)
            for lang, index in self._langs.items():
                rows = [start[e.id] + k for e in index.entries for k in range(len(e.phrasings))]
                self._rows[lang] = vectors[np.array(rows, dtype=np.int64)]

    def phrasings(self) -> list[str]:
        """Every phrasing in entry order: what an embedder must embed for `vectors`."""
        return [p for e in self.entries for p in e.phrasings]

    @property
    def languages(self) -> frozenset[str]:
        """The languages that have entries."""
        return frozenset(self._langs)

    def match(self, text: str, language: str, vector: np.ndarray | None = None) -> Match | None:
        """The best entry of `language` for `text` (None when the language has no entries)."""
        found = self.ranked(text, language, vector, limit=1)
        return found[0] if found else None

    def ranked(
        self, text: str, language: str, vector: np.ndarray | None = None, limit: int = 5
    ) -> list[Match]:
        """The `limit` best entries of `language`, best first (empty without such entries)."""
        index = self._langs.get(language)
        if index is None:
            return []
        lexical = index.lexical(terms(text, language))
        semantic: np.ndarray | None = None
        combined = np.minimum(lexical / self.weights.lexical_full, 1.0)
        rows = self._rows.get(language)
        if vector is not None and rows is not None:
            cosines = rows @ vector.astype(np.float32)
            semantic = np.full(len(index.entries), -1.0, dtype=np.float32)
            np.maximum.at(semantic, index._owner, cosines)
            w = self.weights
            scaled = np.clip(
                (semantic - w.semantic_floor) / (w.semantic_full - w.semantic_floor), 0.0, 1.0
            )
            combined = (1 - w.semantic) * lexical + w.semantic * scaled
        if limit == 1:
            order = [int(np.argmax(combined))]
        else:
            order = [int(i) for i in np.argsort(-combined, kind="stable")[:limit]]
        return [
            Match(
                entry=index.entries[i],
                confidence=float(combined[i]),
                lexical=float(lexical[i]),
                semantic=None if semantic is None else float(semantic[i]),
            )
            for i in order
        ]

    def answer(
        self,
        text: str,
        language: str,
        default_language: str,
        threshold: float,
        vector: np.ndarray | None = None,
    ) -> Match | None:
        """The entry to answer with: in the message's language, else the server's default one.

        Returns the best candidate even below the threshold (the caller suggests a ticket then),
        or None when no entry exists in either language.
        """
        first = self.match(text, language, vector)
        if first is not None and first.confidence >= threshold:
            return first
        if default_language != language:
            second = self.match(text, default_language, vector)
            if second is not None and (first is None or second.confidence > first.confidence):
                return second
        return first


# --- when to answer ----------------------------------------------------------------------------


@dataclass
class AnswerLimiter:
    """One answer per channel per `channel_seconds`, one per member per `member_seconds`.

    Times are monotonic seconds passed in; a bounded memory forgets the oldest members.
    """

    channel_seconds: float
    member_seconds: float
    max_tracked: int = 50_000
    _channels: dict[int, float] = field(default_factory=dict)
    _members: dict[tuple[int, int], float] = field(default_factory=dict)

    def allow(self, guild_id: int, channel_id: int, user_id: int, now: float) -> bool:
        """True (and remembered) when neither the channel nor the member answered too recently."""
        last = self._channels.get(channel_id)
        if last is not None and now - last < self.channel_seconds:
            return False
        seen = self._members.get((guild_id, user_id))
        if seen is not None and now - seen < self.member_seconds:
            return False
        self._channels[channel_id] = now
        self._members[(guild_id, user_id)] = now
        if len(self._members) > self.max_tracked:
            self._forget(now)
        return True

    def _forget(self, now: float) -> None:
        horizon = max(self.channel_seconds, self.member_seconds)
        self._members = {k: t for k, t in self._members.items() if now - t < horizon}
        self._channels = {k: t for k, t in self._channels.items() if now - t < horizon}


def channel_allowed(channel_id: int, parent_id: int | None, allow: Any, deny: Any) -> bool:
    """Deny wins; an empty allow list means every channel. A thread follows its parent."""
    ids = {channel_id} | ({parent_id} if parent_id else set())
    if ids & set(deny):
        return False
    return not allow or bool(ids & set(allow))


# --- import files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryDraft:
    """An entry read from a file or a request, before it has an id."""

    question: str
    answer: str
    language: str = "en"
    variants: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


MAX_QUESTION = 300
MAX_ANSWER = 1800
"""Room is left for the footer in a 2,000-character Discord message."""
_LANG = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def draft_problems(draft: EntryDraft, where: str) -> list[str]:
    """Every reason the draft cannot be stored, each starting with `where`."""
    problems = []
    if not draft.question.strip():
        problems.append(f"{where}: the question is empty")
    elif len(draft.question) > MAX_QUESTION:
        problems.append(f"{where}: the question is longer than {MAX_QUESTION} characters")
    if not draft.answer.strip():
        problems.append(f"{where}: the answer is empty")
    elif len(draft.answer) > MAX_ANSWER:
        problems.append(f"{where}: the answer is longer than {MAX_ANSWER} characters")
    if not _LANG.match(draft.language):
        problems.append(f"{where}: language {draft.language!r} is not a code like 'en' or 'pt-BR'")
    if any(len(v) > MAX_QUESTION for v in draft.variants):
        problems.append(f"{where}: a variant is longer than {MAX_QUESTION} characters")
    return problems


def _split(value: str, also: str = "") -> tuple[str, ...]:
    """Items separated by '|' (and by `also`, e.g. ',' for tags)."""
    for sep in also:
        value = value.replace(sep, "|")
    return tuple(v.strip() for v in value.split("|") if v.strip())


_META = re.compile(r"^(variants|tags|language)\s*:\s*(.*)$", re.IGNORECASE)


def parse_markdown(text: str) -> tuple[list[EntryDraft], list[str]]:
    """`## question` headings, optional `variants:`/`tags:`/`language:` lines, then the answer."""
    drafts: list[EntryDraft] = []
    problems: list[str] = []
    current: dict[str, Any] | None = None

    def close() -> None:
        if current is None:
            return
        draft = EntryDraft(
            question=current["question"],
            answer="\n".join(current["answer"]).strip(),
            language=current["language"],
            variants=current["variants"],
            tags=current["tags"],
        )
        problems.extend(draft_problems(draft, f"line {current['line']}"))
        drafts.append(draft)

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            close()
            current = {"question": line[3:].strip(), "answer": [], "line": number,
                       "language": "en", "variants": (), "tags": ()}  # fmt: skip
            continue
        if current is None:
            if line.strip() and not line.startswith("# "):
                problems.append(f"line {number}: text before the first '## question' heading")
            continue
        meta = _META.match(line.strip())
        if meta and not current["answer"]:
            key, value = meta.group(1).lower(), meta.group(2)
            if key == "language":
                current[key] = value.strip()
            else:
                current[key] = _split(value, "," if key == "tags" else "")
            continue
        if current["answer"] or line.strip():
            current["answer"].append(line)
    close()
    if not drafts and not problems:
        problems.append("the file has no '## question' heading")
    return drafts, problems


CSV_COLUMNS = ("question", "answer", "language", "tags", "variants")


def parse_csv(text: str) -> tuple[list[EntryDraft], list[str]]:
    """`question,answer,language,tags,variants` with a header; tags and variants split on '|'."""
    import csv  # stdlib parsing of a string already in memory: no I/O
    import io

    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        return [], ["the file is empty"]
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("question", "answer") if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        problems = [f"line 1: missing column {c!r}" for c in missing]
        problems += [f"line 1: unknown column {c!r}" for c in unknown]
        return [], problems
    drafts: list[EntryDraft] = []
    problems = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        cells = dict(zip(header, row, strict=True))
        draft = EntryDraft(
            question=cells["question"].strip(),
            answer=cells["answer"].strip(),
            language=(cells.get("language") or "en").strip(),
            variants=_split(cells.get("variants", "")),
            tags=_split(cells.get("tags", "")),
        )
        problems.extend(draft_problems(draft, f"line {number}"))
        drafts.append(draft)
    if not drafts and not problems:
        problems.append("the file has no entries")
    return drafts, problems


def parse_entries(content: str, fmt: str | None = None) -> tuple[list[EntryDraft], list[str]]:
    """A Markdown or CSV file's entries and every problem in it.

    Without `fmt`, a first line starting with 'question,' means CSV.
    """
    if fmt is None:
        first = content.lstrip().splitlines()[0].lower() if content.strip() else ""
        fmt = "csv" if first.startswith("question,") else "markdown"
    return parse_csv(content) if fmt == "csv" else parse_markdown(content)
