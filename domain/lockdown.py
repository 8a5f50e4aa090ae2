"""Raid lockdown, pure: which channels to lock, how, and how to put everything back exactly.

The lockdown workflow first takes a :class:`GuildSnapshot` (read-only, recorded in history),
then applies the changes this module derives from it. Because the snapshot is taken before
anything changes and never again, a retried or resumed lockdown can never mistake its own
locked state for the original one, and the lift restores what the snapshot says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, TypeVar

SEND_MESSAGES = 1 << 11
ADD_REACTIONS = 1 << 6
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
VIEW_CHANNEL = 1 << 10
ADMINISTRATOR = 1 << 3
LOCK_BITS = (
    SEND_MESSAGES
    | ADD_REACTIONS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)
"""What a locked channel denies @everyone: posting, reacting and opening threads."""

LOCKABLE_TYPES = frozenset({0, 5, 15, 16})
"""Text, announcement, forum and media channels (voice and stage keep their own rules)."""
BULK_BAN_LIMIT = 200
"""Discord's bulk ban takes at most 200 users a call."""
INVITE_PAUSE = timedelta(hours=24)
"""Discord pauses invites for at most 24 hours a call; a longer lockdown renews it."""
MIN_INVITE_SHARE = 0.5
MIN_INVITE_JOINS = 3

T = TypeVar("T")
Trigger = Literal["detected", "manual", "api"]
RemovalAction = Literal["ban", "kick", "timeout"]


@dataclass(frozen=True)
class LockdownSettings:
    """The server's lockdown config as plain values (from `raid.lockdown`)."""

    channel_ids: tuple[int, ...] = ()
    exclude_channel_ids: tuple[int, ...] = ()
    verification_level: int = 3
    pause_invites: bool = True
    slowmode_seconds: int = 0
    quiet_minutes: int = 30
    reminder_minutes: int = 60
    propose_removal: bool = True
    removal_action: Literal["ban", "kick"] = "ban"
    delete_message_hours: int = 1
    approval_timeout_minutes: int = 24 * 60
    mod_log_channel_id: int | None = None


@dataclass(frozen=True)
class Overwrite:
    """A permission overwrite's allow and deny bits."""

    allow: int
    deny: int


@dataclass(frozen=True)
class ChannelInfo:
    """A guild channel as Discord lists it, reduced to what locking needs."""

    channel_id: int
    name: str
    type: int
    everyone: Overwrite | None
    """The channel's own overwrite for @everyone (the role whose id is the guild's)."""
    slowmode_seconds: int = 0


@dataclass(frozen=True)
class ChannelSnapshot:
    """A locked channel as it was before: restored exactly at the lift."""

    channel_id: int
    name: str
    everyone: Overwrite | None
    slowmode_seconds: int


@dataclass(frozen=True)
class GuildSnapshot:
    """The server before the lockdown: everything the lift puts back."""

    guild_id: int
    verification_level: int
    invites_disabled_until: datetime | None
    channels: tuple[ChannelSnapshot, ...]


@dataclass(frozen=True)
class ChannelLock:
    """What to set on one channel to lock it."""

    channel_id: int
    everyone: Overwrite
    slowmode_seconds: int | None
    """None: leave slowmode as it is."""


@dataclass(frozen=True)
class LockdownPlan:
    """Every change the lockdown makes, derived from the snapshot alone."""

    verification_level: int | None
    """None: already at least as strict."""
    pause_invites: bool
    channels: tuple[ChannelLock, ...]


@dataclass(frozen=True)
class RaidSuspect:
    """A member the gateway suspects of raiding, with what it saw of them."""

    user_id: int
    score: int
    reasons: tuple[str, ...]
    username: str | None = None
    joined_at: datetime | None = None
    account_created_at: datetime | None = None
    invite_code: str | None = None


@dataclass(frozen=True)
class RaidReport:
    """Raid activity for the lockdown: new suspects, or just that it goes on (resets quiet)."""

    at: datetime
    suspects: tuple[RaidSuspect, ...] = ()
    reasons: tuple[str, ...] = ()
    left_user_ids: tuple[int, ...] = ()
    """Suspects who left the server (nothing to remove any more)."""


@dataclass(frozen=True)
class UnlockRequest:
    """A person (or the API) ends the lockdown."""

    by: str
    reason: str = ""


