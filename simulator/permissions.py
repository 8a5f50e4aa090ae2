"""Discord permission bits and the guild/channel permission computation."""

from __future__ import annotations

from enum import IntFlag


class Perm(IntFlag):
    """Discord permission flags (subset the suite relies on, same bit values)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    CREATE_EVENTS = 1 << 44


ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.STREAM
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CONNECT
    | Perm.SPEAK
    | Perm.USE_VAD
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.CREATE_PRIVATE_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.REQUEST_TO_SPEAK
)

MODERATOR = (
    Perm.KICK_MEMBERS
    | Perm.BAN_MEMBERS
    | Perm.MANAGE_MESSAGES
    | Perm.VIEW_AUDIT_LOG
    | Perm.MANAGE_NICKNAMES
    | Perm.MODERATE_MEMBERS
    | Perm.MANAGE_THREADS
    | Perm.MANAGE_EVENTS
    | Perm.MENTION_EVERYONE
)

BOT_DEFAULT = (
    DEFAULT_EVERYONE
    | MODERATOR
    | Perm.MANAGE_CHANNELS
    | Perm.MANAGE_GUILD
    | Perm.MANAGE_ROLES
    | Perm.MANAGE_WEBHOOKS
    | Perm.CREATE_EVENTS
)

TIMED_OUT_ALLOWED = Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY


def apply_overwrites(
    base: int,
    overwrites: list[tuple[int, int, int, int]],
    *,
    everyone_id: int,
    role_ids: set[int],
    member_id: int,
) -> int:
    """Apply channel overwrites ``(id, type, allow, deny)`` in Discord's order."""
    if base & Perm.ADMINISTRATOR:
        return ALL_PERMISSIONS
    perms = base
    for target, _kind, allow, deny in overwrites:
        if target == everyone_id:
            perms = (perms & ~deny) | allow
    role_allow = role_deny = 0
    for target, kind, allow, deny in overwrites:
        if kind == 0 and target in role_ids and target != everyone_id:
            role_allow |= allow
            role_deny |= deny
    perms = (perms & ~role_deny) | role_allow
    for target, kind, allow, deny in overwrites:
        if kind == 1 and target == member_id:
            perms = (perms & ~deny) | allow
    return perms
