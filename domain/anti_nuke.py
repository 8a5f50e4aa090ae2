"""Anti-nuke: one actor destroying a server quickly (a compromised admin, a rogue bot).

Pure and clock-free. :class:`NukeWatch` keeps, per server and per actor, the destructive
actions seen within the policy's window (channel and role deletions, bans, kicks, webhook
creations, dangerous permission grants) and returns a :class:`NukeVerdict` once one kind
reaches its threshold. After that the actor stays *tripped* until the window passes without a
further action, and every further action is a verdict too (``first`` False), so late evidence
still reaches the incident. Trusted actors (the owner, the suite's own bot, an allow-list of
users or roles) are never counted.

Memory is bounded: at most ``max_actors`` actors per server (the least recently active go
first) and ``max_actions`` actions per actor; servers beyond ``max_guilds`` are forgotten
least recently used first.

The records of what was deleted (:class:`ChannelRecord`, :class:`RoleRecord`) and
:func:`restore_order` live here too, so the workflow can plan a restore without I/O.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

ActionKind = Literal[
    "channel_delete", "role_delete", "ban", "kick", "webhook_create", "dangerous_grant"
]
KINDS: tuple[ActionKind, ...] = (
    "channel_delete",
    "role_delete",
    "ban",
    "kick",
    "webhook_create",
    "dangerous_grant",
)
Preset = Literal["relaxed", "standard", "strict"]

KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
DANGEROUS_PERMISSIONS = (
    ADMINISTRATOR
    | MANAGE_GUILD
    | MANAGE_ROLES
    | MANAGE_CHANNELS
    | BAN_MEMBERS
    | KICK_MEMBERS
    | MANAGE_WEBHOOKS
)
"""Permissions that let one account wreck a server; granting them counts as destructive."""


def dangerous_added(before: int, after: int) -> int:
    """The dangerous permission bits `after` has that `before` did not."""
    return after & ~before & DANGEROUS_PERMISSIONS


@dataclass(frozen=True)
class Thresholds:
    """How many actions of each kind within the window make a nuke."""

    channel_delete: int = 3
    role_delete: int = 3
    ban: int = 5
    kick: int = 5
    webhook_create: int = 4
    dangerous_grant: int = 3

    def of(self, kind: ActionKind) -> int:
        """The threshold for one kind."""
        value: int = getattr(self, kind)
        return value


PRESETS: dict[Preset, Thresholds] = {
    "relaxed": Thresholds(5, 5, 10, 10, 8, 5),
    "standard": Thresholds(3, 3, 5, 5, 4, 3),
    "strict": Thresholds(2, 2, 3, 3, 2, 2),
}
PRESET_WINDOWS: dict[Preset, int] = {"relaxed": 30, "standard": 60, "strict": 120}
"""Default window seconds per preset (a stricter preset remembers longer)."""


@dataclass(frozen=True)
class NukePolicy:
    """A server's anti-nuke rules, as the watch needs them."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    window: timedelta = timedelta(seconds=60)
    trusted_user_ids: frozenset[int] = frozenset()
    trusted_role_ids: frozenset[int] = frozenset()
    enabled: bool = True


def policy_from_preset(
    preset: Preset,
    *,
    window_seconds: int | None = None,
    overrides: dict[str, int] | None = None,
    trusted_user_ids: frozenset[int] = frozenset(),
    trusted_role_ids: frozenset[int] = frozenset(),
    enabled: bool = True,
) -> NukePolicy:
    """A preset's thresholds and window with a server's overrides applied."""
    base = PRESETS[preset]
    values = {k: base.of(k) for k in KINDS}
    values.update({k: v for k, v in (overrides or {}).items() if k in values})
    seconds = window_seconds if window_seconds is not None else PRESET_WINDOWS[preset]
    return NukePolicy(
        thresholds=Thresholds(**values),
        window=timedelta(seconds=seconds),
        trusted_user_ids=trusted_user_ids,
        trusted_role_ids=trusted_role_ids,
        enabled=enabled,
    )


