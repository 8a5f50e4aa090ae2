"""The simulated world's state, its seed, lookups by name, and permission math."""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta
from typing import Any

from . import errors
from .config import MUTED_DENY, SeedSpec, SimulatorConfig
from .models import (
    THREAD_TYPES,
    Channel,
    ChannelType,
    Guild,
    Invite,
    Member,
    Message,
    Overwrite,
    Role,
    User,
)
from .permissions import ALL_PERMISSIONS, TIMED_OUT_ALLOWED, Perm, apply_overwrites
from .snowflake import SnowflakeGenerator, utcnow

_CHANNEL_KINDS = {
    "text": ChannelType.GUILD_TEXT,
    "voice": ChannelType.GUILD_VOICE,
    "announcement": ChannelType.GUILD_ANNOUNCEMENT,
    "forum": ChannelType.GUILD_FORUM,
    "stage": ChannelType.GUILD_STAGE_VOICE,
}


def _invite_code() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


class World:
    """All simulator state, plus name lookups so tests can address seed objects."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.snowflakes = SnowflakeGenerator()
        self.started_at = utcnow()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, dict[int, Message]] = {}
        self.message_channel: dict[int, int] = {}
        self.dm_channels: dict[int, int] = {}
        self.global_commands: dict[int, dict[str, Any]] = {}
        self._user_names: dict[str, int] = {}
        self._channel_names: dict[str, int] = {}
        self._role_names: dict[str, int] = {}
        self.bot_id = 0
        self.guild_id = 0
        self.owner_id = 0
        self.bot_role_id = 0
        self._seed(self.config.seed)

    # ----------------------------------------------------------------- ids for tests
    @property
    def application_id(self) -> int:
        """The bot's application id (equal to the bot user id, as for real bots)."""
        return self.bot_id

    def channel(self, name: str) -> int:
        """Return the id of a seed-guild channel (or category) by name."""
        try:
            return self._channel_names[name.lstrip("#")]
        except KeyError:
            raise KeyError(f"no channel named {name!r}") from None

    def role(self, name: str) -> int:
        """Return the id of a seed-guild role by name (``@everyone`` works too)."""
        try:
            return self._role_names[name.lstrip("@") if name != "@everyone" else name]
        except KeyError:
            raise KeyError(f"no role named {name!r}") from None

    def member(self, username: str) -> int:
        """Return the user id of a user by username."""
        try:
            return self._user_names[username]
        except KeyError:
            raise KeyError(f"no user named {username!r}") from None

    def ids(self) -> dict[str, object]:
        """Return every seed id by name (for the control API and demos)."""
        return {
            "bot_id": str(self.bot_id),
            "application_id": str(self.application_id),
            "guild_id": str(self.guild_id),
            "owner_id": str(self.owner_id),
            "bot_role_id": str(self.bot_role_id),
            "channels": {k: str(v) for k, v in self._channel_names.items()},
            "roles": {k: str(v) for k, v in self._role_names.items()},
            "members": {k: str(v) for k, v in self._user_names.items()},
        }

    # ----------------------------------------------------------------- resolution
    def resolve_user(self, ref: str | int) -> User:
        """Find a user by id or username."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.get_user(int(ref))
        try:
            return self.users[self._user_names[ref]]
        except KeyError:
            raise errors.unknown("user") from None

    def resolve_channel(self, ref: str | int) -> Channel:
        """Find a channel by id or seed-guild channel name."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.get_channel(int(ref))
        try:
            return self.channels[self._channel_names[ref.lstrip("#")]]
        except KeyError:
            raise errors.unknown("channel") from None

    def find_user(self, username: str) -> User | None:
        """Return the user with this username, if any."""
        user_id = self._user_names.get(username)
        return self.users.get(user_id) if user_id is not None else None

    def get_user(self, user_id: int) -> User:
        """Return a user or raise 404 Unknown User."""
        try:
            return self.users[user_id]
        except KeyError:
            raise errors.unknown("user") from None

    def get_guild(self, guild_id: int) -> Guild:
        """Return a guild or raise 404 Unknown Guild."""
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise errors.unknown("guild") from None

    def get_channel(self, channel_id: int) -> Channel:
        """Return a channel or raise 404 Unknown Channel."""
        try:
            return self.channels[channel_id]
        except KeyError:
            raise errors.unknown("channel") from None

    def get_member(self, guild_id: int, user_id: int) -> Member:
        """Return a member or raise 404 Unknown Member."""
        try:
            return self.get_guild(guild_id).members[user_id]
        except KeyError:
            raise errors.unknown("member") from None

    def get_role(self, guild_id: int, role_id: int) -> Role:
        """Return a role or raise 404 Unknown Role."""
        try:
            return self.get_guild(guild_id).roles[role_id]
        except KeyError:
            raise errors.unknown("role") from None

    def get_message(self, channel_id: int, message_id: int) -> Message:
        """Return a message in a channel or raise 404 Unknown Message."""
        self.get_channel(channel_id)
        try:
            return self.messages[channel_id][message_id]
        except KeyError:
            raise errors.unknown("message") from None

    def find_message(self, message_id: int) -> Message:
        """Return a message by id from any channel."""
        channel_id = self.message_channel.get(message_id)
        if channel_id is None:
            raise errors.unknown("message")
        return self.get_message(channel_id, message_id)

    def guild_channels(self, guild_id: int) -> list[Channel]:
        """Return a guild's channels and threads in creation order."""
        return [self.channels[c] for c in self.get_guild(guild_id).channel_ids]

    def channel_messages(self, channel_id: int) -> list[Message]:
        """Return a channel's messages, oldest first."""
        return list(self.messages.get(channel_id, {}).values())

    def display_name(self, guild_id: int | None, user_id: int) -> str:
        """Return nick, global name or username, like the Discord client shows."""
        user = self.users[user_id]
        if guild_id is not None:
            member = self.guilds[guild_id].members.get(user_id)
            if member is not None and member.nick:
                return member.nick
        return user.global_name or user.username

    # ----------------------------------------------------------------- creation
    def new_id(self, at: datetime | None = None) -> int:
        """Return a fresh snowflake stamped ``at`` (default now)."""
        return self.snowflakes.next(at)

    def add_user(
        self,
        username: str,
        *,
        global_name: str | None = None,
        created_at: datetime | None = None,
        avatar: str | None = None,
        bot: bool = False,
        dms_open: bool = True,
    ) -> User:
        """Create a user whose id encodes the account creation time."""
        user = User(
            id=self.new_id(created_at),
            username=username,
            global_name=global_name,
            avatar=avatar,
            bot=bot,
            dms_open=dms_open,
        )
        self.users[user.id] = user
        self._user_names.setdefault(username, user.id)
        return user

    def add_guild(
        self,
        name: str,
        *,
        created_at: datetime | None = None,
        shard: tuple[int, int] | None = None,
        bot_role_position: int = 1,
    ) -> Guild:
        """Another guild with the bot in it; callers add its channels, roles and members.

        @everyone and the bot's managed role are the seed's; the owner is a user of its own and,
        like the bot, a member.
        ``shard`` = (id, count) picks a creation time (a millisecond at a time) whose snowflake
        Discord would deliver on that shard. Add guilds before the bot connects: they arrive in
        its READY/GUILD_CREATE like the seeded one.
        """
        spec = self.config.seed
        at = created_at or utcnow()
        guild_id = self.new_id(at)
        while shard is not None and (guild_id >> 22) % shard[1] != shard[0]:
            at += timedelta(milliseconds=1)
            guild_id = self.new_id(at)
        owner = self.add_user(f"owner-{guild_id}", created_at=at - timedelta(days=900))
        guild = Guild(id=guild_id, name=name, owner_id=owner.id, created_at=at)
        self.guilds[guild_id] = guild
        guild.roles[guild_id] = Role(guild_id, "@everyone", spec.everyone_permissions, 0)
        bot_role = Role(
            self.new_id(at),
            spec.bot_global_name,
            spec.bot_permissions,
            bot_role_position,
            managed=True,
            bot_id=self.bot_id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = Member(owner.id, guild_id, joined_at=at)
        bot = Member(self.bot_id, guild_id, joined_at=at, roles=[bot_role.id])
        guild.members[self.bot_id] = bot
        return guild

    def add_channel(self, channel: Channel) -> Channel:
        """Register a channel (and index it in its guild)."""
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, {})
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].channel_ids.append(channel.id)
            if channel.guild_id == self.guild_id and channel.name and not channel.is_thread:
                self._channel_names.setdefault(channel.name, channel.id)
        return channel

    def dm_channel(self, user_id: int) -> Channel:
        """Return the DM channel between the bot and ``user_id``, creating it once."""
        channel_id = self.dm_channels.get(user_id)
        if channel_id is not None and channel_id in self.channels:
            return self.channels[channel_id]
        channel = Channel(id=self.new_id(), type=ChannelType.DM, recipient_ids=[user_id])
        self.add_channel(channel)
        self.dm_channels[user_id] = channel.id
        return channel

    def remove_channel(self, channel_id: int) -> Channel:
        """Delete a channel, its messages and (for parents) its threads."""
        channel = self.channels.pop(channel_id)
        for message_id in self.messages.pop(channel_id, {}):
            self.message_channel.pop(message_id, None)
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            guild.channel_ids.remove(channel_id)
            if self._channel_names.get(channel.name or "") == channel_id:
                del self._channel_names[channel.name or ""]
        return channel

    def add_message(self, message: Message) -> Message:
        """Store a message and bump its channel's counters."""
        self.messages.setdefault(message.channel_id, {})[message.id] = message
        self.message_channel[message.id] = message.channel_id
        channel = self.channels[message.channel_id]
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
            channel.total_message_sent += 1
        return message

    def remove_message(self, channel_id: int, message_id: int) -> Message:
        """Delete a message from a channel."""
        message = self.messages[channel_id].pop(message_id)
        self.message_channel.pop(message_id, None)
        channel = self.channels.get(channel_id)
        if channel is not None and channel.is_thread:
            channel.message_count = max(channel.message_count - 1, 0)
        return message

    def add_invite(self, guild_id: int, channel_id: int, inviter_id: int | None) -> Invite:
        """Create an invite with a random code."""
        invite = Invite(
            code=_invite_code(),
            guild_id=guild_id,
            channel_id=channel_id,
            inviter_id=inviter_id,
            created_at=utcnow(),
        )
        self.guilds[guild_id].invites[invite.code] = invite
        return invite

    # ----------------------------------------------------------------- permissions
    def top_position(self, guild: Guild, user_id: int) -> int:
        """Return the position of a member's highest role (0 if only @everyone)."""
        member = guild.members.get(user_id)
        if member is None:
            return 0
        positions = [guild.roles[r].position for r in member.roles if r in guild.roles]
        return max(positions, default=0)

    def base_permissions(self, guild: Guild, user_id: int) -> int:
        """Guild-level permissions of a member (owner and admins get everything)."""
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = guild.roles[guild.id].permissions
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        if self.is_timed_out(member):
            perms &= TIMED_OUT_ALLOWED
        return perms

    def channel_permissions(self, channel: Channel, user_id: int) -> int:
        """Permissions of a member in a channel, after overwrites (threads use parent)."""
        if channel.guild_id is None:
            return ALL_PERMISSIONS
        guild = self.guilds[channel.guild_id]
        base = self.base_permissions(guild, user_id)
        if base & Perm.ADMINISTRATOR or user_id == guild.owner_id:
            return ALL_PERMISSIONS
        source = channel
        if channel.type in THREAD_TYPES and channel.parent_id in self.channels:
            source = self.channels[channel.parent_id]
        member = guild.members.get(user_id)
        perms = apply_overwrites(
            base,
            [(o.id, o.type, o.allow, o.deny) for o in source.overwrites],
            everyone_id=guild.id,
            role_ids=set(member.roles) if member else set(),
            member_id=user_id,
        )
        if member is not None and self.is_timed_out(member):
            perms &= TIMED_OUT_ALLOWED
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        private = channel.type == ChannelType.PRIVATE_THREAD
        if private and user_id not in channel.thread_members and not perms & Perm.MANAGE_THREADS:
            return 0  # like Discord: only its members and thread managers see a private thread
        return perms

    def can_moderate(self, guild: Guild, actor_id: int, target_id: int) -> bool:
        """Role hierarchy check: actor must outrank target, and nobody outranks the owner."""
        if target_id == guild.owner_id:
            return False
        if actor_id == guild.owner_id:
            return True
        return self.top_position(guild, actor_id) > self.top_position(guild, target_id)

    @staticmethod
    def is_timed_out(member: Member) -> bool:
        """Whether a member's timeout is still running."""
        until = member.communication_disabled_until
        return until is not None and until > utcnow()

    # ----------------------------------------------------------------- seed
    def _seed(self, spec: SeedSpec) -> None:
        now = self.config.seed_anchor or self.started_at
        bot = self.add_user(
            spec.bot_username,
            global_name=spec.bot_global_name,
            created_at=now - timedelta(days=400),
            bot=True,
        )
        self.bot_id = bot.id
        member_users: dict[str, User] = {}
        for mspec in spec.members:
            member_users[mspec.username] = self.add_user(
                mspec.username,
                global_name=mspec.global_name,
                created_at=now - mspec.account_age,
                avatar=mspec.avatar,
                bot=mspec.bot,
                dms_open=mspec.dms_open,
            )
        owner = member_users.get(spec.owner)
        if owner is None:
            owner = self.add_user(spec.owner, created_at=now - timedelta(days=2000))
        self.owner_id = owner.id
        guild = Guild(
            id=self.new_id(now - timedelta(days=1100)),
            name=spec.guild_name,
            owner_id=owner.id,
            created_at=now - timedelta(days=1100),
        )
        self.guilds[guild.id] = guild
        self.guild_id = guild.id
        self._seed_roles(guild, spec)
        self._seed_channels(guild, spec)
        for mspec in spec.members:
            user = member_users[mspec.username]
            guild.members[user.id] = Member(
                user_id=user.id,
                guild_id=guild.id,
                joined_at=now - mspec.joined_ago,
                roles=[self._role_names[r] for r in mspec.roles],
            )
        if owner.id not in guild.members:
            guild.members[owner.id] = Member(owner.id, guild.id, joined_at=guild.created_at)
        guild.members[bot.id] = Member(
            bot.id, guild.id, joined_at=now - timedelta(days=200), roles=[self.bot_role_id]
        )
        for name in spec.invites:
            self.add_invite(guild.id, self._channel_names[name], owner.id)

    def _seed_roles(self, guild: Guild, spec: SeedSpec) -> None:
        guild.roles[guild.id] = Role(guild.id, "@everyone", spec.everyone_permissions, 0)
        self._role_names["@everyone"] = guild.id
        for position, rspec in enumerate(spec.roles, start=1):
            role = Role(
                id=self.new_id(guild.created_at + timedelta(minutes=position)),
                name=rspec.name,
                permissions=rspec.permissions,
                position=position,
                color=rspec.color,
                hoist=rspec.hoist,
                mentionable=rspec.mentionable,
            )
            guild.roles[role.id] = role
            self._role_names[role.name] = role.id
        bot_role = Role(
            id=self.new_id(guild.created_at + timedelta(minutes=len(spec.roles) + 1)),
            name=spec.bot_global_name,
            permissions=spec.bot_permissions,
            position=len(spec.roles) + 1,
            managed=True,
            bot_id=self.bot_id,
        )
        guild.roles[bot_role.id] = bot_role
        self._role_names[bot_role.name] = bot_role.id
        self.bot_role_id = bot_role.id

    def _seed_channels(self, guild: Guild, spec: SeedSpec) -> None:
        muted = self._role_names.get(spec.muted_role) if spec.muted_role else None
        muted_overwrites = [Overwrite(muted, 0, 0, MUTED_DENY)] if muted else []
        categories: dict[str, int] = {}
        for cspec in spec.channels:
            if cspec.category and cspec.category not in categories:
                category = Channel(
                    id=self.new_id(guild.created_at + timedelta(hours=1 + len(categories))),
                    type=ChannelType.GUILD_CATEGORY,
                    guild_id=guild.id,
                    name=cspec.category,
                    position=len(categories),
                    overwrites=[Overwrite(o.id, o.type, o.allow, o.deny) for o in muted_overwrites],
                )
                self.add_channel(category)
                categories[cspec.category] = category.id
        for position, cspec in enumerate(spec.channels):
            overwrites = [Overwrite(o.id, o.type, o.allow, o.deny) for o in muted_overwrites]
            if cspec.private_to:
                overwrites.append(Overwrite(guild.id, 0, 0, int(Perm.VIEW_CHANNEL)))
                for role_name in (*cspec.private_to, spec.bot_global_name):
                    overwrites.append(
                        Overwrite(self._role_names[role_name], 0, int(Perm.VIEW_CHANNEL))
                    )
            channel = Channel(
                id=self.new_id(guild.created_at + timedelta(hours=10, minutes=position)),
                type=_CHANNEL_KINDS[cspec.kind],
                guild_id=guild.id,
                name=cspec.name,
                position=position,
                parent_id=categories.get(cspec.category) if cspec.category else None,
                topic=cspec.topic,
                rate_limit_per_user=cspec.slowmode,
                overwrites=overwrites,
            )
            self.add_channel(channel)
        guild.system_channel_id = self._channel_names.get(spec.system_channel or "")
        guild.rules_channel_id = self._channel_names.get(spec.rules_channel or "")
        guild.public_updates_channel_id = self._channel_names.get(spec.safety_alerts_channel or "")
        guild.safety_alerts_channel_id = guild.public_updates_channel_id
