"""In-memory records of the simulated Discord world (users, guilds, channels, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class ChannelType(IntEnum):
    """Discord channel types used by the simulator."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_FORUM = 15


THREAD_TYPES = frozenset(
    {ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}
)
MESSAGEABLE_TYPES = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.DM,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_STAGE_VOICE,
    }
    | THREAD_TYPES
)


@dataclass
class User:
    """A Discord account (human or bot)."""

    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False
    system: bool = False
    public_flags: int = 0
    dms_open: bool = True


@dataclass
class Member:
    """A user's membership in a guild."""

    user_id: int
    guild_id: int
    joined_at: datetime
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    avatar: str | None = None
    communication_disabled_until: datetime | None = None
    pending: bool = False
    flags: int = 0
    premium_since: datetime | None = None
    deaf: bool = False
    mute: bool = False


@dataclass
class Role:
    """A guild role; ``position`` orders the hierarchy (0 = @everyone)."""

    id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None
    flags: int = 0


@dataclass
class Overwrite:
    """A channel permission overwrite (type 0 = role, 1 = member)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    """Any channel: guild text/voice/category/forum, thread or DM."""

    id: int
    type: ChannelType
    guild_id: int | None = None
    name: str | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    last_message_id: int | None = None
    recipient_ids: list[int] = field(default_factory=list)
    bitrate: int = 64000
    user_limit: int = 0
    flags: int = 0
    # thread-only fields
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: datetime | None = None
    created_at: datetime | None = None
    thread_members: dict[int, datetime] = field(default_factory=dict)
    message_count: int = 0
    total_message_sent: int = 0

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread."""
        return self.type in THREAD_TYPES


@dataclass
class Reaction:
    """One emoji's reactions on a message."""

    emoji: dict[str, Any]
    user_ids: list[int] = field(default_factory=list)


@dataclass
class Attachment:
    """A file attached to a message (bytes kept so it can be downloaded)."""

    id: int
    filename: str
    content_type: str | None
    data: bytes
    url: str


@dataclass
class Message:
    """A message in a channel."""

    id: int
    channel_id: int
    author_id: int
    content: str = ""
    guild_id: int | None = None
    type: int = 0
    timestamp: datetime | None = None
    edited_timestamp: datetime | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reference: dict[str, Any] | None = None
    reactions: dict[str, Reaction] = field(default_factory=dict)
    flags: int = 0
    pinned: bool = False
    tts: bool = False
    nonce: str | int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    thread_id: int | None = None
    poll: dict[str, Any] | None = None


@dataclass
class Ban:
    """A guild ban."""

    user_id: int
    reason: str | None = None


@dataclass
class Invite:
    """A guild invite."""

    code: str
    guild_id: int
    channel_id: int
    inviter_id: int | None
    created_at: datetime
    uses: int = 0
    max_uses: int = 0
    max_age: int = 86400
    temporary: bool = False


@dataclass
class ScheduledEvent:
    """A guild scheduled event."""

    id: int
    guild_id: int
    name: str
    scheduled_start_time: datetime
    entity_type: int
    creator_id: int | None = None
    description: str | None = None
    scheduled_end_time: datetime | None = None
    channel_id: int | None = None
    location: str | None = None
    privacy_level: int = 2
    status: int = 1
    image: str | None = None
    recurrence_rule: dict[str, Any] | None = None
    subscriber_ids: list[int] = field(default_factory=list)


@dataclass
class AuditLogEntry:
    """One audit log entry."""

    id: int
    guild_id: int
    action_type: int
    user_id: int | None
    target_id: int | None
    reason: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] | None = None


@dataclass
class Webhook:
    """A channel webhook (only what the audit log and the REST routes need)."""

    id: int
    guild_id: int
    channel_id: int
    name: str
    creator_id: int


@dataclass
class Guild:
    """A guild and everything scoped to it."""

    id: int
    name: str
    owner_id: int
    created_at: datetime
    verification_level: int = 1
    default_message_notifications: int = 1
    explicit_content_filter: int = 2
    description: str | None = None
    icon: str | None = None
    features: list[str] = field(default_factory=lambda: ["COMMUNITY", "NEWS"])
    system_channel_id: int | None = None
    rules_channel_id: int | None = None
    public_updates_channel_id: int | None = None
    safety_alerts_channel_id: int | None = None
    preferred_locale: str = "en-US"
    mfa_level: int = 0
    nsfw_level: int = 0
    premium_tier: int = 0
    afk_timeout: int = 300
    invites_disabled_until: datetime | None = None
    dms_disabled_until: datetime | None = None
    raid_detected_at: datetime | None = None
    dm_spam_detected_at: datetime | None = None
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    bans: dict[int, Ban] = field(default_factory=dict)
    invites: dict[str, Invite] = field(default_factory=dict)
    voice_states: dict[int, dict[str, Any]] = field(default_factory=dict)
    scheduled_events: dict[int, ScheduledEvent] = field(default_factory=dict)
    audit_log: list[AuditLogEntry] = field(default_factory=list)
    commands: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
