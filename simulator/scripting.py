"""Scripted human activity: messages, joins/leaves, reactions, slash commands, raids."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta
from typing import Any

from . import errors, payloads
from .config import SimulatorConfig
from .engine import Engine
from .interactions import (
    InteractionRecord,
    InteractionRegistry,
    command_data,
    component_data,
    interaction_payload,
    message_command_data,
    new_record,
)
from .models import (
    MESSAGEABLE_TYPES,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Member,
    Message,
    User,
)
from .permissions import Perm
from .snowflake import utcnow
from .world import World

UserRef = str | int
ChannelRef = str | int


class ScriptingMixin:
    """Python API for driving the world as its human users would."""

    world: World
    engine: Engine
    interactions: InteractionRegistry
    config: SimulatorConfig
    attachments: dict[int, Attachment]
    _last_post: dict[tuple[int, int], float]

    @property
    def base_url(self) -> str:
        """Where attachments are served from (provided by the server)."""
        raise NotImplementedError

    def _guild(self, guild: int | None) -> Guild:
        return self.world.get_guild(guild or self.world.guild_id)

    def _check_member_can_post(self, channel: Channel, user: User) -> None:
        if not self.config.enforce_member_restrictions or channel.guild_id is None:
            return
        guild = self.world.guilds[channel.guild_id]
        member = guild.members.get(user.id)
        if member is None:
            raise errors.DiscordAPIError(403, 50001, f"{user.username} is not a member")
        if self.world.is_timed_out(member):
            raise errors.DiscordAPIError(403, 50013, f"{user.username} is timed out")
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
        perms = self.world.channel_permissions(channel, user.id)
        if perms & (needed | Perm.VIEW_CHANNEL) != needed | Perm.VIEW_CHANNEL:
            raise errors.DiscordAPIError(
                403, 50013, f"{user.username} cannot post in #{channel.name}"
            )
        slowmode = channel.rate_limit_per_user
        exempt = perms & (Perm.MANAGE_MESSAGES | Perm.MANAGE_CHANNELS)
        last = self._last_post.get((channel.id, user.id))
        if slowmode and not exempt and last is not None and time.monotonic() - last < slowmode:
            raise errors.DiscordAPIError(
                429, 20016, "This action cannot be performed due to slowmode rate limit."
            )

    async def post_message(
        self,
        channel: ChannelRef,
        author: UserRef,
        content: str = "",
        *,
        embeds: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        attachments: list[tuple[str, bytes]] | None = None,
        at: datetime | None = None,
    ) -> Message:
        """A user posts in a channel (MESSAGE_CREATE); membership/timeout/slowmode apply."""
        target = self.world.resolve_channel(channel)
        user = self.world.resolve_user(author)
        if target.type not in MESSAGEABLE_TYPES:
            raise errors.bad_request(50008, "Cannot send messages in a non-text channel")
        self._check_member_can_post(target, user)
        reference = None
        if reply_to is not None:
            self.world.get_message(target.id, int(reply_to))
            reference = {"type": 0, "message_id": str(reply_to), "channel_id": str(target.id)}
            if target.guild_id is not None:
                reference["guild_id"] = str(target.guild_id)
        files = []
        for filename, data in attachments or []:
            attachment_id = self.world.new_id()
            url = f"{self.base_url}/attachments/{target.id}/{attachment_id}/{filename}"
            files.append(Attachment(attachment_id, filename, None, data, url))
            self.attachments[attachment_id] = files[-1]
        message = self.engine.create_message(
            target,
            user.id,
            content=content,
            embeds=embeds,
            reference=reference,
            attachments=files,
            at=at,
        )
        self._last_post[(target.id, user.id)] = time.monotonic()
        return message

    async def send_dm(self, author: UserRef, content: str) -> Message:
        """A user DMs the bot (MESSAGE_CREATE without guild_id)."""
        user = self.world.resolve_user(author)
        channel = self.world.dm_channel(user.id)
        return self.engine.create_message(channel, user.id, content=content)

    async def member_join(
        self,
        username: str,
        *,
        global_name: str | None = None,
        created_at: datetime | None = None,
        account_age: timedelta | None = None,
        avatar: str | None = None,
        bot: bool = False,
        dms_open: bool = True,
        invite_code: str | None = None,
        guild: int | None = None,
    ) -> Member:
        """A user joins (GUILD_MEMBER_ADD); their id encodes the account creation time."""
        target = self._guild(guild)
        if created_at is None and account_age is not None:
            created_at = utcnow() - account_age
        existing = self.world.find_user(username)
        if existing is not None and created_at is None:
            user = existing
        else:
            user = self.world.add_user(
                username,
                global_name=global_name,
                created_at=created_at or utcnow() - timedelta(days=365),
                avatar=avatar,
                bot=bot,
                dms_open=dms_open,
            )
        if user.id in target.members:
            raise errors.bad_request(0, f"{username} is already a member")
        if user.id in target.bans:
            raise errors.DiscordAPIError(403, 40007, "The user is banned from this guild.")
        if invite_code is not None:
            invite = target.invites.get(invite_code)
            if invite is None:
                raise errors.unknown("invite")
            paused = target.invites_disabled_until
            if paused is not None and paused > utcnow():
                raise errors.DiscordAPIError(
                    403, 40069, "Invites are currently paused for this server."
                )
            invite.uses += 1
        return self.engine.add_member(target, user)

    async def set_voice_state(
        self,
        user: UserRef,
        channel: ChannelRef | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
        mute: bool = False,
        deaf: bool = False,
        guild: int | None = None,
    ) -> dict[str, Any]:
        """A member joins, changes or (channel=None) leaves voice: VOICE_STATE_UPDATE."""
        target = self._guild(guild)
        member = target.members.get(self.world.resolve_user(user).id)
        if member is None:
            raise errors.unknown("member")
        channel_id = None
        if channel is not None:
            voice = self.world.resolve_channel(channel)
            if voice.guild_id != target.id or voice.type != ChannelType.GUILD_VOICE:
                raise errors.bad_request(0, f"{channel} is not a voice channel of this guild")
            channel_id = str(voice.id)
        state: dict[str, Any] = {
            "guild_id": str(target.id),
            "channel_id": channel_id,
            "user_id": str(member.user_id),
            "session_id": f"voice-{member.user_id}",
            "deaf": deaf,
            "mute": mute,
            "self_deaf": self_deaf,
            "self_mute": self_mute,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }
        if channel_id is None:
            target.voice_states.pop(member.user_id, None)
        else:
            target.voice_states[member.user_id] = state
        payload = {**state, "member": payloads.member(self.world, member)}
        self.engine.dispatch("VOICE_STATE_UPDATE", payload)
        return state

    async def member_leave(self, user: UserRef, *, guild: int | None = None) -> None:
        """A member leaves the guild (GUILD_MEMBER_REMOVE)."""
        target = self._guild(guild)
        resolved = self.world.resolve_user(user)
        if resolved.id not in target.members:
            raise errors.unknown("member")
        self.engine.remove_member(target, resolved.id)

    async def mass_join(
        self,
        count: int,
        within: float,
        *,
        young_share: float = 0.0,
        name_prefix: str = "raider",
        seed: int | None = None,
        guild: int | None = None,
    ) -> list[Member]:
        """``count`` accounts join spread evenly over ``within`` seconds (raid simulation).

        ``young_share`` of them (spread evenly through the wave) have accounts younger
        than a day; the rest are between 30 days and 5 years old.
        """
        if count <= 0:
            return []
        rng = random.Random(seed)  # noqa: S311 - simulation data, not security
        gap = within / count if count > 1 else 0.0
        start = time.monotonic()
        joined: list[Member] = []
        young_done = 0
        for index in range(count):
            target_young = round((index + 1) * young_share)
            young = target_young > young_done
            young_done += int(young)
            if young:
                age = timedelta(minutes=rng.uniform(5, 23 * 60))
            else:
                age = timedelta(days=rng.uniform(30, 5 * 365))
            username = f"{name_prefix}{index + 1:04d}-{rng.randrange(16**4):04x}"
            joined.append(await self.member_join(username, account_age=age, guild=guild))
            delay = start + gap * (index + 1) - time.monotonic()
            if index + 1 < count and delay > 0:
                await asyncio.sleep(delay)
        return joined

    async def add_reaction(
        self, channel: ChannelRef, message_id: int, user: UserRef, emoji: str
    ) -> bool:
        """A user reacts (MESSAGE_REACTION_ADD); False if they already had."""
        target = self.world.resolve_channel(channel)
        message = self.world.get_message(target.id, int(message_id))
        return self.engine.add_reaction(message, self.world.resolve_user(user).id, emoji)

    async def remove_reaction(
        self, channel: ChannelRef, message_id: int, user: UserRef, emoji: str
    ) -> bool:
        """A user removes a reaction (MESSAGE_REACTION_REMOVE)."""
        target = self.world.resolve_channel(channel)
        message = self.world.get_message(target.id, int(message_id))
        return self.engine.remove_reaction(message, self.world.resolve_user(user).id, emoji)

    def _issue(self, record: InteractionRecord) -> InteractionRecord:
        self.interactions.add(record)
        self.engine.dispatch("INTERACTION_CREATE", interaction_payload(self.world, record))
        return record

    async def invoke_slash_command(
        self,
        name: str,
        user: UserRef,
        channel: ChannelRef = "general",
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> InteractionRecord:
        """A member runs ``/name`` (``"group sub"`` paths allowed): INTERACTION_CREATE type 2.

        ``options`` maps option names to values; users/channels/roles may be given by
        name or id and are typed from the synced command schema (or ``("user", ref)``).
        """
        target = self.world.resolve_channel(channel)
        invoker = self.world.resolve_user(user)
        guild = self.world.guilds.get(target.guild_id or 0)
        if guild is not None and invoker.id not in guild.members:
            raise errors.unknown("member")
        data = command_data(self.world, guild, name, options)
        record = new_record(
            self.world, kind=2, guild=guild, channel=target, user=invoker, data=data
        )
        return self._issue(record)

    async def invoke_message_command(
        self, name: str, user: UserRef, message_id: int
    ) -> InteractionRecord:
        """A member runs the message context-menu command ``name`` on a message (type 2/3)."""
        target = self.world.find_message(message_id)
        channel = self.world.resolve_channel(target.channel_id)
        invoker = self.world.resolve_user(user)
        guild = self.world.guilds.get(channel.guild_id or 0)
        if guild is not None and invoker.id not in guild.members:
            raise errors.unknown("member")
        data = message_command_data(self.world, guild, name, target)
        record = new_record(
            self.world, kind=2, guild=guild, channel=channel, user=invoker, data=data
        )
        return self._issue(record)

    async def click_component(
        self,
        custom_id: str,
        user: UserRef,
        message_id: int,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
    ) -> InteractionRecord:
        """A member clicks a button / uses a select on a message: INTERACTION_CREATE type 3."""
        message = self.world.find_message(int(message_id))
        target = self.world.channels[message.channel_id]
        invoker = self.world.resolve_user(user)
        guild = self.world.guilds.get(target.guild_id or 0)
        if guild is not None and invoker.id not in guild.members:
            raise errors.unknown("member")
        record = new_record(
            self.world,
            kind=3,
            guild=guild,
            channel=target,
            user=invoker,
            data=component_data(custom_id, component_type, values),
            message_id=message.id,
        )
        return self._issue(record)

    async def click_button(
        self, custom_id: str, user: UserRef, message_id: int
    ) -> InteractionRecord:
        """Shorthand for clicking a button (component type 2)."""
        return await self.click_component(custom_id, user, message_id)

    async def submit_modal(
        self,
        custom_id: str,
        user: UserRef,
        channel: ChannelRef,
        fields: dict[str, str],
    ) -> InteractionRecord:
        """A member submits a modal with text inputs: INTERACTION_CREATE type 5."""
        target = self.world.resolve_channel(channel)
        invoker = self.world.resolve_user(user)
        guild = self.world.guilds.get(target.guild_id or 0)
        data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in fields.items()
            ],
        }
        record = new_record(
            self.world, kind=5, guild=guild, channel=target, user=invoker, data=data
        )
        return self._issue(record)

    async def set_event_interest(
        self, event_id: int, user: UserRef, interested: bool = True, *, guild: int | None = None
    ) -> bool:
        """A member marks interest in a scheduled event (GUILD_SCHEDULED_EVENT_USER_ADD)."""
        target = self._guild(guild)
        event = target.scheduled_events.get(int(event_id))
        if event is None:
            raise errors.unknown("guild scheduled event")
        member = self.world.resolve_user(user)
        return self.engine.set_event_interest(target, event, member.id, interested)