@dataclass(frozen=True)
class NukeAction:
    """One destructive action as the audit log tells it."""

    guild_id: int
    actor_id: int
    kind: ActionKind
    target_id: int | None
    at: datetime
    detail: str = ""
    """Readable evidence: the channel's name, the permissions granted."""


@dataclass(frozen=True)
class Actor:
    """Who did it, as far as trust is concerned."""

    user_id: int
    role_ids: frozenset[int] = frozenset()
    is_owner: bool = False
    is_self: bool = False
    """The suite's own bot: its restores must never trip the watch."""


@dataclass(frozen=True)
class NukeVerdict:
    """An actor crossed a threshold (or keeps acting after they did)."""

    guild_id: int
    actor_id: int
    kind: ActionKind
    """The kind whose threshold was reached (for a follow-up: the new action's kind)."""
    count: int
    threshold: int
    evidence: tuple[NukeAction, ...]
    """The first verdict: every action of the actor in the window; a follow-up: the new one."""
    first: bool

    def summary(self) -> str:
        """One line for moderators."""
        secs = ""
        if len(self.evidence) > 1:
            span = self.evidence[-1].at - self.evidence[0].at
            secs = f" in {int(span.total_seconds())} s"
        kinds = ", ".join(f"{n} {k}" for k, n in _counts(self.evidence).items())
        return f"<@{self.actor_id}>: {kinds}{secs} (threshold {self.threshold} {self.kind})"


