"""The gateway's side of tiers: it knows each guild's owner and member count, so it keeps them.

* On GUILD_CREATE (a guild becoming available or the bot joining one) the guild's owner (its
  billing account) and member count are stored and the account's limits re-evaluated
  (storage.tiers.record_guild).
* Joins and departures mark the guild; every :data:`FLUSH_SECONDS` the marked guilds' counts are
  written and re-evaluated, so a raid of a thousand joins is a handful of writes.
* The guilds over a members or servers limit are kept in memory (:meth:`TierGuard.paused`):
  their messages earn no XP and start no AI support answer; moderation is untouched. The set is
  reloaded every flush, so a tier changed by the operator (another process) takes effect within
  seconds.
* Notices to the admins (the `tier_notices` table: over or back within a limit, 80 % and 100 % of
  the AI budget, the latter written by the worker) are posted to the mod-log channel, else the
  guild's system channel, and stamped delivered; with neither, they are stamped 'none' and stay
  visible in the usage API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from storage.tiers import (
    mark_delivered,
    over_limit_guilds,
    record_guild,
    undelivered_notices,
)

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0
NOTICE_COLOUR = 0xF1C40F


class TierGuard:
    """Member counts, owners and over-limit state of the guilds this gateway serves."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot
        self._paused: dict[int, str] = {}
        self._dirty: set[int] = set()
        self._delivering = asyncio.Lock()  # a guild's join and the flush loop never post twice

    def paused(self, guild_id: int) -> bool:
        """Whether the guild is over its tier's members or servers limit (XP and AI pause)."""
        return guild_id in self._paused

    async def on_guild(self, guild: discord.Guild) -> None:
        """Store the guild's owner and member count; re-evaluate; post what that changed."""
        async with self.bot.sessions() as session, session.begin():
            changes = await record_guild(
                session, guild.id, owner_id=guild.owner_id, member_count=guild.member_count
            )
        async with self.bot.sessions() as session:
            state = await over_limit_guilds(session, [guild.id])
        if state:
            self._paused[guild.id] = state[guild.id]
        else:
            self._paused.pop(guild.id, None)
        if changes:  # other servers of the owner may have changed too: see them all
            await self.refresh()
        else:
            await self.deliver([guild.id])

    def on_members_changed(self, guild_id: int) -> None:
        """A join or departure: the guild's count is written at the next flush."""
        self._dirty.add(guild_id)

    async def flush(self) -> None:
        """Write the marked guilds' member counts, reload the paused set, post notices."""
        dirty, self._dirty = self._dirty, set()
        for guild_id in dirty:
            guild = self.bot.get_guild(guild_id)
            if guild is None:
                continue
            async with self.bot.sessions() as session, session.begin():
                await record_guild(
                    session, guild_id, owner_id=guild.owner_id, member_count=guild.member_count
                )
        await self.refresh()

    async def refresh(self) -> None:
        """Reload which served guilds are over a limit, then post waiting notices."""
        served = [g.id for g in self.bot.guilds]
        async with self.bot.sessions() as session:
            paused = await over_limit_guilds(session, served)
        for guild_id in paused.keys() - self._paused.keys():
            log.warning(
                "guild %s over its tier's limits (%s): XP and AI paused", guild_id, paused[guild_id]
            )
        for guild_id in self._paused.keys() - paused.keys():
            log.info("guild %s back within its tier's limits", guild_id)
        self._paused = paused
        await self.deliver(served)

    async def deliver(self, guild_ids: list[int]) -> int:
        """Post the waiting notices of these guilds; returns how many were posted."""
        if not guild_ids:
            return 0
        posted = 0
        async with self._delivering:
            async with self.bot.sessions() as session:
                notices = await undelivered_notices(session, guild_ids)
            for notice in notices:
                delivery = await self._post(notice.guild_id, notice.text)
                if delivery is None:
                    continue
                async with self.bot.sessions() as session, session.begin():
                    await mark_delivered(session, notice.guild_id, notice.key, delivery)
                posted += delivery != "none"
        return posted

    async def _post(self, guild_id: int, text: str) -> str | None:
        """Post to the mod-log channel, else the system channel: 'channel:{id}' or 'none'.

        None (try again at the next flush) when Discord failed for another reason than a
        refusal (a 5xx, a rate limit beyond discord.py's retries).
        """
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return "none"
        config = self.bot.guild_config(guild_id)
        candidates = [
            self.bot.get_channel(config.mod_log_channel_id) if config.mod_log_channel_id else None,
            guild.system_channel,
        ]
        embed = discord.Embed(title="Plan limits", description=text, colour=NOTICE_COLOUR)
        for channel in candidates:
            if channel is None or not isinstance(channel, discord.abc.Messageable):
                continue
            try:
                await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
            except (discord.Forbidden, discord.NotFound) as exc:
                log.warning("tier notice for guild %s refused in a channel: %s", guild_id, exc)
                continue
            except discord.HTTPException as exc:
                log.warning("tier notice for guild %s not posted yet: %s", guild_id, exc)
                return None
            return f"channel:{getattr(channel, 'id', 0)}"
        log.warning("guild %s has no channel for its tier notice: %s", guild_id, text)
        return "none"

    async def run(self) -> None:
        """The flush loop (a background task of the bot)."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tier flush failed")
