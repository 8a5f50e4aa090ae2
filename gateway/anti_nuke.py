"""Anti-nuke on the fast path: hold a destructive actor at once, then hand over to the workflow.

Audit log entries (``on_audit_log_entry_create``) become :class:`NukeAction` values for the pure
:class:`NukeWatch`. Channel and role deletions are also kept as records, from the delete events
that carry the object as it was (bounded per server), so the incident can restore them.

On a verdict the actor is held before anything else: a member's roles are swapped for the
quarantine role (no permissions); a bot's managed role loses its dangerous permissions (or the
bot is kicked, per config). Only then is the incident workflow started (signal-with-start);
later actions of the same actor are signalled to it as more evidence.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord

from domain.anti_nuke import (
    DANGEROUS_PERMISSIONS,
    ActionKind,
    Actor,
    ChannelRecord,
    Evidence,
    NukeAction,
    NukeVerdict,
    NukeWatch,
    OverwriteRecord,
    RoleRecord,
    dangerous_added,
)
from workflows.anti_nuke import (
    EVIDENCE_SIGNAL,
    AntiNukeInput,
    AntiNukeWorkflow,
    anti_nuke_workflow_id,
)

if TYPE_CHECKING:
    from gateway.bot import SuiteBot

log = logging.getLogger(__name__)

QUARANTINE_NAME = "Quarantine"
MAX_RECORDS_PER_GUILD = 500
MAX_GUILDS = 1000
START_ATTEMPTS = 3
_KINDS: dict[discord.AuditLogAction, ActionKind] = {
    discord.AuditLogAction.channel_delete: "channel_delete",
    discord.AuditLogAction.role_delete: "role_delete",
    discord.AuditLogAction.ban: "ban",
    discord.AuditLogAction.kick: "kick",
    discord.AuditLogAction.webhook_create: "webhook_create",
}


class _Bounded:
    """Per-server records, oldest forgotten first (servers too)."""

    def __init__(self) -> None:
        self._guilds: OrderedDict[int, OrderedDict[object, object]] = OrderedDict()

    def put(self, guild_id: int, key: object, value: object) -> None:
        records = self._guilds.get(guild_id)
        if records is None:
            records = self._guilds[guild_id] = OrderedDict()
            if len(self._guilds) > MAX_GUILDS:
                self._guilds.popitem(last=False)
        records[key] = value
        records.move_to_end(key)
        if len(records) > MAX_RECORDS_PER_GUILD:
            records.popitem(last=False)

    def find(self, guild_id: int, key: object) -> object:
        records = self._guilds.get(guild_id)
        return records.get(key) if records is not None else None


@dataclass
class Hold:
    """What the gateway did to the actor, for the workflow (and a false alarm's release)."""

    mitigation: str
    removed_role_ids: list[int] = field(default_factory=list)
    quarantine_role_id: int | None = None
    stripped_role_id: int | None = None
    stripped_permissions: int = 0


class AntiNukeGuard:
    """The gateway side of anti-nuke; SuiteBot forwards audit entries and deletions to it."""

    def __init__(self, bot: SuiteBot) -> None:
        self.bot = bot
        self.watch = NukeWatch()
        self._deleted = _Bounded()
        self._evidence = _Bounded()
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}
        self.holds: dict[tuple[int, int], Hold] = {}

    # ------------------------------------------------------------------------- records

    def on_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Keep the channel as it was, so a restore can create it again."""
        self._deleted.put(channel.guild.id, channel.id, channel_record(channel))

    def on_role_delete(self, role: discord.Role) -> None:
        """Keep the role as it was."""
        self._deleted.put(role.guild.id, role.id, role_record(role))

    # ------------------------------------------------------------------------- verdicts

    async def on_audit_log_entry(self, entry: discord.AuditLogEntry) -> None:
        """Count destructive actions; a verdict holds the actor and starts or feeds the incident."""
        if entry.user_id is None:
            return
        guild = entry.guild
        config = self.bot.guild_config(guild.id).anti_nuke
        if not config.enabled:
            return
        actor = self._actor(guild, entry.user_id)
        policy = config.to_domain()
        for evidence in self._evidence_of(entry):
            action = NukeAction(
                guild.id, entry.user_id, evidence.kind, evidence.target_id, evidence.at
            )
            self._evidence.put(guild.id, (entry.user_id, evidence.key), evidence)
            verdict = self.watch.observe(action, actor, policy)
            if verdict is not None:
                await self._act(guild, verdict)

    def _actor(self, guild: discord.Guild, user_id: int) -> Actor:
        me = self.bot.user
        member = guild.get_member(user_id)
        return Actor(
            user_id=user_id,
            role_ids=frozenset(r.id for r in member.roles) if member else frozenset(),
            is_owner=user_id == guild.owner_id,
            is_self=me is not None and user_id == me.id,
        )

    def _evidence_of(self, entry: discord.AuditLogEntry) -> list[Evidence]:
        """What the entry means for anti-nuke (often nothing)."""
        at = entry.created_at.astimezone(UTC)
        target = getattr(entry.target, "id", None)
        kind = _KINDS.get(entry.action)
        if kind is not None:
            return [self._with_record(entry, kind, target, at)]
        if entry.action in (discord.AuditLogAction.role_update, discord.AuditLogAction.role_create):
            before = getattr(getattr(entry.before, "permissions", None), "value", 0)
            after = getattr(getattr(entry.after, "permissions", None), "value", before)
            granted = dangerous_added(before, after)
            if granted:
                detail = f"role {target} granted {_perm_names(granted)}"
                return [Evidence("dangerous_grant", target, at, detail, granted=granted)]
        if entry.action == discord.AuditLogAction.member_role_update:
            return [
                Evidence(
                    "dangerous_grant",
                    target,
                    at,
                    f"<@{target}> given @{role.name}",
                    role_given=role.id,
                )
                for role in _dangerous_roles(entry)
            ]
        return []

    def _with_record(
        self, entry: discord.AuditLogEntry, kind: ActionKind, target: int | None, at: datetime
    ) -> Evidence:
        record = self._deleted.find(entry.guild.id, target) if target is not None else None
        if kind == "channel_delete":
            channel = record if isinstance(record, ChannelRecord) else _channel_from_entry(entry)
            name = f"#{channel.name}" if channel else str(target)
            return Evidence(kind, target, at, name, channel=channel)
        if kind == "role_delete":
            role = record if isinstance(record, RoleRecord) else _role_from_entry(entry)
            name = f"@{role.name}" if role else str(target)
            return Evidence(kind, target, at, name, role=role)
        return Evidence(kind, target, at, f"<@{target}>" if kind in ("ban", "kick") else "")

    async def _act(self, guild: discord.Guild, verdict: NukeVerdict) -> None:
        """First verdict: hold, then start the incident; follow-ups: more evidence (in order)."""
        key = (guild.id, verdict.actor_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        evidence = [self._stored(guild.id, a) for a in verdict.evidence]
        async with lock:
            if verdict.first:
                hold = await self.hold(guild, verdict.actor_id)
                self.holds[key] = hold
                await self._start(guild, verdict, hold, evidence)
            else:
                await self._signal(guild.id, verdict.actor_id, evidence)

    def _stored(self, guild_id: int, action: NukeAction) -> Evidence:
        key = f"{action.kind}:{action.target_id}"
        found = self._evidence.find(guild_id, (action.actor_id, key))
        if isinstance(found, Evidence):
            return found
        return Evidence(action.kind, action.target_id, action.at, action.detail)

    # ------------------------------------------------------------------------- holding

    async def hold(self, guild: discord.Guild, actor_id: int) -> Hold:
        """Take the actor's power away at once (no workflow round trip)."""
        member = guild.get_member(actor_id)
        if member is None:
            try:
                member = await guild.fetch_member(actor_id)
            except discord.HTTPException:
                log.warning("anti-nuke: actor %s is not a member of %s", actor_id, guild.id)
                return Hold("failed")
        config = self.bot.guild_config(guild.id).anti_nuke
        reason = "anti-nuke: destructive actions in a short window"
        try:
            if member.bot and config.bot_action == "kick":
                await member.kick(reason=reason)
                return Hold("bot_kicked")
            stripped = await self._strip_bot_role(member, reason) if member.bot else None
            hold = await self._quarantine(member, reason)
        except discord.HTTPException:
            log.exception("anti-nuke: could not hold %s in %s", actor_id, guild.id)
            return Hold("failed")
        if stripped is not None:
            hold.mitigation, hold.stripped_role_id, hold.stripped_permissions = (
                "bot_stripped",
                *stripped,
            )
        return hold

    async def _strip_bot_role(self, member: discord.Member, reason: str) -> tuple[int, int] | None:
        """A bot's own managed role loses its dangerous permissions: (role id, bits taken)."""
        for role in member.roles:
            if role.is_bot_managed() and role.permissions.value & DANGEROUS_PERMISSIONS:
                taken = role.permissions.value & DANGEROUS_PERMISSIONS
                permissions = discord.Permissions(role.permissions.value & ~DANGEROUS_PERMISSIONS)
                await role.edit(permissions=permissions, reason=reason)
                return role.id, taken
        return None

    async def _quarantine(self, member: discord.Member, reason: str) -> Hold:
        """Every role the bot may remove goes; the quarantine role (no permissions) comes."""
        quarantine = await self.quarantine_role(member.guild)
        kept = [r for r in member.roles if r.managed or r.is_default()]
        removed = [r.id for r in member.roles if r not in kept and r.id != quarantine.id]
        roles = [r for r in kept if not r.is_default()] + [quarantine]
        await member.edit(roles=roles, reason=reason)
        return Hold("quarantined", removed, quarantine.id)

    async def quarantine_role(self, guild: discord.Guild) -> discord.Role:
        """The configured quarantine role, or one named Quarantine, created without permissions."""
        configured = self.bot.guild_config(guild.id).anti_nuke.quarantine_role_id
        role = guild.get_role(configured) if configured else None
        role = role or discord.utils.get(guild.roles, name=QUARANTINE_NAME)
        if role is not None:
            return role
        return await guild.create_role(
            name=QUARANTINE_NAME,
            permissions=discord.Permissions.none(),
            reason="anti-nuke: quarantine role",
        )

    # ------------------------------------------------------------------------- the workflow

    async def _start(
        self, guild: discord.Guild, verdict: NukeVerdict, hold: Hold, evidence: list[Evidence]
    ) -> None:
        config = self.bot.guild_config(guild.id)
        inp = AntiNukeInput(
            guild_id=guild.id,
            actor_id=verdict.actor_id,
            trigger=verdict.kind,
            summary=verdict.summary(),
            mitigation=hold.mitigation,
            removed_role_ids=hold.removed_role_ids,
            quarantine_role_id=hold.quarantine_role_id,
            stripped_role_id=hold.stripped_role_id,
            stripped_permissions=hold.stripped_permissions,
            mod_log_channel_id=config.mod_log_channel_id,
            approval_timeout_minutes=config.approvals.timeout_minutes,
        )
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self.bot.temporal.start_workflow(
                    AntiNukeWorkflow.run,
                    inp,
                    id=anti_nuke_workflow_id(guild.id, verdict.actor_id),
                    task_queue=self.bot.task_queue,
                    start_signal=EVIDENCE_SIGNAL,
                    start_signal_args=[evidence],
                )
                return
            except Exception:
                if attempt == START_ATTEMPTS:
                    log.exception("anti-nuke: incident for %s not started", verdict.actor_id)
                    return
                await asyncio.sleep(0.2 * 2**attempt)

    async def _signal(self, guild_id: int, actor_id: int, evidence: list[Evidence]) -> None:
        handle = self.bot.temporal.get_workflow_handle(anti_nuke_workflow_id(guild_id, actor_id))
        try:
            await handle.signal(EVIDENCE_SIGNAL, evidence)
        except Exception:
            log.warning("anti-nuke: evidence for %s not delivered", actor_id, exc_info=True)


