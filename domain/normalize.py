"""Text folding for automod, so evasions ('b4d', 'b.a.d', 'baaad', look-alikes) compare equal.

Every character goes through one table (NFKD, casefold, look-alike letters, separators to
spaces); then each space-delimited token has its leet stand-ins mapped ('a55' -> 'ass').
A message yields *forms*: the folded text and, when it has a run of three or more single
characters ('b a d w o r d'), variants with that run joined. The automaton scans a form
*collapsed* (letter runs squeezed, 'baaad' -> 'bad'); terms with double letters are then
checked against it *expanded*, so 'as' is not 'ass'. Terms are folded by the same code.

:func:`search_forms` lists every form; matchers take the pieces on the hot path
(:func:`search_view`, :func:`collapsed_words`, then :func:`joined_forms` only if needed): C-level
string operations and per-token memo lookups.
:func:`located_form` redoes one form character by character with source offsets, so
moderators see what was actually written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial

# Stand-ins for letters, mapped only in tokens that are not numbers: "a55" and "sh!t" are
# words, "455" and "$20" are not (a mixed token such as "8pm" becomes "bpm", harmlessly).
_LEET_MAP = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "6": "g",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "i",
}
# Punctuation when at a token's edge ("hi!", "|x|"), a letter only inside one.
_EDGE_ONLY = "!|"
_LEET_SYMBOLS = "@$!|"

# Look-alikes NFKD leaves alone (checked after NFKD + casefold, so lower-case keys).
# 'l' and 'i' share one skeleton letter ('i') because '1', '|', 'I' and 'l' are interchangeable.
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "\N{CYRILLIC SMALL LETTER A}": "a",
    "\N{CYRILLIC SMALL LETTER VE}": "b",
    "\N{CYRILLIC SMALL LETTER GHE}": "r",
    "\N{CYRILLIC SMALL LETTER IE}": "e",
    "\N{CYRILLIC SMALL LETTER KA}": "k",
    "\N{CYRILLIC SMALL LETTER EM}": "m",
    "\N{CYRILLIC SMALL LETTER EN}": "h",
    "\N{CYRILLIC SMALL LETTER O}": "o",
    "\N{CYRILLIC SMALL LETTER PE}": "n",
    "\N{CYRILLIC SMALL LETTER ER}": "p",
    "\N{CYRILLIC SMALL LETTER ES}": "c",
    "\N{CYRILLIC SMALL LETTER TE}": "t",
    "\N{CYRILLIC SMALL LETTER U}": "y",
    "\N{CYRILLIC SMALL LETTER HA}": "x",
    "\N{CYRILLIC SMALL LETTER SOFT SIGN}": "b",
    "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
    "\N{CYRILLIC SMALL LETTER JE}": "j",
    "\N{CYRILLIC SMALL LETTER DZE}": "s",
    "\N{CYRILLIC SMALL LETTER KOMI DE}": "d",
    "\N{CYRILLIC SMALL LETTER QA}": "q",
    "\N{CYRILLIC SMALL LETTER WE}": "w",
    "\N{CYRILLIC SMALL LETTER SHHA}": "h",
    "\N{CYRILLIC SMALL LETTER PALOCHKA}": "i",
    "\N{CYRILLIC SMALL LETTER STRAIGHT U}": "y",
    "\N{LATIN SMALL LETTER SCRIPT G}": "g",
    # Greek
    "\N{GREEK SMALL LETTER ALPHA}": "a",
    "\N{GREEK SMALL LETTER BETA}": "b",
    "\N{GREEK SMALL LETTER GAMMA}": "y",
    "\N{GREEK SMALL LETTER EPSILON}": "e",
    "\N{GREEK SMALL LETTER ETA}": "n",
    "\N{GREEK SMALL LETTER IOTA}": "i",
    "\N{GREEK SMALL LETTER KAPPA}": "k",
    "\N{GREEK SMALL LETTER MU}": "u",
    "\N{GREEK SMALL LETTER NU}": "v",
    "\N{GREEK SMALL LETTER OMICRON}": "o",
    "\N{GREEK SMALL LETTER PI}": "n",
    "\N{GREEK SMALL LETTER RHO}": "p",
    "\N{GREEK SMALL LETTER SIGMA}": "o",
    "\N{GREEK SMALL LETTER FINAL SIGMA}": "c",
    "\N{GREEK SMALL LETTER TAU}": "t",
    "\N{GREEK SMALL LETTER UPSILON}": "u",
    "\N{GREEK SMALL LETTER CHI}": "x",
    "\N{GREEK SMALL LETTER OMEGA}": "w",
    # Latin letters with strokes/hooks that NFKD keeps whole
    "\N{LATIN SMALL LETTER DOTLESS I}": "i",
    "\N{LATIN SMALL LETTER DOTLESS J}": "j",
    "\N{LATIN SMALL LETTER ALPHA}": "a",
    "\N{LATIN SMALL LETTER TURNED A}": "a",
    "\N{LATIN SMALL LETTER TONE SIX}": "b",
    "\N{LATIN SMALL LETTER B WITH HOOK}": "b",
    "\N{LATIN SMALL LETTER C WITH HOOK}": "c",
    "\N{LATIN SMALL LETTER D WITH HOOK}": "d",
    "\N{LATIN SMALL LETTER D WITH STROKE}": "d",
    "\N{LATIN SMALL LETTER ETH}": "d",
    "\N{LATIN SMALL LETTER OPEN E}": "e",
    "\N{LATIN SMALL LETTER F WITH HOOK}": "f",
    "\N{LATIN SMALL LETTER G WITH HOOK}": "g",
    "\N{LATIN SMALL LETTER H WITH HOOK}": "h",
    "\N{LATIN SMALL LETTER H WITH STROKE}": "h",
    "\N{LATIN SMALL LETTER I WITH STROKE}": "i",
    "\N{LATIN SMALL LETTER IOTA}": "i",
    "\N{LATIN SMALL LETTER J WITH CROSSED-TAIL}": "j",
    "\N{LATIN SMALL LETTER K WITH HOOK}": "k",
    "\N{LATIN SMALL LETTER L WITH RETROFLEX HOOK}": "l",
    "\N{LATIN SMALL LETTER L WITH STROKE}": "l",
    "\N{LATIN SMALL LETTER M WITH HOOK}": "m",
    "\N{LATIN SMALL LETTER N WITH LEFT HOOK}": "n",
    "\N{LATIN SMALL LETTER BARRED O}": "o",
    "\N{LATIN SMALL LETTER O WITH STROKE}": "o",
    "\N{LATIN SMALL LETTER P WITH HOOK}": "p",
    "\N{LATIN SMALL LETTER Q WITH HOOK}": "q",
    "\N{LATIN SMALL LETTER R WITH TAIL}": "r",
    "\N{LATIN SMALL LETTER S WITH HOOK}": "s",
    "\N{LATIN SMALL LETTER T WITH HOOK}": "t",
    "\N{LATIN SMALL LETTER T WITH STROKE}": "t",
    "\N{LATIN SMALL LETTER V WITH HOOK}": "v",
    "\N{LATIN SMALL LETTER W WITH HOOK}": "w",
    "\N{LATIN SMALL LETTER Y WITH HOOK}": "y",
    "\N{LATIN SMALL LETTER Z WITH RETROFLEX HOOK}": "z",
    "\N{LATIN SMALL LETTER AE}": "ae",
    "\N{LATIN SMALL LIGATURE OE}": "oe",
    # Small capitals
    "\N{LATIN LETTER SMALL CAPITAL A}": "a",
    "\N{LATIN LETTER SMALL CAPITAL B}": "b",
    "\N{LATIN LETTER SMALL CAPITAL C}": "c",
    "\N{LATIN LETTER SMALL CAPITAL D}": "d",
    "\N{LATIN LETTER SMALL CAPITAL E}": "e",
    "\N{LATIN LETTER SMALL CAPITAL F}": "f",
    "\N{LATIN LETTER SMALL CAPITAL G}": "g",
    "\N{LATIN LETTER SMALL CAPITAL H}": "h",
    "\N{LATIN LETTER SMALL CAPITAL I}": "i",
    "\N{LATIN LETTER SMALL CAPITAL J}": "j",
    "\N{LATIN LETTER SMALL CAPITAL K}": "k",
    "\N{LATIN LETTER SMALL CAPITAL L}": "l",
    "\N{LATIN LETTER SMALL CAPITAL M}": "m",
    "\N{LATIN LETTER SMALL CAPITAL N}": "n",
    "\N{LATIN LETTER SMALL CAPITAL O}": "o",
    "\N{LATIN LETTER SMALL CAPITAL P}": "p",
    "\N{LATIN LETTER SMALL CAPITAL R}": "r",
    "\N{LATIN LETTER SMALL CAPITAL S}": "s",
    "\N{LATIN LETTER SMALL CAPITAL T}": "t",
    "\N{LATIN LETTER SMALL CAPITAL U}": "u",
    "\N{LATIN LETTER SMALL CAPITAL V}": "v",
    "\N{LATIN LETTER SMALL CAPITAL W}": "w",
    "\N{LATIN LETTER SMALL CAPITAL Y}": "y",
    "\N{LATIN LETTER SMALL CAPITAL Z}": "z",
}
# Letter-shaped symbols: regional indicators, negative circled and negative squared letters.
for _base in (0x1F1E6, 0x1F150, 0x1F170):
    for _i in range(26):
        _CONFUSABLES[chr(_base + _i)] = chr(ord("a") + _i)
# Invisible "letters" used as padding between characters.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f")


def _fold_code_point(ch: str, evasions: bool) -> str | None:
    """Fold one already NFKD'd and casefolded character (None deletes it)."""
    if not evasions:
        if ch.isascii():
            return ch.lower() if ch.isalnum() else " "
        return ch if unicodedata.category(ch)[0] in "LNM" else " "
    if ch in _CONFUSABLES:
        return _CONFUSABLES[ch].replace("l", "i")
    if ch.isascii():
        if ch.isalnum():
            return ch.lower().replace("l", "i")
        return ch if ch in _LEET_SYMBOLS else " "
    category = unicodedata.category(ch)
    if ch in _INVISIBLE or category[0] == "M" or category == "Cf":
        return None
    return ch if category[0] in "LN" else " "


