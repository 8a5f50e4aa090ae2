"""Gateway intents and which intent gates each dispatch, like the real Discord."""

from __future__ import annotations

from enum import IntFlag
from typing import Any


class Intent(IntFlag):
    """Gateway intent bits (same values as Discord's)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


ALL_INTENTS = (1 << 26) - 1
PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT

_GUILD_ONLY: dict[str, Intent] = {
    "GUILD_CREATE": Intent.GUILDS,
    "GUILD_UPDATE": Intent.GUILDS,
    "GUILD_DELETE": Intent.GUILDS,
    "GUILD_ROLE_CREATE": Intent.GUILDS,
    "GUILD_ROLE_UPDATE": Intent.GUILDS,
    "GUILD_ROLE_DELETE": Intent.GUILDS,
    "CHANNEL_CREATE": Intent.GUILDS,
    "CHANNEL_UPDATE": Intent.GUILDS,
    "CHANNEL_DELETE": Intent.GUILDS,
    "THREAD_CREATE": Intent.GUILDS,
    "THREAD_UPDATE": Intent.GUILDS,
    "THREAD_DELETE": Intent.GUILDS,
    "THREAD_LIST_SYNC": Intent.GUILDS,
    "THREAD_MEMBER_UPDATE": Intent.GUILDS,
    "THREAD_MEMBERS_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_ADD": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intent.GUILD_MEMBERS,
    "GUILD_BAN_ADD": Intent.GUILD_MODERATION,
    "GUILD_BAN_REMOVE": Intent.GUILD_MODERATION,
    "GUILD_AUDIT_LOG_ENTRY_CREATE": Intent.GUILD_MODERATION,
    "VOICE_STATE_UPDATE": Intent.GUILD_VOICE_STATES,
    "INVITE_CREATE": Intent.GUILD_INVITES,
    "INVITE_DELETE": Intent.GUILD_INVITES,
    "WEBHOOKS_UPDATE": Intent.GUILD_WEBHOOKS,
    "PRESENCE_UPDATE": Intent.GUILD_PRESENCES,
    "GUILD_SCHEDULED_EVENT_CREATE": Intent.GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": Intent.GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": Intent.GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_ADD": Intent.GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_REMOVE": Intent.GUILD_SCHEDULED_EVENTS,
}

_GUILD_OR_DM: dict[str, tuple[Intent, Intent]] = {
    "MESSAGE_CREATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_DELETE": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "MESSAGE_DELETE_BULK": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    "CHANNEL_PINS_UPDATE": (Intent.GUILDS, Intent.DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (
        Intent.GUILD_MESSAGE_REACTIONS,
        Intent.DIRECT_MESSAGE_REACTIONS,
    ),
    "MESSAGE_REACTION_REMOVE_ALL": (
        Intent.GUILD_MESSAGE_REACTIONS,
        Intent.DIRECT_MESSAGE_REACTIONS,
    ),
    "MESSAGE_REACTION_REMOVE_EMOJI": (
        Intent.GUILD_MESSAGE_REACTIONS,
        Intent.DIRECT_MESSAGE_REACTIONS,
    ),
    "TYPING_START": (Intent.GUILD_MESSAGE_TYPING, Intent.DIRECT_MESSAGE_TYPING),
}

MESSAGE_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE"})


def required_intent(event: str, data: dict[str, Any]) -> int:
    """Return the intent bit gating ``event`` (0 = always delivered)."""
    if event in _GUILD_ONLY:
        return int(_GUILD_ONLY[event])
    if event in _GUILD_OR_DM:
        guild_intent, dm_intent = _GUILD_OR_DM[event]
        return int(guild_intent if data.get("guild_id") else dm_intent)
    return 0


def strip_content(message: dict[str, Any]) -> dict[str, Any]:
    """Blank the content fields a bot without MESSAGE_CONTENT must not see."""
    stripped = dict(message)
    stripped["content"] = ""
    stripped["embeds"] = []
    stripped["attachments"] = []
    stripped["components"] = []
    stripped.pop("poll", None)
    return stripped


def content_visible(message: dict[str, Any], bot_id: int) -> bool:
    """Whether a bot lacking MESSAGE_CONTENT may still see this message's content."""
    if not message.get("guild_id"):
        return True
    author = message.get("author") or {}
    if str(author.get("id")) == str(bot_id):
        return True
    return any(str(m.get("id")) == str(bot_id) for m in message.get("mentions", []))
