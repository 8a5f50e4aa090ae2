"""Interactions the simulator issued, the bot's callbacks to them, and their payloads."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, payloads
from .models import Channel, Guild, Message, User
from .world import World

OPTION_TYPES = {
    "subcommand": 1,
    "subcommand_group": 2,
    "string": 3,
    "integer": 4,
    "boolean": 5,
    "user": 6,
    "channel": 7,
    "role": 8,
    "mentionable": 9,
    "number": 10,
    "attachment": 11,
}


@dataclass
class InteractionResponse:
    """One callback the bot sent (``type`` is Discord's interaction callback type)."""

    type: int
    data: dict[str, Any] | None
    at: float


@dataclass
class InteractionRecord:
    """An interaction created by a script, and everything the bot did in reply."""

    id: int
    token: str
    type: int
    application_id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    data: dict[str, Any]
    created: float
    message_id: int | None = None
    responses: list[InteractionResponse] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    edits: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def acknowledged(self) -> bool:
        """Whether the bot sent its initial callback."""
        return bool(self.responses)

    @property
    def response(self) -> InteractionResponse | None:
        """The initial callback, if any."""
        return self.responses[0] if self.responses else None

    def notify(self) -> None:
        """Wake anyone waiting on this interaction."""
        self._changed.set()

    async def wait_until(
        self, predicate: Callable[[InteractionRecord], bool], timeout: float = 5.0
    ) -> None:
        """Wait until ``predicate(self)`` holds (checked after every bot action)."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

    async def wait_response(self, timeout: float = 5.0) -> InteractionResponse:
        """Wait for the bot's initial callback and return it."""
        await self.wait_until(lambda r: r.acknowledged, timeout)
        assert self.response is not None
        return self.response

    def describe(self, world: World) -> dict[str, Any]:
        """JSON view for the control API."""
        original = None
        if self.original_message_id is not None:
            msg = world.messages.get(self.channel_id, {}).get(self.original_message_id)
            original = payloads.message(world, msg) if msg else None
        followups = [
            payloads.message(world, world.messages[self.channel_id][m])
            for m in self.followup_ids
            if m in world.messages.get(self.channel_id, {})
        ]
        return {
            "id": str(self.id),
            "token": self.token,
            "type": self.type,
            "acknowledged": self.acknowledged,
            "responses": [{"type": r.type, "data": r.data, "at": r.at} for r in self.responses],
            "original_message": original,
            "followups": followups,
        }


class InteractionRegistry:
    """Tracks interactions by id and token."""

    def __init__(self) -> None:
        self.by_id: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}

    def add(self, record: InteractionRecord) -> InteractionRecord:
        """Register a new interaction."""
        self.by_id[record.id] = record
        self.by_token[record.token] = record
        return record

    def get(self, interaction_id: int, token: str) -> InteractionRecord:
        """Look up by id+token, as the callback route does."""
        record = self.by_id.get(interaction_id)
        if record is None or not secrets.compare_digest(record.token, token):
            raise errors.unknown("interaction")
        return record

    def for_token(self, token: str) -> InteractionRecord:
        """Look up by token, as the webhook routes do."""
        record = self.by_token.get(token)
        if record is None:
            raise errors.unknown("webhook")
        return record


def new_record(
    world: World,
    *,
    kind: int,
    guild: Guild | None,
    channel: Channel,
    user: User,
    data: dict[str, Any],
    message_id: int | None = None,
) -> InteractionRecord:
    """Create an interaction record with a fresh id and token."""
    return InteractionRecord(
        id=world.new_id(),
        token=secrets.token_urlsafe(48),
        type=kind,
        application_id=world.application_id,
        guild_id=guild.id if guild else None,
        channel_id=channel.id,
        user_id=user.id,
        data=data,
        created=time.monotonic(),
        message_id=message_id,
    )


