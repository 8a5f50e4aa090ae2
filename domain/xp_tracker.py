"""In-process XP state for the fast path: cooldowns, known totals and write-behind deltas.

A message must earn its XP in microseconds, so the gateway keeps per (guild, member):
when XP was last awarded per source (for the cooldown), the total as last read from the
database, and the XP not yet written. A periodic flush hands the pending deltas over with
:meth:`XPTracker.drain` for one batched write, then calls :meth:`XPTracker.confirm` per
member with the database's new total, or :meth:`XPTracker.restore` if the write failed,
so nothing is lost. One flush at a time; not thread-safe (one asyncio loop owns it).

Drained XP is folded into the known total straight away, so levels stay right while the
write is in flight; ``restore`` takes it back out. Pending XP may be negative (an admin's
:meth:`XPTracker.adjust` before the total is known): the store should clamp totals at 0.

Memory is bounded per guild: beyond ``max_members_per_guild`` the least recently active
members without pending XP are forgotten (oldest first; recency is the last award or
flush). Members with pending XP are never forgotten, so between flushes a guild can hold
more than the cap; a flush brings it back under. A forgotten member's cooldown is lost too,
which only matters if the cap is smaller than the members active within one cooldown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from domain.leveling import CompiledLeveling, LevelingRules, compile_leveling, level_for_xp

Source = Literal["message", "voice"]
DEFAULT_MAX_MEMBERS_PER_GUILD = 100_000
_COMPILED_CACHE_SIZE = 1_024
"""Distinct rule objects remembered; the gateway keeps one per guild and config version."""


@dataclass(frozen=True, slots=True)
class XPAward:
    """XP a member just earned; totals and levels are None until the stored total is known."""

    guild_id: int
    user_id: int
    gained: int
    total_before: int | None
    total_after: int | None
    level_before: int | None
    level_after: int | None
    leveled_up: bool


@dataclass(frozen=True, slots=True)
class XPDelta:
    """What one member's batched write adds; ``reset`` means zero the XP before adding.

    ``last_active`` is None when only an admin changed the XP (keep the stored one).
    """

    guild_id: int
    user_id: int
    xp: int
    messages: int = 0
    voice_minutes: int = 0
    last_active: datetime | None = None
    reset: bool = False


class _Member:
    """Mutable per-member state; the pending fields are what the next flush writes."""

    __slots__ = (
        "known_total",
        "last_active",
        "last_message",
        "last_voice",
        "messages",
        "pending",
        "reset",
        "voice_minutes",
        "xp",
    )

    def __init__(self) -> None:
        self.last_message: datetime | None = None
        self.last_voice: datetime | None = None
        self.known_total: int | None = None
        self.pending = False
        self.xp = 0
        self.messages = 0
        self.voice_minutes = 0
        self.last_active: datetime | None = None
        self.reset = False

    def total(self) -> int | None:
        """Stored total plus pending XP; after a pending reset, only the pending XP counts."""
        if self.reset:
            return self.xp
        known = self.known_total
        return None if known is None else known + self.xp

    def earn(self, gained: int, now: datetime, *, voice: bool) -> None:
        """Add an award to the pending delta and start that source's cooldown."""
        self.xp += gained
        if voice:
            self.voice_minutes += 1
            self.last_voice = now
        else:
            self.messages += 1
            self.last_message = now
        self.last_active = now

    def clear_pending(self) -> None:
        """Forget the pending delta once it has been handed over."""
        self.pending = False
        self.xp = self.messages = self.voice_minutes = 0
        self.last_active = None
        self.reset = False


class _Guild:
    """One guild's members: all of them, the idle ones in LRU order, the pending ones."""

    __slots__ = ("idle", "members", "pending")

    def __init__(self) -> None:
        self.members: dict[int, _Member] = {}
        self.idle: OrderedDict[int, None] = OrderedDict()
        self.pending: dict[int, _Member] = {}


def _latest(first: datetime | None, second: datetime | None) -> datetime | None:
    """The later of two optional times."""
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


