"""Text folding: the fast search forms and the slow located forms must always agree."""

from __future__ import annotations

import random

import pytest

from domain import normalize
from domain.normalize import (
    collapse_runs,
    deleet_token,
    expand,
    fold,
    located_form,
    search_forms,
    term_form,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hello, World!", "heiio  worid!"),
        ("".join(chr(ord(ch) + 0xFEE0) for ch in "bad"), "bad"),
        ("café", "cafe"),
        ("\N{CYRILLIC SMALL LETTER VE}\N{CYRILLIC SMALL LETTER A}d", "bad"),
        ("a\u200bb", "ab"),
        ("Straße", "strasse"),
        ("x😂y", "x y"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_without_evasions_only_folds_case_and_separators() -> None:
    assert fold("Café-Bar 1!", evasions=False) == "café bar 1 "
    lookalike = "\N{CYRILLIC SMALL LETTER DZE}\N{CYRILLIC SMALL LETTER SHHA}it"
    assert fold(lookalike, evasions=False) == lookalike


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("a55", "ass"),
        ("sh!t", "shit"),
        ("hi!!", "hi"),
        ("|x|", "x"),
        ("455", "455"),
        ("$5", "5"),
        ("@$$", "ass"),
        ("!!", ""),
        ("8pm", "bpm"),
        ("plain", "plain"),
    ],
)
def test_deleet_token(token: str, expected: str) -> None:
    assert deleet_token(token) == expected


def test_collapse_runs() -> None:
    assert collapse_runs(" baaaad  woord ") == " bad word "


def test_term_form_is_folded_like_text() -> None:
    assert term_form("  Free  N1TRO ") == "free nitro"
    assert term_form("Kill") == "kiii"  # l and i share a skeleton letter


def test_search_forms_join_spaced_letters_but_not_words() -> None:
    forms = [collapsed for collapsed, _ in search_forms("b a d w o r d")]
    assert " badword " in forms
    assert [collapsed for collapsed, _ in search_forms("is hit")] == [" is hit "]


_ALPHABET = (
    "abcdeilos AEILT 0134578 @$!| .,-_'? \u200b\u00ad \u0430\u0435\u0456\u043e "
    "\u0455\u04bb \uff53\uff48 \u00e9 e\u0301 \U0001f602 \u2764\ufe0f \u00df \u00e6 "
    "\U0001f1f8 \U0001d42c \u0445"
)


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40))]
        if rng.random() < 0.3:  # spaced-out runs exercise the joined forms
            parts.append(" " + " ".join(rng.choice("abcdsh1$") for _ in range(rng.randint(3, 7))))
        texts.append("".join(parts))
    return texts


def _squash(text: str) -> str:
    return " " + " ".join(text.split()) + " "


@pytest.mark.parametrize("evasions", [True, False])
def test_located_forms_agree_with_search_forms(evasions: bool) -> None:
    for text in _random_texts(3_000, seed=evasions):
        for index, (collapsed, words) in enumerate(search_forms(text, evasions=evasions)):
            located, offsets = located_form(text, index, evasions=evasions)
            assert len(offsets) == len(located), text
            assert all(-1 <= offset <= len(text) for offset in offsets), text
            expanded = _squash(located)
            if evasions:
                assert expand(words) == expanded, text
                assert collapsed == _squash(collapse_runs(expanded)), text
            else:
                assert collapsed == expanded, text


def test_token_memo_is_bounded() -> None:
    memo = normalize._TokenMemo(str.upper, limit=3)
    for word in ("a", "b", "c", "d"):
        assert memo[word] == word.upper()
    assert len(memo) <= 3
