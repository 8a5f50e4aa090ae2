"""Who invited whom: keep each guild's invite use counts, diff them when a member joins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import KeysView

import discord

from domain.invites import used_invite

log = logging.getLogger(__name__)


class InviteTracker:
    """Per-guild snapshot of invite uses; needs Manage Server (else tracking is off there)."""

    def __init__(self) -> None:
        self._uses: dict[int, dict[str, int]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def codes(self, guild_id: int) -> KeysView[str]:
        """The guild's current invite codes (a live view; automod allows links to them)."""
        return self._uses.get(guild_id, {}).keys()

    def tracks(self, guild_id: int) -> bool:
        """Whether joins in this guild can be attributed (a snapshot exists)."""
        return guild_id in self._uses

    async def load(self, guild: discord.Guild) -> None:
        """Take the first snapshot (GUILD_CREATE)."""
        snapshot = await self._fetch(guild)
        if snapshot is not None:
            self._store(guild.id, snapshot)

    def on_create(self, invite: discord.Invite) -> None:
        """A new invite starts at its current uses."""
        if invite.guild is None or invite.guild.id not in self._uses:
            return
        self._uses[invite.guild.id][invite.code] = invite.uses or 0

    async def inviter_of_join(self, guild: discord.Guild) -> int | None:
        """Re-read the invites and return the inviter of the code that just gained a use."""
        _code, inviter = await self.used_by_join(guild)
        return inviter

    async def used_by_join(self, guild: discord.Guild) -> tuple[str | None, int | None]:
        """The invite code that just gained a use, and its inviter (None, None if unknown)."""
        if not self.tracks(guild.id):
            return None, None
        async with self._locks.setdefault(guild.id, asyncio.Lock()):
            snapshot = await self._fetch(guild)
            if snapshot is None:
                return None, None
            before = self._uses[guild.id]
            code = used_invite(before, {c: u for c, (u, _) in snapshot.items()})
            self._store(guild.id, snapshot)
        return (code, snapshot[code][1]) if code is not None else (None, None)

    async def _fetch(self, guild: discord.Guild) -> dict[str, tuple[int, int | None]] | None:
        try:
            invites = await guild.invites()
        except discord.Forbidden:
            log.info("no Manage Server in guild %s: invite tracking off there", guild.id)
            return None
        except discord.HTTPException:
            log.warning("could not read invites of guild %s", guild.id)
            return None
        return {i.code: (i.uses or 0, i.inviter.id if i.inviter else None) for i in invites}

    def _store(self, guild_id: int, snapshot: dict[str, tuple[int, int | None]]) -> None:
        self._uses[guild_id] = {c: u for c, (u, _) in snapshot.items()}
