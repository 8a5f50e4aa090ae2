"""The suite's own words in the server's language (en, es, de, fr, pt).

Each area keeps its texts in its own module (`domain/catalogue/<area>.py`) as
``TEXTS: dict[str, dict[str, str]]``: key -> language -> a ``str.format`` template. `text` picks
the server's language, falls back to English for a language it lacks, and fails loudly for an
unknown key or a template field nobody filled, so a typo never reaches a member.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

LANGUAGES = ("en", "es", "de", "fr", "pt")
DEFAULT = "en"


@cache
def _texts() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, by_language in getattr(module, "TEXTS", {}).items():
            if key in merged:
                raise RuntimeError(f"catalogue key {key!r} is defined twice")
            if DEFAULT not in by_language:
                raise RuntimeError(f"catalogue key {key!r} has no English text")
            merged[key] = by_language
    return merged


def language_of(code: str | None) -> str:
    """The catalogue language for a server or member language code ('pt-BR' -> 'pt')."""
    base = (code or DEFAULT).split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT


def keys() -> frozenset[str]:
    """Every key in the catalogue (for tests and tools)."""
    return frozenset(_texts())


def text(key: str, language: str | None = None, **fields: Any) -> str:
    """The text for `key` in `language` (English when missing), filled with `fields`."""
    try:
        by_language = _texts()[key]
    except KeyError:
        raise KeyError(f"no catalogue text {key!r}") from None
    template = by_language.get(language_of(language)) or by_language[DEFAULT]
    return template.format(**fields)