def _fold_char(ch: str, evasions: bool) -> str:
    """Fold one character of a message: NFKD and casefold it, then fold each code point."""
    if ch.isascii():
        return _fold_code_point(ch.lower(), evasions) or ""
    expanded = unicodedata.normalize("NFKD", ch) if evasions else ch
    return "".join(_fold_code_point(part, evasions) or "" for part in expanded.casefold())


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first sight of a code point, so it stays small."""

    __slots__ = ("_evasions",)

    def __init__(self, evasions: bool) -> None:
        super().__init__()
        self._evasions = evasions
        for cp in range(128):
            self[cp] = _fold_char(chr(cp), evasions)

    def __missing__(self, cp: int) -> str:
        folded = _fold_char(chr(cp), self._evasions)
        self[cp] = folded
        return folded


def _ascii_bytes_table(table: _FoldTable) -> bytes:
    """``bytes.translate`` twin of ``table`` for ASCII text (every ASCII char folds to one)."""
    out = bytearray(range(256))
    for cp in range(128):
        assert len(table[cp]) == 1
        out[cp] = ord(table[cp])
    return bytes(out)


_EVASION_TABLE = _FoldTable(evasions=True)
_PLAIN_TABLE = _FoldTable(evasions=False)
_EVASION_BYTES = _ascii_bytes_table(_EVASION_TABLE)
_PLAIN_BYTES = _ascii_bytes_table(_PLAIN_TABLE)
_LEET_TABLE = str.maketrans(_LEET_MAP)
_DROP_SYMBOLS = str.maketrans("", "", _LEET_SYMBOLS)

_LEET_CHAR = re.compile(r"[0-9@$!|]")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
# Three or more single characters in a row ("b a d", "b.a.d" once folded); two are too
# common in chat ("i m" from "i'm") to be worth a second search.
_SINGLES_HINT = re.compile(r" [^ ] +[^ ] +[^ ] ")
_SINGLES = re.compile(r"(?<= )[^ ](?: +[^ ]){2,}(?= )")
_RUN = re.compile(r"(.)\1+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Ways to join a run of singles: whole, or leaving a real one-letter word ("as i a s s")
# at its start and/or end.
_PEELS = ((False, False), (True, False), (False, True), (True, True))

Form = tuple[str, list[str]]
"""A message form: collapsed padded string (what the automaton scans) and its folded words."""
JoinedForm = tuple[list[str], list[str], "Edit"]
"""A joined form as words: collapsed (what keys are made of), folded, and the joining edit."""
Located = tuple[str, Sequence[int]]
"""Expanded padded form plus, per character, the index of the source character in the text."""
Edit = Callable[[str], list[tuple[int, str]]]
"""Per-token edit: which characters of the token survive, and what each becomes."""


_ASCII_BYTES = bytes(range(128))
_FEW_EXTRA_BYTES = 24
"""UTF-8 bytes beyond one per character up to which a text counts as mostly ASCII."""


def fold(text: str, *, evasions: bool = True) -> str:
    """Fold every character: case, separators to spaces and, with evasions, look-alikes."""
    if text.isascii():
        return text.encode().translate(_EVASION_BYTES if evasions else _PLAIN_BYTES).decode()
    table = _EVASION_TABLE if evasions else _PLAIN_TABLE
    raw = text.encode()
    if len(raw) - len(text) <= _FEW_EXTRA_BYTES:
        # Mostly ASCII (chat with an emoji or two): fold the ASCII through the bytes table,
        # then replace each distinct other character; str.translate costs per character.
        folded = raw.translate(_EVASION_BYTES if evasions else _PLAIN_BYTES).decode()
        others = set(raw.translate(None, _ASCII_BYTES).decode())
        for ch in others:
            out = table[ord(ch)]
            if out == ch:
                continue
            if not out.isascii() and not others.isdisjoint(out):
                break  # a replacement would be replaced again: one pass is needed
            folded = folded.replace(ch, out)
        else:
            return folded
    return text.translate(table)


def _deleet_plan(token: str) -> tuple[int, int, Mapping[int, str | int | None]]:
    """Which slice of a token survives and how: as letters unless it is a number ('$5')."""
    core = token.strip(_EDGE_ONLY)
    if _LETTER.search(core) or (len(core) > 1 and _DIGIT.search(core) is None):
        lead = len(token) - len(token.lstrip(_EDGE_ONLY))
        return lead, lead + len(core), _LEET_TABLE
    return 0, len(token), _DROP_SYMBOLS


def _deleet_edit(token: str) -> list[tuple[int, str]]:
    """Leet stand-ins of one token mapped to letters, character by character."""
    lo, hi, table = _deleet_plan(token)
    out = []
    for i in range(lo, hi):
        mapped = token[i].translate(table)
        if mapped:
            out.append((i, mapped))
    return out


def _join_edit(peel_first: bool, peel_last: bool) -> Edit:
    """Edit that drops the spaces inside a run of singles, optionally keeping an end word."""

    def edit(run: str) -> list[tuple[int, str]]:
        kept = [(i, ch) for i, ch in enumerate(run) if ch != " "]
        if peel_first:
            kept.insert(1, (1, " "))
        if peel_last:
            kept.insert(len(kept) - 1, (len(run) - 2, " "))
        return kept

    return edit


_JOIN_EDITS = tuple(_join_edit(first, last) for first, last in _PEELS)


def _apply(edit: Edit, token: str) -> str:
    """Result of an edit as a plain string."""
    return "".join(ch for _, ch in edit(token))


def _apply_to_match(edit: Edit, match: re.Match[str]) -> str:
    """:func:`_apply` as a ``re.sub`` replacement."""
    return _apply(edit, match.group())


def deleet_token(token: str) -> str:
    """Map leet stand-ins in one folded token ('a55' -> 'ass'; '455' and '$5' stay numbers)."""
    if _LEET_CHAR.search(token) is None:
        return token
    return _apply(_deleet_edit, token)


def collapse_runs(view: str) -> str:
    """Squeeze every run of one repeated character to one ('baaad' -> 'bad')."""
    return _RUN.sub(r"\1", view)


class _TokenMemo(dict[str, str]):
    """Per-token result of a pure function; chat reuses few words, so hits are C-speed lookups."""

    __slots__ = ("_compute", "_limit")

    def __init__(self, compute: Callable[[str], str], limit: int) -> None:
        super().__init__()
        self._compute = compute
        self._limit = limit

    def __missing__(self, token: str) -> str:
        if len(self) >= self._limit:
            self.clear()  # bounded memory even when a raid sprays random tokens
        result = self._compute(token)
        self[token] = result
        return result


_MEMO_LIMIT = 65_536
_DELEETED = _TokenMemo(deleet_token, _MEMO_LIMIT)
_COLLAPSED = _TokenMemo(lambda token: collapse_runs(deleet_token(token)), _MEMO_LIMIT)
_collapsed_word = _COLLAPSED.__getitem__
_deleeted_word = _DELEETED.__getitem__


def _padded(words: list[str], memo: Callable[[str], str]) -> str:
    """Words mapped through ``memo`` and joined with single spaces, padded for whole words."""
    return padded_words(list(map(memo, words)))


def padded_words(words: list[str]) -> str:
    """Words joined with single spaces and padded, so keys match whole words only."""
    joined = f" {' '.join(words)} "
    # Tokens that fold to nothing ("!!") leave a double space; squash it.
    return joined if "  " not in joined else " " + " ".join(joined.split()) + " "


def _joined_views(view: str) -> list[tuple[Edit, str]]:
    """Distinct ways of joining the runs of singles in a folded view, with the edit used."""
    views: list[tuple[Edit, str]] = []
    for edit in _JOIN_EDITS:
        joined = _SINGLES.sub(partial(_apply_to_match, edit), view)
        if all(joined != seen for _, seen in views):
            views.append((edit, joined))
    return views


def ascii_fold_table(*, evasions: bool = True) -> bytes:
    """The ``bytes.translate`` table :func:`search_view` folds ASCII text with."""
    return _EVASION_BYTES if evasions else _PLAIN_BYTES


def search_view(text: str, *, evasions: bool = True) -> str:
    """Every character of ``text`` through the fold table, padded: where the forms start."""
    if text.isascii():
        table = _EVASION_BYTES if evasions else _PLAIN_BYTES
        return f" {text.encode().translate(table).decode()} "
    return f" {fold(text, evasions=evasions)} "


def collapsed_words(words: list[str]) -> list[str]:
    """Each folded word with leet stand-ins mapped and letter runs squeezed (memoised)."""
    return list(map(_collapsed_word, words))


def collapsed_word(word: str) -> str:
    """One folded word with leet stand-ins mapped and letter runs squeezed (memoised)."""
    return _collapsed_word(word)


def deleeted_word(word: str) -> str:
    """One folded word with leet stand-ins mapped, runs kept: as in :func:`expand` (memoised)."""
    return _deleeted_word(word)


def joined_forms(view: str) -> list[JoinedForm]:
    """Forms 1.. of :func:`search_forms` as words: runs of singles joined (evasions only).

    Each comes with the edit that joined it, for :func:`located_form`.
    """
    if _SINGLES_HINT.search(view) is None:
        return []
    forms = []
    for edit, joined in _joined_views(view):
        words = joined.split()
        forms.append((collapsed_words(words), words, edit))
    return forms


def search_forms(text: str, *, evasions: bool = True) -> list[Form]:
    """Forms a message must be searched in: as written, and with 'b a d' runs joined.

    Matchers use :func:`search_view`, :func:`collapsed_words` and :func:`joined_forms`
    directly, so the joined forms are only built when the text as written has no hit.
    """
    view = search_view(text, evasions=evasions)
    words = view.split()
    forms = [(collapsed_words(words) if evasions else words, words)]
    if evasions:
        forms += [(collapsed, words) for collapsed, words, _ in joined_forms(view)]
    return [(padded_words(collapsed), words) for collapsed, words in forms]


def expand(words: list[str]) -> str:
    """Expanded (runs kept) padded form of a form's words, to check a term's double letters."""
    return _padded(words, _deleeted_word)


def term_form(term: str, *, evasions: bool = True) -> str:
    """Expanded form of a configured term: folded words joined by single spaces, no padding."""
    words = fold(term, evasions=evasions).split()
    if evasions:
        words = [deleet_token(word) for word in words]
    return " ".join(word for word in words if word)


def _leet_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the space-delimited tokens whose leet stand-ins change them ('a55', not '45').

    A token that de-leets to itself keeps every character as it is, so editing it would
    change nothing.
    """
    pos = 0
    while (found := _LEET_CHAR.search(text, pos)) is not None:
        start = text.rfind(" ", 0, found.start()) + 1
        end = text.find(" ", found.start())
        end = len(text) if end < 0 else end
        token = text[start:end]
        if _deleeted_word(token) != token:
            yield start, end
        pos = end