# ---------------------------------------------------------------------------------------------
# Snapshots of discord objects
# ---------------------------------------------------------------------------------------------


def channel_record(channel: discord.abc.GuildChannel) -> ChannelRecord:
    """The channel as a restore needs it (name, type, place, topic, overwrites)."""
    overwrites = []
    for target, overwrite in channel.overwrites.items():
        allow, deny = overwrite.pair()
        is_role = isinstance(target, discord.Role) or getattr(target, "type", None) is discord.Role
        overwrites.append(OverwriteRecord(target.id, 0 if is_role else 1, allow.value, deny.value))
    return ChannelRecord(
        channel_id=channel.id,
        name=channel.name,
        type=channel.type.value,
        position=channel.position,
        topic=getattr(channel, "topic", None),
        parent_id=channel.category_id,
        nsfw=bool(getattr(channel, "nsfw", False)),
        rate_limit_per_user=int(getattr(channel, "slowmode_delay", 0) or 0),
        overwrites=tuple(overwrites),
    )


def role_record(role: discord.Role) -> RoleRecord:
    """The role as a restore needs it."""
    return RoleRecord(
        role_id=role.id,
        name=role.name,
        permissions=role.permissions.value,
        color=role.colour.value,
        hoist=role.hoist,
        mentionable=role.mentionable,
        position=role.position,
    )


