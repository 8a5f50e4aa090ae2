"""A server's self-check, the pure part: the bot's abilities in the guild against the config.

What the bot can do in the guild against what the config needs, as findings {name, status
ok|warn|fail, detail, fix}.

Inputs are plain values read from Discord (the bot's roles and their permission bits and
positions, the channels with their overwrites) and needs derived from the config
(dcs.self_check.needs_of). A *required* need that is not met is a `fail` (a feature the config
turns on will not work); an optional one is a `warn`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "warn", "fail"]
_RANK: dict[Status, int] = {"ok": 0, "warn": 1, "fail": 2}

PERMISSIONS: dict[str, int] = {
    "kick_members": 1 << 1,
    "ban_members": 1 << 2,
    "administrator": 1 << 3,
    "manage_channels": 1 << 4,
    "manage_guild": 1 << 5,
    "add_reactions": 1 << 6,
    "view_audit_log": 1 << 7,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "manage_roles": 1 << 28,
    "manage_webhooks": 1 << 29,
    "manage_events": 1 << 33,
    "manage_threads": 1 << 34,
    "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
    "moderate_members": 1 << 40,
}
"""Discord permission bits the suite uses, by snake_case name."""

ALL_PERMISSIONS = (1 << 51) - 1
ADMINISTRATOR = PERMISSIONS["administrator"]
VIEW_CHANNEL = PERMISSIONS["view_channel"]

TEXT, VOICE, CATEGORY, ANNOUNCEMENT, FORUM = 0, 2, 4, 5, 15
TEXT_LIKE = frozenset({TEXT, ANNOUNCEMENT})
_KIND_NAMES = {TEXT: "text channel", VOICE: "voice channel", CATEGORY: "category",
               ANNOUNCEMENT: "announcement channel", FORUM: "forum", 13: "stage"}  # fmt: skip


_LABELS = {
    "view_channel": "View Channels",
    "manage_guild": "Manage Server",
    "moderate_members": "Timeout Members",
    "send_messages_in_threads": "Send Messages in Threads",
}


def permission_label(name: str) -> str:
    """Discord's own wording in Server Settings: "ban_members" -> "Ban Members"."""
    return _LABELS.get(name) or name.replace("_", " ").title()


