"""Which invite a new member used: the one whose use count went up since the last look."""

from __future__ import annotations

from collections.abc import Mapping


def used_invite(before: Mapping[str, int], after: Mapping[str, int]) -> str | None:
    """The single code whose uses grew by exactly one, or None when it cannot be told.

    A code that appears only in `after` with one use counts as grown from zero (created and
    used between two looks). Two codes growing at once (joins racing) is ambiguous: None.
    """
    grown = [code for code, uses in after.items() if uses - before.get(code, 0) == 1]
    grew_more = any(uses - before.get(code, 0) > 1 for code, uses in after.items())
    if len(grown) != 1 or grew_more:
        return None
    return grown[0]