class XPTracker:
    """Cooldowns, known totals and pending XP of every active member, in bounded memory."""

    __slots__ = ("_compiled", "_guilds", "_max_members", "_pending")

    def __init__(self, max_members_per_guild: int = DEFAULT_MAX_MEMBERS_PER_GUILD) -> None:
        if max_members_per_guild < 1:
            raise ValueError("max_members_per_guild must be at least 1")
        self._max_members = max_members_per_guild
        self._guilds: dict[int, _Guild] = {}
        self._compiled: dict[int, CompiledLeveling] = {}
        self._pending = 0

    def award(
        self,
        rules: LevelingRules,
        *,
        guild_id: int,
        user_id: int,
        channel_id: int,
        role_ids: Collection[int],
        now: datetime,
        roll: float,
        source: Source = "message",
    ) -> XPAward | None:
        """XP for one message (or voice minute), or None on cooldown or when it earns nothing.

        The cooldown runs per source from the last award: exactly ``cooldown_seconds``
        later the member earns again. Messages that earn nothing do not start a cooldown.
        """
        compiled = self._compile(rules)
        voice = source == "voice"
        if not voice and source != "message":
            raise ValueError(f"unknown XP source {source!r}")
        guild = self._guilds.get(guild_id)
        member = None if guild is None else guild.members.get(user_id)
        if member is not None:
            last = member.last_voice if voice else member.last_message
            cooldown = compiled.voice_cooldown if voice else compiled.message_cooldown
            if last is not None and now - last < cooldown:
                return None
        if voice and not rules.voice.enabled:
            return None
        gained = compiled.gain(channel_id=channel_id, role_ids=role_ids, roll=roll, voice=voice)
        if gained <= 0:
            return None
        if guild is None or member is None:
            guild, member = self._admit(guild_id, user_id)
        before = member.total()
        self._mark_pending(guild, user_id, member)
        member.earn(gained, now, voice=voice)
        return _award(rules, guild_id, user_id, gained, before)

    def level_change(self, rules: LevelingRules, award: XPAward) -> XPAward:
        """Fill in an award's totals and levels once the stored total is known.

        Measured against the member's total now, so XP earned since the award counts as
        earned before it; the award comes back unchanged while the total is still unknown.
        """
        total = self.total(award.guild_id, award.user_id)
        if total is None:
            return award
        return _award(rules, award.guild_id, award.user_id, award.gained, total - award.gained)

    def total(self, guild_id: int, user_id: int) -> int | None:
        """A member's XP including what is not written yet, or None while unknown."""
        member = self._find(guild_id, user_id)
        return None if member is None else member.total()

    def pending_xp(self, guild_id: int, user_id: int) -> int:
        """XP awarded in memory and not yet written (after a pending reset: since the reset)."""
        member = self._find(guild_id, user_id)
        return 0 if member is None else member.xp

    def set_known_total(self, guild_id: int, user_id: int, stored_total: int) -> None:
        """Remember the database's total for a member (pending XP not included)."""
        _, member = self._get_or_admit(guild_id, user_id)
        member.known_total = stored_total
        if not member.reset and stored_total + member.xp < 0:
            member.xp = -stored_total  # a negative adjustment can't take the total below 0

    def confirm(self, guild_id: int, user_id: int, stored_total: int) -> None:
        """After a successful write: the database's new total (also picks up edits elsewhere)."""
        self.set_known_total(guild_id, user_id, stored_total)

    def drain(self) -> list[XPDelta]:
        """Hand every pending delta over for one batched write, and clear them."""
        deltas: list[XPDelta] = []
        for guild_id, guild in self._guilds.items():
            if not guild.pending:
                continue
            for user_id, member in guild.pending.items():
                deltas.append(
                    XPDelta(
                        guild_id,
                        user_id,
                        member.xp,
                        member.messages,
                        member.voice_minutes,
                        member.last_active,
                        member.reset,
                    )
                )
                member.known_total = member.total()  # optimistic until confirm or restore
                member.clear_pending()
                guild.idle[user_id] = None
            guild.pending = {}
            self._evict(guild, room=0)
        self._pending = 0
        return deltas

    def restore(self, deltas: Iterable[XPDelta]) -> None:
        """Put drained deltas back after a failed write, merged with what came since."""
        for delta in deltas:
            guild, member = self._get_or_admit(delta.guild_id, delta.user_id)
            if not delta.reset and member.known_total is not None:
                member.known_total -= delta.xp  # undo drain's optimistic fold
            if member.reset:
                pass  # a reset made since the drain wipes the delta's XP
            elif delta.reset:
                member.reset = True
                member.xp += delta.xp
            else:
                member.xp += delta.xp
            member.messages += delta.messages
            member.voice_minutes += delta.voice_minutes
            member.last_active = _latest(member.last_active, delta.last_active)
            self._mark_pending(guild, delta.user_id, member)

    def pending_count(self) -> int:
        """Members with XP waiting to be written."""
        return self._pending

    def tracked_count(self, guild_id: int | None = None) -> int:
        """Members held in memory, in one guild or in all."""
        if guild_id is not None:
            guild = self._guilds.get(guild_id)
            return 0 if guild is None else len(guild.members)
        return sum(len(guild.members) for guild in self._guilds.values())

    def adjust(self, guild_id: int, user_id: int, delta: int) -> int | None:
        """Admin change of a member's XP (never below 0 once known); the new total or None."""
        guild, member = self._get_or_admit(guild_id, user_id)
        total = member.total()
        if total is not None:
            delta = max(delta, -total)
        self._mark_pending(guild, user_id, member)
        member.xp += delta
        return None if total is None else total + delta

    def reset(self, guild_id: int, user_id: int) -> None:
        """Admin reset of a member's XP to 0 (message and voice counts are kept)."""
        guild, member = self._get_or_admit(guild_id, user_id)
        self._mark_pending(guild, user_id, member)
        member.reset = True
        member.xp = 0

    def _compile(self, rules: LevelingRules) -> CompiledLeveling:
        """Compiled rules, cached by identity (the gateway reuses one object per config)."""
        compiled = self._compiled.get(id(rules))
        if compiled is not None and compiled.rules is rules:
            return compiled
        if len(self._compiled) >= _COMPILED_CACHE_SIZE:
            self._compiled.clear()
        compiled = self._compiled[id(rules)] = compile_leveling(rules)
        return compiled

    def _find(self, guild_id: int, user_id: int) -> _Member | None:
        """A tracked member, or None."""
        guild = self._guilds.get(guild_id)
        return None if guild is None else guild.members.get(user_id)

    def _get_or_admit(self, guild_id: int, user_id: int) -> tuple[_Guild, _Member]:
        """A member's state, tracking them (as idle, most recent) if they were not yet."""
        guild = self._guilds.get(guild_id)
        member = None if guild is None else guild.members.get(user_id)
        if guild is not None and member is not None:
            return guild, member
        guild, member = self._admit(guild_id, user_id)
        guild.idle[user_id] = None
        return guild, member

    def _admit(self, guild_id: int, user_id: int) -> tuple[_Guild, _Member]:
        """Start tracking a member, first making room under the cap; the caller files it."""
        guild = self._guilds.get(guild_id)
        if guild is None:
            guild = self._guilds[guild_id] = _Guild()
        self._evict(guild, room=1)
        member = guild.members[user_id] = _Member()
        return guild, member

    def _mark_pending(self, guild: _Guild, user_id: int, member: _Member) -> None:
        """File a member as having pending XP, which protects them from eviction."""
        if not member.pending:
            member.pending = True
            guild.idle.pop(user_id, None)
            guild.pending[user_id] = member
            self._pending += 1

    def _evict(self, guild: _Guild, *, room: int) -> None:
        """Forget least recently active idle members until ``room`` more fit under the cap."""
        limit = self._max_members - room
        members, idle = guild.members, guild.idle
        while len(members) > limit and idle:
            user_id, _ = idle.popitem(last=False)
            del members[user_id]


def _award(
    rules: LevelingRules, guild_id: int, user_id: int, gained: int, before: int | None
) -> XPAward:
    """An award with totals and levels filled in when the total before it is known."""
    if before is None:
        return XPAward(guild_id, user_id, gained, None, None, None, None, leveled_up=False)
    after = before + gained
    curve, base, cap = rules.curve, rules.curve_base, rules.max_level
    level_before = level_for_xp(curve, max(0, before), base=base, max_level=cap)
    level_after = level_for_xp(curve, max(0, after), base=base, max_level=cap)
    return XPAward(
        guild_id,
        user_id,
        gained,
        before,
        after,
        level_before,
        level_after,
        level_after > level_before,
    )