def _singles_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the runs of three or more single characters."""
    return (match.span() for match in _SINGLES.finditer(text))


def _tracked_sub(spans: Iterable[tuple[int, int]], edit: Edit, located: Located) -> Located:
    """Apply ``edit`` to every span of a located form, carrying source offsets along."""
    text, offsets = located
    chars: list[str] = []
    out_offsets: list[int] = []
    pos = 0
    for start, end in spans:
        chars.append(text[pos:start])
        out_offsets.extend(offsets[pos:start])
        for i, mapped in edit(text[start:end]):
            chars.append(mapped)
            out_offsets.append(offsets[start + i])
        pos = end
    if pos == 0:
        return located
    chars.append(text[pos:])
    out_offsets.extend(offsets[pos:])
    return "".join(chars), out_offsets


def _tracked_fold(text: str, evasions: bool, view: str | None = None) -> Located:
    """Padded :func:`fold` (``view`` when given) with, per output character, its source index."""
    padded = " " + fold(text, evasions=evasions) + " " if view is None else view
    if text.isascii():  # ASCII folds one character to one
        return padded, range(-1, len(text) + 1)
    table = _EVASION_TABLE if evasions else _PLAIN_TABLE
    offsets = [-1]
    pos = 0
    for found in _NON_ASCII.finditer(text):  # only non-ASCII can fold to 0 or 2+ chars
        i = found.start()
        width = len(table[ord(text[i])])
        if width != 1:
            offsets.extend(range(pos, i))
            offsets.extend([i] * width)
            pos = i + 1
    offsets.extend(range(pos, len(text) + 1))
    return padded, offsets


def located_form(
    text: str,
    index: int,
    *,
    evasions: bool = True,
    view: str | None = None,
    edit: Edit | None = None,
) -> Located:
    """Expanded form ``index`` of :func:`search_forms`, with source offsets (hits only).

    ``view`` is the text's :func:`search_view` and ``edit`` the joining edit of form
    ``index`` (from :func:`joined_forms`) when the caller has them: saves working them out.
    Spacing is not squashed here, so patterns searched in these forms allow runs of spaces.
    """
    located = _tracked_fold(text, evasions, view)
    if not evasions:
        return located
    if index > 0:
        if edit is None:
            edit, _ = _joined_views(located[0])[index - 1]
        located = _tracked_sub(_singles_spans(located[0]), edit, located)
    return _tracked_sub(_leet_spans(located[0]), _deleet_edit, located)


def source_span(
    text: str, offsets: Sequence[int], start: int, end: int, *, evasions: bool = True
) -> tuple[int, int]:
    """Map a span of a located form back to ``text``, keeping marks that trail its last letter."""
    table = _EVASION_TABLE if evasions else _PLAIN_TABLE
    source_start, source_end = offsets[start], offsets[end - 1] + 1
    while source_end < len(text) and not table[ord(text[source_end])]:
        source_end += 1
    return source_start, source_end