@dataclass
class SuspectBook:
    """Suspects of one lockdown: who is pending a decision, proposed, removed or gone."""

    suspects: dict[int, RaidSuspect] = field(default_factory=dict)
    unproposed: list[int] = field(default_factory=list)
    left: set[int] = field(default_factory=set)
    handled: set[int] = field(default_factory=set)

    def add(self, suspect: RaidSuspect) -> bool:
        """Record a suspect; True when new (a repeat keeps the richer record)."""
        known = self.suspects.get(suspect.user_id)
        if known is not None:
            if suspect.invite_code and not known.invite_code:
                self.suspects[suspect.user_id] = replace(known, invite_code=suspect.invite_code)
            return False
        self.suspects[suspect.user_id] = suspect
        if suspect.user_id not in self.handled:
            self.unproposed.append(suspect.user_id)
        return True

    def mark_left(self, user_id: int) -> bool:
        """A suspect left: never propose or act on them. True when this is news."""
        if user_id not in self.suspects or user_id in self.left:
            return False
        self.left.add(user_id)
        return True

    def take_proposal(self) -> tuple[int, ...]:
        """The suspects still present and not yet proposed, now put up for a decision."""
        ids = tuple(u for u in self.unproposed if u not in self.left and u not in self.handled)
        self.handled.update(ids)
        self.unproposed = []
        return ids


def lockable(channel: ChannelInfo, everyone_permissions: int) -> bool:
    """Whether @everyone can post in the channel now (then locking it changes something)."""
    if channel.type not in LOCKABLE_TYPES:
        return False
    perms = everyone_permissions
    if perms & ADMINISTRATOR:
        return True
    if channel.everyone is not None:
        perms = (perms & ~channel.everyone.deny) | channel.everyone.allow
    return bool(perms & VIEW_CHANNEL) and bool(perms & SEND_MESSAGES)


def choose_channels(
    channels: Iterable[ChannelInfo], everyone_permissions: int, settings: LockdownSettings
) -> tuple[ChannelInfo, ...]:
    """The channels to lock: the configured ones, else every channel @everyone can post in."""
    excluded = set(settings.exclude_channel_ids)
    if settings.mod_log_channel_id is not None:
        excluded.add(settings.mod_log_channel_id)
    if settings.channel_ids:
        wanted = set(settings.channel_ids)
        chosen = [c for c in channels if c.channel_id in wanted and c.type in LOCKABLE_TYPES]
    else:
        chosen = [c for c in channels if lockable(c, everyone_permissions)]
    return tuple(c for c in chosen if c.channel_id not in excluded)


def snapshot_of(channel: ChannelInfo) -> ChannelSnapshot:
    """What to remember of a channel before locking it."""
    return ChannelSnapshot(
        channel.channel_id, channel.name, channel.everyone, channel.slowmode_seconds
    )


def locked(before: Overwrite | None) -> Overwrite:
    """@everyone's overwrite with posting denied; every other bit kept as it was."""
    if before is None:
        return Overwrite(0, LOCK_BITS)
    return Overwrite(before.allow & ~LOCK_BITS, before.deny | LOCK_BITS)


def plan_lockdown(snapshot: GuildSnapshot, settings: LockdownSettings) -> LockdownPlan:
    """The changes that lock the server down, from its snapshot."""
    level = settings.verification_level
    raise_to = level if level > snapshot.verification_level else None
    slow = settings.slowmode_seconds
    locks = tuple(
        ChannelLock(
            c.channel_id,
            locked(c.everyone),
            slow if slow > c.slowmode_seconds else None,
        )
        for c in snapshot.channels
    )
    return LockdownPlan(raise_to, settings.pause_invites, locks)


def invites_restore_value(snapshot: GuildSnapshot, now: datetime) -> datetime | None:
    """At the lift, invites stay paused only if they were paused before and still would be."""
    until = snapshot.invites_disabled_until
    return until if until is not None and until > now else None


def batches(items: Sequence[T], size: int = BULK_BAN_LIMIT) -> Iterator[tuple[T, ...]]:
    """Items in groups of at most `size` (Discord's bulk ban takes 200 ids a call)."""
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


def dominant_invite(suspects: Iterable[RaidSuspect]) -> str | None:
    """The invite most raiders came through, if it brought at least half of them (and 3)."""
    codes = [s.invite_code for s in suspects]
    known = Counter(c for c in codes if c)
    if not known:
        return None
    code, count = known.most_common(1)[0]
    if count < MIN_INVITE_JOINS or count < MIN_INVITE_SHARE * len(codes):
        return None
    return code


def lift_due(last_activity: datetime, settings: LockdownSettings) -> datetime:
    """When a quiet lockdown lifts itself."""
    return last_activity + timedelta(minutes=settings.quiet_minutes)


def removal_summary(action: str, count: int) -> str:
    """'ban 37 accounts that joined during the raid'."""
    noun = "account" if count == 1 else "accounts"
    return f"{action} {count} {noun} that joined during the raid"
