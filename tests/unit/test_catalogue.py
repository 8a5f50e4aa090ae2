"""The message catalogue: every text in every language, the same fields in each, no key twice,
and loud failures for an unknown key or a field nobody filled."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import domain.catalogue as catalogue
from domain.catalogue import LANGUAGES, keys, language_of, text

AREAS = sorted(p for p in Path(catalogue.__file__).parent.glob("*.py") if p.name != "__init__.py")


def _fields(template: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


def _texts_literal(path: Path) -> ast.Dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "TEXTS":
            assert isinstance(node.value, ast.Dict), f"{path.name}: TEXTS is not a dict literal"  # type: ignore[attr-defined]
            return node.value  # type: ignore[attr-defined]
    raise AssertionError(f"{path.name} has no TEXTS")


def _literal_keys(node: ast.Dict) -> list[str]:
    return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]


def test_every_key_has_all_five_languages():
    missing = {
        key: sorted(set(LANGUAGES) - set(catalogue._texts()[key]))
        for key in keys()
        if set(catalogue._texts()[key]) != set(LANGUAGES)
    }
    assert missing == {}


def test_every_language_uses_exactly_the_english_fields():
    wrong = {}
    for key in keys():
        by_language = catalogue._texts()[key]
        english = _fields(by_language["en"])
        for language, template in by_language.items():
            if _fields(template) != english:
                wrong[f"{key}[{language}]"] = sorted(_fields(template) ^ english)
    assert wrong == {}


@pytest.mark.parametrize("path", AREAS, ids=lambda p: p.stem)
def test_no_key_or_language_is_written_twice_in_an_area(path: Path):
    literal = _texts_literal(path)
    names = _literal_keys(literal)
    assert len(names) == len(set(names)), (
        f"{path.name}: {sorted(n for n in names if names.count(n) > 1)}"
    )
    for key, value in zip(names, literal.values, strict=False):
        if isinstance(value, ast.Dict):
            languages = _literal_keys(value)
            assert len(languages) == len(set(languages)), f"{key} repeats a language"


def test_no_key_is_defined_in_two_areas():
    seen: dict[str, str] = {}
    twice = []
    for path in AREAS:
        for key in _literal_keys(_texts_literal(path)):
            if key in seen:
                twice.append(f"{key}: {seen[key]} and {path.stem}")
            seen[key] = path.stem
    assert twice == []
    assert set(seen) == set(keys())


def test_an_unknown_key_fails():
    with pytest.raises(KeyError, match="no catalogue text"):
        text("moderation.no_such_text", "en")


def test_a_missing_field_fails():
    with pytest.raises(KeyError):
        text("moderation.warned", "de")


def test_the_server_language_picks_the_text_and_unknown_falls_back_to_english():
    assert text("moderation.warned", "de", reason="Spam") == "Du wurdest verwarnt: Spam"
    assert text("moderation.warned", "pt-BR", reason="x").startswith("Você")
    assert text("moderation.warned", "ja", reason="x") == "You have been warned: x"
    assert language_of(None) == "en"
