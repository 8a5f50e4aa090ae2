"""Simulator configuration and the declarative description of the seed world."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .intents import PRIVILEGED_INTENTS
from .permissions import BOT_DEFAULT, DEFAULT_EVERYONE, MODERATOR, Perm


@dataclass(frozen=True)
class RoleSpec:
    """A seed role; list order in ``SeedSpec.roles`` is hierarchy order, lowest first."""

    name: str
    permissions: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False


@dataclass(frozen=True)
class ChannelSpec:
    """A seed channel; ``kind`` is text, voice, announcement, forum or stage."""

    name: str
    kind: str = "text"
    topic: str | None = None
    category: str | None = None
    private_to: tuple[str, ...] = ()
    slowmode: int = 0


@dataclass(frozen=True)
class MemberSpec:
    """A seed guild member; ages are relative to simulator start."""

    username: str
    global_name: str | None = None
    roles: tuple[str, ...] = ()
    account_age: timedelta = timedelta(days=730)
    joined_ago: timedelta = timedelta(days=365)
    bot: bool = False
    avatar: str | None = None
    dms_open: bool = True


def _default_roles() -> list[RoleSpec]:
    return [
        RoleSpec("Muted", 0, color=0x607D8B),
        RoleSpec("Member", 0, color=0x2ECC71),
        RoleSpec("Moderator", int(MODERATOR), color=0x3498DB, hoist=True, mentionable=True),
    ]


def _default_channels() -> list[ChannelSpec]:
    return [
        ChannelSpec("welcome", topic="Say hi!", category="Community"),
        ChannelSpec("general", topic="General chat", category="Community"),
        ChannelSpec("support", topic="Ask for help here", category="Community"),
        ChannelSpec("mod-log", topic="Moderation log", category="Staff", private_to=("Moderator",)),
        ChannelSpec("events", topic="Community events", category="Community"),
        ChannelSpec("lounge", kind="voice", category="Community"),
    ]


def _default_members() -> list[MemberSpec]:
    return [
        MemberSpec("owner", "Olivia Owner", account_age=timedelta(days=2000)),
        MemberSpec("moderator", "Max Moderator", roles=("Moderator", "Member")),
        MemberSpec("alice", "Alice", roles=("Member",)),
        MemberSpec("bob", "Bob", roles=("Member",), account_age=timedelta(days=400)),
        MemberSpec("carol", "Carol", roles=("Member",), joined_ago=timedelta(days=30)),
    ]


@dataclass
class SeedSpec:
    """What the sandbox world contains when the simulator starts."""

    guild_name: str = "Sandbox Community"
    bot_username: str = "community-suite"
    bot_global_name: str = "Community Suite"
    bot_permissions: int = int(BOT_DEFAULT)
    everyone_permissions: int = int(DEFAULT_EVERYONE)
    owner: str = "owner"
    roles: list[RoleSpec] = field(default_factory=_default_roles)
    channels: list[ChannelSpec] = field(default_factory=_default_channels)
    members: list[MemberSpec] = field(default_factory=_default_members)
    muted_role: str | None = "Muted"
    system_channel: str | None = "welcome"
    rules_channel: str | None = "welcome"
    safety_alerts_channel: str | None = "mod-log"
    invites: tuple[str, ...] = ("welcome",)


@dataclass
class RateLimitConfig:
    """Per-route bucket model; ``routes`` overrides by ``"METHOD /template"`` key."""

    limit: int = 10_000
    window: float = 1.0
    routes: dict[str, tuple[int, float]] = field(default_factory=dict)
    enforce: bool = True


@dataclass
class SimulatorConfig:
    """Everything that shapes one simulator instance."""

    seed: SeedSpec = field(default_factory=SeedSpec)
    token: str | None = None
    heartbeat_interval_ms: int = 41_250
    heartbeat_timeout_factor: float = 2.0
    ratelimits: RateLimitConfig = field(default_factory=RateLimitConfig)
    privileged_intents: int = int(PRIVILEGED_INTENTS)
    interaction_ack_timeout: float | None = 3.0
    enforce_permissions: bool = True
    enforce_member_restrictions: bool = True
    resume_window: float = 300.0
    replay_buffer: int = 10_000
    gateway_compression: bool = False
    max_recorded_requests: int = 100_000
    seed_anchor: datetime | None = None
    """Fixed instant the seed world is dated from: the same ids on every start (sandbox mode)."""
    recommended_shards: int | None = None
    """``shards`` in ``GET /gateway/bot``; None: one per 1,000 of the bot's guilds, like Discord."""


MUTED_DENY = int(
    Perm.SEND_MESSAGES
    | Perm.ADD_REACTIONS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.CREATE_PRIVATE_THREADS
    | Perm.SPEAK
)