def interaction_payload(world: World, record: InteractionRecord) -> dict[str, Any]:
    """Build the INTERACTION_CREATE payload for a record."""
    channel = world.channels[record.channel_id]
    user = world.users[record.user_id]
    data: dict[str, Any] = {
        "id": str(record.id),
        "application_id": str(record.application_id),
        "type": record.type,
        "data": record.data,
        "channel_id": str(channel.id),
        "channel": _interaction_channel(world, channel, record.user_id),
        "token": record.token,
        "version": 1,
        "app_permissions": str(world.channel_permissions(channel, world.bot_id)),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if record.guild_id is not None:
        guild = world.guilds[record.guild_id]
        member = payloads.member(world, guild.members[user.id])
        member["permissions"] = str(world.channel_permissions(channel, user.id))
        data.update(
            {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": guild.features},
                "guild_locale": guild.preferred_locale,
                "member": member,
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        )
    else:
        data.update(
            {
                "user": payloads.user(user),
                "authorizing_integration_owners": {"0": str(user.id)},
                "context": 1,
            }
        )
    if record.message_id is not None:
        message = world.messages.get(channel.id, {}).get(record.message_id)
        if message is not None:
            data["message"] = payloads.message(world, message)
    return data


def _interaction_channel(world: World, channel: Channel, user_id: int) -> dict[str, Any]:
    data = payloads.channel(world, channel)
    data["permissions"] = str(world.channel_permissions(channel, user_id))
    return data


def find_command(
    world: World, guild: Guild | None, name: str, kind: int = 1
) -> dict[str, Any] | None:
    """Find a registered command by name and type (1 chat input, 3 message; guild first)."""
    pools = ([guild.commands] if guild is not None else []) + [world.global_commands]
    for pool in pools:
        for command in pool.values():
            if command.get("name") == name and int(command.get("type", 1)) == kind:
                return command
    return None


def message_command_data(
    world: World, guild: Guild | None, name: str, target: Message
) -> dict[str, Any]:
    """Build ``data`` for a message context-menu command (type 3) run on ``target``."""
    command = find_command(world, guild, name, kind=3)
    data: dict[str, Any] = {
        "id": str(command["id"]) if command else str(world.new_id()),
        "name": name,
        "type": 3,
        "target_id": str(target.id),
        "resolved": {"messages": {str(target.id): payloads.message(world, target)}},
    }
    if command and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


class OptionBuilder:
    """Turns ``{"name": value}`` into typed options plus ``resolved`` data."""

    def __init__(self, world: World, guild: Guild | None) -> None:
        self.world = world
        self.guild = guild
        self.resolved: dict[str, dict[str, Any]] = {}

    def build(
        self, values: dict[str, Any] | list[dict[str, Any]], schema: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Return interaction options for ``values`` guided by the command's option schema."""
        if isinstance(values, list):
            return values
        by_name = {o["name"]: o for o in schema}
        options = []
        for name, raw in values.items():
            kind, value = self._kind_and_value(raw, by_name.get(name))
            options.append({"name": name, "type": kind, "value": self._encode(kind, value)})
        return options

    def _kind_and_value(self, raw: Any, spec: dict[str, Any] | None) -> tuple[int, Any]:
        if isinstance(raw, list | tuple) and len(raw) == 2 and raw[0] in OPTION_TYPES:
            return OPTION_TYPES[raw[0]], raw[1]
        if spec is not None:
            return int(spec["type"]), raw
        if isinstance(raw, bool):
            return 5, raw
        if isinstance(raw, int):
            return 4, raw
        if isinstance(raw, float):
            return 10, raw
        return 3, str(raw)

    def _encode(self, kind: int, value: Any) -> Any:
        world = self.world
        if kind == 6 or (kind == 9 and not self._is_role(value)):
            user = world.resolve_user(value)
            self.resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
            if self.guild is not None and user.id in self.guild.members:
                member = payloads.member(world, self.guild.members[user.id], with_user=False)
                self.resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if kind in (8, 9):
            role = self._role(value)
            self.resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)
            return str(role.id)
        if kind == 7:
            channel = world.resolve_channel(value)
            data = payloads.channel(world, channel)
            data["permissions"] = str(world.channel_permissions(channel, world.bot_id))
            self.resolved.setdefault("channels", {})[str(channel.id)] = data
            return str(channel.id)
        return value

    def _is_role(self, value: Any) -> bool:
        try:
            self._role(value)
        except errors.DiscordAPIError:
            return False
        return True

    def _role(self, value: Any) -> Any:
        if self.guild is None:
            raise errors.unknown("role")
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            role = self.guild.roles.get(int(value))
        else:
            role = next((r for r in self.guild.roles.values() if r.name == value), None)
        if role is None:
            raise errors.unknown("role")
        return role


def command_data(
    world: World,
    guild: Guild | None,
    path: str,
    options: dict[str, Any] | list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Build ``data`` for a chat-input command; ``path`` may be ``"cmd group sub"``."""
    name, *subpath = path.split()
    command = find_command(world, guild, name)
    schema = list((command or {}).get("options") or [])
    for part in subpath:
        spec = next((o for o in schema if o.get("name") == part), None)
        schema = list((spec or {}).get("options") or [])
    builder = OptionBuilder(world, guild)
    built = builder.build(options or {}, schema)
    for depth, part in reversed(list(enumerate(subpath))):
        kind = 1 if depth == len(subpath) - 1 else 2
        built = [{"name": part, "type": kind, "options": built}]
    data: dict[str, Any] = {
        "id": str(command["id"]) if command else str(world.new_id()),
        "name": name,
        "type": 1,
        "options": built,
    }
    if builder.resolved:
        data["resolved"] = builder.resolved
    if command and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def component_data(custom_id: str, component_type: int, values: list[str] | None) -> dict[str, Any]:
    """Build ``data`` for a message-component interaction."""
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if component_type != 2:
        data["values"] = list(values or [])
    return data
