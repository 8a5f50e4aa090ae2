"""JSON Merge Patch (RFC 7396): apply a partial document onto a JSON value."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """The result of applying `patch` to `target`, neither of them changed.

    An object patch merges key by key: a null value removes the key, an object value is merged
    recursively, anything else (a list, a string, a number) replaces the target's value whole.
    A patch that is not an object replaces the target.
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level keys whose value differs between two objects (added, removed or changed)."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