def _counts(actions: tuple[NukeAction, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in actions:
        out[a.kind] = out.get(a.kind, 0) + 1
    return out


def is_trusted(actor: Actor, policy: NukePolicy) -> bool:
    """The owner, the suite itself and the allow-listed users and roles are never counted."""
    return (
        actor.is_owner
        or actor.is_self
        or actor.user_id in policy.trusted_user_ids
        or bool(actor.role_ids & policy.trusted_role_ids)
    )


@dataclass
class _History:
    actions: deque[NukeAction]
    tripped_at: datetime | None = None


class NukeWatch:
    """Sliding windows of destructive actions per server and actor; one asyncio loop owns it."""

    def __init__(
        self, *, max_guilds: int = 10_000, max_actors: int = 256, max_actions: int = 200
    ) -> None:
        self._guilds: OrderedDict[int, OrderedDict[int, _History]] = OrderedDict()
        self._max_guilds = max_guilds
        self._max_actors = max_actors
        self._max_actions = max_actions

    def observe(self, action: NukeAction, actor: Actor, policy: NukePolicy) -> NukeVerdict | None:
        """Count the action; a verdict when its kind reaches the threshold or the actor tripped."""
        if not policy.enabled or is_trusted(actor, policy):
            return None
        history = self._history(action.guild_id, action.actor_id)
        since = action.at - policy.window
        while history.actions and history.actions[0].at < since:
            history.actions.popleft()
        if history.tripped_at is not None and not history.actions:
            history.tripped_at = None  # a quiet window ends the incident
        history.actions.append(action)
        threshold = policy.thresholds.of(action.kind)
        if history.tripped_at is not None:
            return NukeVerdict(
                action.guild_id, action.actor_id, action.kind, 0, threshold, (action,), False
            )
        count = sum(1 for a in history.actions if a.kind == action.kind)
        if count < threshold:
            return None
        history.tripped_at = action.at
        evidence = tuple(history.actions)
        return NukeVerdict(
            action.guild_id, action.actor_id, action.kind, count, threshold, evidence, first=True
        )

    def tripped(self, guild_id: int, actor_id: int) -> bool:
        """Whether the actor is inside an incident right now (for tests and the gateway)."""
        guild = self._guilds.get(guild_id)
        history = guild.get(actor_id) if guild is not None else None
        return history is not None and history.tripped_at is not None

    def forget(self, guild_id: int, actor_id: int) -> None:
        """Drop an actor's history (a false alarm was cleared)."""
        guild = self._guilds.get(guild_id)
        if guild is not None:
            guild.pop(actor_id, None)

    def sizes(self) -> tuple[int, int, int]:
        """(servers, actors, actions) held, to prove the bounds."""
        actors = sum(len(g) for g in self._guilds.values())
        actions = sum(len(h.actions) for g in self._guilds.values() for h in g.values())
        return len(self._guilds), actors, actions

    def _history(self, guild_id: int, actor_id: int) -> _History:
        guild = self._guilds.get(guild_id)
        if guild is None:
            guild = self._guilds[guild_id] = OrderedDict()
            if len(self._guilds) > self._max_guilds:
                self._guilds.popitem(last=False)
        else:
            self._guilds.move_to_end(guild_id)
        history = guild.get(actor_id)
        if history is None:
            history = guild[actor_id] = _History(deque(maxlen=self._max_actions))
            if len(guild) > self._max_actors:
                _evict_one(guild)
        else:
            guild.move_to_end(actor_id)
        return history


def _evict_one(guild: OrderedDict[int, _History]) -> None:
    """Drop the least recently active actor who is not inside an incident."""
    for actor_id, history in guild.items():
        if history.tripped_at is None:
            del guild[actor_id]
            return
    guild.popitem(last=False)


# ---------------------------------------------------------------------------------------------
# What was deleted, and how to put it back
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverwriteRecord:
    """One permission overwrite (type 0 role, 1 member)."""

    target_id: int
    type: int
    allow: int
    deny: int


@dataclass(frozen=True)
class ChannelRecord:
    """A deleted channel as it was (messages are not part of it: they cannot come back)."""

    channel_id: int
    name: str
    type: int
    position: int
    topic: str | None = None
    parent_id: int | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: tuple[OverwriteRecord, ...] = ()


@dataclass(frozen=True)
class RoleRecord:
    """A deleted role as it was."""

    role_id: int
    name: str
    permissions: int
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    position: int = 0


@dataclass(frozen=True)
class Evidence:
    """One destructive action of an incident and, for deletions, the record to restore from."""

    kind: ActionKind
    target_id: int | None
    at: datetime
    detail: str = ""
    channel: ChannelRecord | None = None
    role: RoleRecord | None = None
    granted: int = 0
    """A dangerous grant to a role (`target_id`): the permission bits added."""
    role_given: int | None = None
    """A dangerous role handed to a member (`target_id`): that role."""

    @property
    def key(self) -> str:
        """One per action target, so evidence sent twice is kept once."""
        return f"{self.kind}:{self.target_id}"


CATEGORY = 4


def restore_order(evidence: list[Evidence]) -> tuple[list[RoleRecord], list[ChannelRecord]]:
    """Roles first (channel overwrites name them), lowest first; then categories, then others."""
    roles = sorted(
        (e.role for e in evidence if e.kind == "role_delete" and e.role is not None),
        key=lambda r: r.position,
    )
    channels = [e.channel for e in evidence if e.kind == "channel_delete" and e.channel]
    channels.sort(key=lambda c: (c.type != CATEGORY, c.position))
    return roles, channels


def remap_channel(record: ChannelRecord, new_ids: dict[int, int]) -> ChannelRecord:
    """The channel with restored roles' and categories' new ids in place of the deleted ones."""
    overwrites = tuple(
        OverwriteRecord(new_ids.get(o.target_id, o.target_id), o.type, o.allow, o.deny)
        for o in record.overwrites
    )
    parent = new_ids.get(record.parent_id, record.parent_id) if record.parent_id else None
    return ChannelRecord(
        channel_id=record.channel_id,
        name=record.name,
        type=record.type,
        position=record.position,
        topic=record.topic,
        parent_id=parent,
        nsfw=record.nsfw,
        rate_limit_per_user=record.rate_limit_per_user,
        overwrites=overwrites,
    )
