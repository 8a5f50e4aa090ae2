"""The servers' XP settings (curve, level cap) cached in the API process for the leaderboard.

Every leaderboard page needs the server's curve to turn XP into levels; reading and validating the
stored config on every request cost a query and a parse (the defaults alone are ~0.1 ms). The
cache keeps each server's parsed `XPConfig` with the config version it came from for
XP_SETTINGS_CACHE_SECONDS. After that the config row is read again, and parsed again only when
its version changed.

**Staleness bound:** a config change committed by another process (the bot's `/config`, another
API worker or replica) shows on this process's leaderboard at most XP_SETTINGS_CACHE_SECONDS
later. One stored through `storage.servers.put_server_config` in this process (the API's
`PUT /config`) empties the cache when it is flushed and again when its transaction commits, and a
read that raced it is not stored (a generation counter), as for the token cache.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dcs.server_config import XPConfig, default_server_config, parse_server_config
from storage.models import ServerConfigHistory
from storage.servers import get_server_config

XP_SETTINGS_CACHE_SECONDS = 5.0
XP_SETTINGS_CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    xp: XPConfig
    version: int
    fresh_until: float  # time.monotonic() after which the row is read again


class XPSettingsCache:
    """Parsed XP settings by server id, trusted for `ttl` seconds, re-parsed on a new version."""

    def __init__(
        self,
        ttl: float = XP_SETTINGS_CACHE_SECONDS,
        max_entries: int = XP_SETTINGS_CACHE_MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[int, _Entry] = {}
        _CACHES.add(self)

    async def get(self, session: AsyncSession, server_id: int) -> XPConfig:
        """The server's XP section (defaults when never configured), read at most once per TTL."""
        entry = self._entries.get(server_id)
        if entry is not None and entry.fresh_until > time.monotonic():
            return entry.xp
        generation = self.generation
        raw, version = await get_server_config(session, server_id)
        if entry is not None and entry.version == version:
            xp = entry.xp  # the same stored version: no need to validate it again
        else:
            xp = (parse_server_config(raw) if raw is not None else default_server_config()).xp
        if self.ttl > 0 and generation == self.generation:
            if server_id not in self._entries and len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest entry: stay bounded
            self._entries[server_id] = _Entry(xp, version, time.monotonic() + self.ttl)
        return xp

    def clear(self) -> None:
        """Forget every server (a config changed) and fail reads already in flight."""
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[XPSettingsCache] = weakref.WeakSet()


def invalidate_xp_settings_caches() -> None:
    """Empty every XP settings cache of this process."""
    for cache in list(_CACHES):
        cache.clear()


_TOUCHED = "dcs_api_server_config_changed"


@event.listens_for(Session, "after_flush")
def _note_config_changes(session: Session, _context: Any) -> None:
    """`put_server_config` adds a history row with every new version: empty the caches now..."""
    if any(isinstance(obj, ServerConfigHistory) for obj in session.new):
        session.info[_TOUCHED] = True
        invalidate_xp_settings_caches()


@event.listens_for(Session, "after_commit")
def _drop_cached_configs(session: Session) -> None:
    """...and once the new version is visible to other transactions."""
    if session.info.pop(_TOUCHED, False):
        invalidate_xp_settings_caches()


@event.listens_for(Session, "after_rollback")
def _forget_config_changes(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