def _channel_from_entry(entry: discord.AuditLogEntry) -> ChannelRecord | None:
    """The audit entry's old values, when the delete event was missed (no topic or parent)."""
    before = entry.before
    name = getattr(before, "name", None)
    if name is None or entry.target is None:
        return None
    kind = getattr(before, "type", None)
    overwrites = []
    for target, overwrite in getattr(before, "overwrites", None) or []:
        allow, deny = overwrite.pair()
        is_role = isinstance(target, discord.Role) or getattr(target, "type", None) is discord.Role
        overwrites.append(OverwriteRecord(target.id, 0 if is_role else 1, allow.value, deny.value))
    return ChannelRecord(
        channel_id=int(entry.target.id),
        name=name,
        type=int(getattr(kind, "value", kind) or 0),
        position=0,
        nsfw=bool(getattr(before, "nsfw", False)),
        rate_limit_per_user=int(getattr(before, "slowmode_delay", 0) or 0),
        overwrites=tuple(overwrites),
    )


def _role_from_entry(entry: discord.AuditLogEntry) -> RoleRecord | None:
    before = entry.before
    name = getattr(before, "name", None)
    if name is None or entry.target is None:
        return None
    return RoleRecord(
        role_id=int(entry.target.id),
        name=name,
        permissions=getattr(getattr(before, "permissions", None), "value", 0),
        color=getattr(getattr(before, "colour", None), "value", 0),
        hoist=bool(getattr(before, "hoist", False)),
        mentionable=bool(getattr(before, "mentionable", False)),
    )


def _dangerous_roles(entry: discord.AuditLogEntry) -> list[discord.Role]:
    """Roles an entry handed to a member that carry dangerous permissions."""
    found = []
    for added in getattr(entry.after, "roles", None) or []:
        role = entry.guild.get_role(added.id)
        if role is not None and role.permissions.value & DANGEROUS_PERMISSIONS:
            found.append(role)
    return found


def _perm_names(bits: int) -> str:
    names = [name for name, on in discord.Permissions(bits) if on]
    return ", ".join(names) or str(bits)