@dataclass(frozen=True)
class Finding:
    """One check's outcome; `fix` says what to do when it is not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class RoleInfo:
    """A guild role: `position` orders the hierarchy (the @everyone role has the guild's id)."""

    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite: type 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int
    deny: int


@dataclass(frozen=True)
class ChannelInfo:
    """A guild channel as the self-check needs it."""

    id: int
    name: str
    type: int
    parent_id: int | None = None
    overwrites: tuple[Overwrite, ...] = ()


@dataclass(frozen=True)
class GuildView:
    """The guild as the bot sees it: its own roles, every role and channel."""

    guild_id: int
    owner_id: int
    bot_id: int
    bot_role_ids: frozenset[int]
    roles: dict[int, RoleInfo]
    channels: dict[int, ChannelInfo]

    @property
    def bot_top_position(self) -> int:
        """Position of the bot's highest role (0: only @everyone)."""
        return max(
            (self.roles[r].position for r in self.bot_role_ids if r in self.roles), default=0
        )

    @property
    def bot_top_role(self) -> RoleInfo | None:
        """The bot's highest role."""
        mine = [self.roles[r] for r in self.bot_role_ids if r in self.roles]
        return max(mine, key=lambda r: r.position, default=None)


def guild_permissions(view: GuildView) -> int:
    """The bot's guild permissions: @everyone's and its roles'; all of them with Administrator."""
    if view.bot_id == view.owner_id:
        return ALL_PERMISSIONS
    everyone = view.roles.get(view.guild_id)
    perms = everyone.permissions if everyone else 0
    for role_id in view.bot_role_ids:
        role = view.roles.get(role_id)
        if role is not None:
            perms |= role.permissions
    return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


def channel_permissions(view: GuildView, channel: ChannelInfo) -> int:
    """The bot's permissions in a channel after its overwrites.

    In Discord's order: @everyone, then the bot's roles together, then the bot itself; no View
    Channel means nothing.
    """
    base = guild_permissions(view)
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    perms = base
    by_id = {o.id: o for o in channel.overwrites}
    everyone = by_id.get(view.guild_id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for o in channel.overwrites:
        if o.type == 0 and o.id in view.bot_role_ids:
            allow |= o.allow
            deny |= o.deny
    perms = (perms & ~deny) | allow
    member = next((o for o in channel.overwrites if o.type == 1 and o.id == view.bot_id), None)
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    return perms if perms & VIEW_CHANNEL else 0


@dataclass(frozen=True)
class PermissionNeed:
    """A guild permission the config needs, and what for."""

    name: str
    why: str
    required: bool = True


@dataclass(frozen=True)
class ChannelNeed:
    """A channel the config names: the `permissions` the bot needs in it, `kinds` allowed.

    Empty `kinds`: any channel type.
    """

    purpose: str
    channel_id: int
    permissions: tuple[str, ...] = ()
    kinds: frozenset[int] = frozenset()
    required: bool = True


@dataclass(frozen=True)
class RoleNeed:
    """A role the config names; `grant`: the bot gives or takes it (so it must rank above it)."""

    purpose: str
    role_id: int
    grant: bool = False
    required: bool = True


@dataclass(frozen=True)
class Needs:
    """Everything the config asks of the bot in the guild."""

    permissions: Sequence[PermissionNeed] = ()
    channels: Sequence[ChannelNeed] = ()
    roles: Sequence[RoleNeed] = ()


def _miss(required: bool) -> Status:
    return "fail" if required else "warn"


def check_permissions(view: GuildView, needs: Iterable[PermissionNeed]) -> list[Finding]:
    """One finding per needed guild permission (several needs of one permission are merged)."""
    merged: dict[str, tuple[list[str], bool]] = {}
    for need in needs:
        whys, required = merged.get(need.name, ([], False))
        if need.why not in whys:
            whys.append(need.why)
        merged[need.name] = (whys, required or need.required)
    perms = guild_permissions(view)
    admin = bool(perms & ADMINISTRATOR) and view.bot_id != view.owner_id
    top = view.bot_top_role
    role_name = top.name if top is not None else "the bot's role"
    out = []
    for name, (whys, required) in merged.items():
        label = permission_label(name)
        what = "; ".join(whys)
        if perms & PERMISSIONS[name]:
            via = " (through Administrator)" if admin else ""
            out.append(Finding(f"permission:{name}", "ok", f"{label}{via}: {what}"))
        else:
            out.append(
                Finding(
                    f"permission:{name}",
                    _miss(required),
                    f"The bot lacks {label}, needed for: {what}",
                    f"Server Settings -> Roles -> {role_name}: turn on {label}.",
                )
            )
    return out


def _kinds(kinds: frozenset[int]) -> str:
    return " or ".join(sorted(_KIND_NAMES.get(k, f"type {k}") for k in kinds))


def check_channels(view: GuildView, needs: Iterable[ChannelNeed]) -> list[Finding]:
    """Each named channel exists, is of a usable kind, and the bot has what it needs in it."""
    out = []
    for need in needs:
        name = f"channel:{need.purpose}"
        channel = view.channels.get(need.channel_id)
        if channel is None:
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"The {need.purpose} channel {need.channel_id} does not exist (deleted?)",
                    "Pick an existing channel in the server config (PATCH /config).",
                )
            )
            continue
        where = f"#{channel.name} ({channel.id})"
        if need.kinds and channel.type not in need.kinds:
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"The {need.purpose} channel {where} is a "
                    f"{_KIND_NAMES.get(channel.type, 'channel')}, not a {_kinds(need.kinds)}",
                    f"Pick a {_kinds(need.kinds)} in the server config.",
                )
            )
            continue
        perms = channel_permissions(view, channel)
        missing = [p for p in need.permissions if not perms & PERMISSIONS[p]]
        if missing:
            labels = ", ".join(permission_label(p) for p in missing)
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"In the {need.purpose} channel {where} the bot lacks {labels}",
                    f"Edit #{channel.name} -> Permissions: allow {labels} for the bot's role "
                    "(a channel overwrite may deny it).",
                )
            )
            continue
        can = ", ".join(permission_label(p) for p in need.permissions)
        out.append(Finding(name, "ok", f"{where}" + (f": {can}" if can else "")))
    return out


def check_roles(view: GuildView, needs: Iterable[RoleNeed]) -> list[Finding]:
    """Each named role exists; a role the bot grants is grantable and below the bot's top role."""
    out = []
    top = view.bot_top_position
    top_role = view.bot_top_role
    top_name = top_role.name if top_role is not None else "the bot's role"
    for need in needs:
        name = f"role:{need.purpose}"
        role = view.roles.get(need.role_id)
        if role is None:
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"The {need.purpose} role {need.role_id} does not exist (deleted?)",
                    "Pick an existing role in the server config (PATCH /config).",
                )
            )
            continue
        where = f"@{role.name} ({role.id})"
        if not need.grant:
            out.append(Finding(name, "ok", f"{where} exists"))
            continue
        if role.id == view.guild_id or role.managed:
            kind = "@everyone" if role.id == view.guild_id else "managed by an integration"
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"The {need.purpose} role {where} is {kind}: nobody can grant it",
                    "Pick an ordinary role in the server config.",
                )
            )
        elif role.position >= top:
            out.append(
                Finding(
                    name,
                    _miss(need.required),
                    f"The {need.purpose} role {where} (position {role.position}) is not below "
                    f"the bot's top role @{top_name} (position {top}): the bot cannot grant it",
                    f"Server Settings -> Roles: drag @{top_name} above @{role.name}.",
                )
            )
        else:
            out.append(Finding(name, "ok", f"{where} is below @{top_name}: the bot can grant it"))
    return out


def evaluate(view: GuildView, needs: Needs) -> list[Finding]:
    """Every Discord-side finding: permissions, channels, roles."""
    return [
        *check_permissions(view, needs.permissions),
        *check_channels(view, needs.channels),
        *check_roles(view, needs.roles),
    ]


def overall(findings: Iterable[Finding]) -> Status:
    """The worst status among the findings (ok when there are none)."""
    worst: Status = "ok"
    for f in findings:
        if _RANK[f.status] > _RANK[worst]:
            worst = f.status
    return worst


@dataclass
class Report:
    """The whole self-check: overall status and every finding in order."""

    guild_id: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """Worst of the findings."""
        return overall(self.findings)
