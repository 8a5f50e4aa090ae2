"""Keep one malformed gateway payload from taking the whole connection down.

discord.py parses each dispatch with a `parse_*` method; an exception there escapes its
read loop and ends the client. We wrap every parser so a payload with missing or mistyped
fields is dropped, logged and counted, and the next event is handled as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord

log = logging.getLogger(__name__)

Parser = Callable[[Any], None]
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class PayloadGuard:
    """Wraps a client's gateway parsers in place; `dropped` counts refused payloads per event."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}

    def install(self, client: discord.Client) -> None:
        """Replace each parser with a guarded one (the gateway reads this same dict)."""
        parsers: dict[str, Parser] = client._connection.parsers
        for event, parser in list(parsers.items()):
            parsers[event] = self._guarded(event, parser)

    def _guarded(self, event: str, parser: Parser) -> Parser:
        def parse(data: Any) -> None:
            try:
                parser(data)
            except _MALFORMED as exc:
                self.dropped[event] = self.dropped.get(event, 0) + 1
                log.warning("dropped malformed %s payload: %s: %s", event, type(exc).__name__, exc)

        return parse
