"""Activities of the raid lockdown: snapshot, lock, restore, remove raiders, keep the incident.

Each one is idempotent (a PUT of the same overwrite, a DELETE that finds nothing, an upsert),
so Temporal may retry any of them. Under a rate-limit storm they wait Discord's ``retry_after``
inside the activity (heartbeating) rather than fail, so hundreds of calls make steady progress
instead of starting over; 403 and 404 are never retried.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from dcs.server_config import lockdown_settings, stored_or_default
from domain.lockdown import (
    INVITE_PAUSE,
    ChannelInfo,
    ChannelSnapshot,
    GuildSnapshot,
    LockdownPlan,
    LockdownSettings,
    Overwrite,
    RaidSuspect,
    batches,
    choose_channels,
    invites_restore_value,
    snapshot_of,
)
from domain.sanctions import MAX_TIMEOUT
from storage import raid as store
from storage.servers import get_server_config

MAX_RATE_LIMIT_WAITS = 30
"""429s one call may sit out inside an activity before it gives up (and Temporal retries)."""
_EVERYONE_ROLE = 0


@dataclass(frozen=True)
class IncidentRef:
    """The incident's row id and its number in the guild (shown to people)."""

    incident_id: int
    number: int


@dataclass(frozen=True)
class SnapshotInput:
    """Which server, and the settings that choose its channels."""

    guild_id: int
    settings: LockdownSettings


@dataclass(frozen=True)
class ApplyInput:
    """The lockdown's changes, and the audit-log reason Discord shows for them."""

    guild_id: int
    plan: LockdownPlan
    reason: str


@dataclass(frozen=True)
class RestoreInput:
    """Put back, as the snapshot says, what the plan changed."""

    snapshot: GuildSnapshot
    plan: LockdownPlan
    reason: str


@dataclass(frozen=True)
class LockResult:
    """How many changes went through, and which channels were gone or refused."""

    changed: int
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentUpdate:
    """Columns to set and/or a line to log on the incident."""

    incident_id: int
    at: datetime
    log: str | None = None
    snapshot: GuildSnapshot | None = None
    raid_invite_code: str | None = None
    raid_invite_creator_id: int | None = None
    invite_deleted: bool | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


@dataclass(frozen=True)
class MembersInput:
    """Suspects to add to the incident's log."""

    incident_id: int
    guild_id: int
    suspects: tuple[RaidSuspect, ...]


@dataclass(frozen=True)
class OutcomeInput:
    """What became of some suspects."""

    incident_id: int
    user_ids: tuple[int, ...]
    outcome: str
    at: datetime


@dataclass(frozen=True)
class RemovalInput:
    """Remove raiders: ban (200 a call), kick or time out each."""

    guild_id: int
    user_ids: tuple[int, ...]
    action: str
    reason: str
    delete_message_seconds: int = 0
    timeout_minutes: int | None = None


@dataclass(frozen=True)
class RemovalResult:
    """Who was removed and who could not be (already gone, above the bot, refused)."""

    removed: tuple[int, ...]
    failed: tuple[int, ...]


@dataclass(frozen=True)
class InviteInput:
    """The invite the raiders came through."""

    guild_id: int
    code: str
    reason: str


@dataclass(frozen=True)
class InviteResult:
    """Who created it and whether it is gone now."""

    code: str
    creator_id: int | None
    uses: int | None
    deleted: bool


def settings_from_config(raw: dict[str, Any] | None) -> LockdownSettings:
    """The lockdown part of a stored config (defaults when there is none)."""
    return lockdown_settings(stored_or_default(raw))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _everyone(channel: dict[str, Any], guild_id: int) -> Overwrite | None:
    for o in channel.get("permission_overwrites") or []:
        if int(o["id"]) == guild_id and int(o.get("type", 0)) == _EVERYONE_ROLE:
            return Overwrite(int(o.get("allow") or 0), int(o.get("deny") or 0))
    return None


def _channel_info(channel: dict[str, Any], guild_id: int) -> ChannelInfo:
    return ChannelInfo(
        channel_id=int(channel["id"]),
        name=str(channel.get("name") or ""),
        type=int(channel.get("type", 0)),
        everyone=_everyone(channel, guild_id),
        slowmode_seconds=int(channel.get("rate_limit_per_user") or 0),
    )


class RaidActivities:
    """Discord and database work of the `raid:{guild}` workflow."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions

    async def _call(
        self, method: str, path: str, json: Any = None, *, reason: str | None = None
    ) -> Any:
        """One REST call that sits out 429s (heartbeating) instead of failing the activity."""
        for _ in range(MAX_RATE_LIMIT_WAITS):
            try:
                return await self._http.request(method, path, json, reason=reason)
            except ApplicationError as err:
                if err.type != "DiscordRateLimited":
                    raise
                delay = err.next_retry_delay or timedelta(seconds=1)
                activity.heartbeat(f"429 on {method} {path}")
                await asyncio.sleep(delay.total_seconds())
        return await self._http.request(method, path, json, reason=reason)

    # -- settings and record -----------------------------------------------------------------

    @activity.defn(name="load_lockdown_settings")
    async def load_lockdown_settings(self, guild_id: int) -> LockdownSettings:
        """The guild's current lockdown settings."""
        async with self._sessions() as session:
            raw, _version = await get_server_config(session, guild_id)
        return settings_from_config(raw)

    @activity.defn(name="open_raid_incident")
    async def open_raid_incident(self, new: store.NewIncident) -> IncidentRef:
        """Create (or find, on retry) the incident row of this lockdown."""
        async with self._sessions() as session, session.begin():
            row = await store.open_incident(session, new)
            return IncidentRef(row.id, row.incident_number)

    @activity.defn(name="update_raid_incident")
    async def update_raid_incident(self, inp: IncidentUpdate) -> None:
        """Set columns and/or log a line on the incident."""
        values: dict[str, Any] = {}
        if inp.snapshot is not None:
            values["snapshot"] = snapshot_json(inp.snapshot)
        if inp.raid_invite_code is not None:
            values["raid_invite_code"] = inp.raid_invite_code
            values["raid_invite_creator_id"] = inp.raid_invite_creator_id
        if inp.invite_deleted is not None:
            values["invite_deleted"] = inp.invite_deleted
        if inp.lifted_by is not None:
            values.update(
                status="lifted", lifted_at=inp.at, lifted_by=inp.lifted_by,
                lift_reason=inp.lift_reason,
            )  # fmt: skip
        async with self._sessions() as session, session.begin():
            if values:
                await store.set_fields(session, inp.incident_id, **values)
            if inp.log:
                await store.append_log(session, inp.incident_id, inp.at, inp.log)

    @activity.defn(name="record_raid_members")
    async def record_raid_members(self, inp: MembersInput) -> None:
        """Add suspects to the incident log (idempotent per member)."""
        async with self._sessions() as session, session.begin():
            await store.add_members(session, inp.incident_id, inp.guild_id, inp.suspects)

    @activity.defn(name="set_raid_member_outcomes")
    async def set_raid_member_outcomes(self, inp: OutcomeInput) -> None:
        """Record what became of some suspects."""
        async with self._sessions() as session, session.begin():
            await store.set_outcomes(session, inp.incident_id, inp.user_ids, inp.outcome, inp.at)

    # -- Discord -----------------------------------------------------------------------------

    @activity.defn(name="snapshot_guild")
    async def snapshot_guild(self, inp: SnapshotInput) -> GuildSnapshot:
        """Read (never change) what the lockdown will touch."""
        guild = await self._call("GET", f"/guilds/{inp.guild_id}")
        channels = await self._call("GET", f"/guilds/{inp.guild_id}/channels")
        everyone_perms = 0
        for role in guild.get("roles") or []:
            if int(role["id"]) == inp.guild_id:
                everyone_perms = int(role.get("permissions") or 0)
        infos = [_channel_info(c, inp.guild_id) for c in channels]
        chosen = choose_channels(infos, everyone_perms, inp.settings)
        incidents = guild.get("incidents_data") or {}
        return GuildSnapshot(
            guild_id=inp.guild_id,
            verification_level=int(guild.get("verification_level") or 0),
            invites_disabled_until=_parse_time(incidents.get("invites_disabled_until")),
            channels=tuple(snapshot_of(c) for c in chosen),
        )

    @activity.defn(name="apply_lockdown")
    async def apply_lockdown(self, inp: ApplyInput) -> LockResult:
        """Lock: verification level, invites paused, channels closed to @everyone."""
        g, plan, changed = inp.guild_id, inp.plan, 0
        if plan.verification_level is not None:
            body = {"verification_level": plan.verification_level}
            await self._call("PATCH", f"/guilds/{g}", body, reason=inp.reason)
            changed += 1
        if plan.pause_invites:
            await self._pause_invites(g, inp.reason)
            changed += 1
        skipped: list[str] = []
        for lock in plan.channels:
            ow = {"type": 0, "allow": str(lock.everyone.allow), "deny": str(lock.everyone.deny)}
            try:
                await self._call(
                    "PUT", f"/channels/{lock.channel_id}/permissions/{g}", ow, reason=inp.reason
                )
                if lock.slowmode_seconds is not None:
                    body = {"rate_limit_per_user": lock.slowmode_seconds}
                    await self._call(
                        "PATCH", f"/channels/{lock.channel_id}", body, reason=inp.reason
                    )
            except ApplicationError as err:
                if not refused_with(err, 403, 404):
                    raise
                skipped.append(f"{lock.channel_id}: {err.type}")
                continue
            changed += 1
            activity.heartbeat(lock.channel_id)
        return LockResult(changed, tuple(skipped))

    async def _pause_invites(self, guild_id: int, reason: str) -> None:
        until = datetime.now(UTC) + INVITE_PAUSE - timedelta(seconds=30)
        body = {"invites_disabled_until": until.isoformat(), "dms_disabled_until": None}
        await self._call("PUT", f"/guilds/{guild_id}/incident-actions", body, reason=reason)

    @activity.defn(name="renew_invite_pause")
    async def renew_invite_pause(self, guild_id: int) -> None:
        """Discord pauses invites for 24 h at most: a longer lockdown renews it."""
        await self._pause_invites(guild_id, "raid lockdown still active")

    @activity.defn(name="restore_lockdown")
    async def restore_lockdown(self, inp: RestoreInput) -> LockResult:
        """Put back every overwrite, slowmode, the verification level and the invite pause."""
        snap, changed, skipped = inp.snapshot, 0, []
        g = snap.guild_id
        slowed = {c.channel_id for c in inp.plan.channels if c.slowmode_seconds is not None}
        for ch in snap.channels:
            try:
                await self._restore_channel(g, ch, ch.channel_id in slowed, inp.reason)
            except ApplicationError as err:
                if not refused_with(err, 403, 404):
                    raise
                skipped.append(f"{ch.name or ch.channel_id}: {err.type}")
                continue
            changed += 1
            activity.heartbeat(ch.channel_id)
        if inp.plan.verification_level is not None:
            body = {"verification_level": snap.verification_level}
            await self._call("PATCH", f"/guilds/{g}", body, reason=inp.reason)
            changed += 1
        if inp.plan.pause_invites:
            until = invites_restore_value(snap, datetime.now(UTC))
            incident = {"invites_disabled_until": until.isoformat() if until else None}
            await self._call("PUT", f"/guilds/{g}/incident-actions", incident, reason=inp.reason)
            changed += 1
        return LockResult(changed, tuple(skipped))

    async def _restore_channel(
        self, guild_id: int, ch: ChannelSnapshot, slowed: bool, reason: str
    ) -> None:
        path = f"/channels/{ch.channel_id}/permissions/{guild_id}"
        if ch.everyone is None:
            await self._delete_overwrite(path, reason)
        else:
            ow = {"type": 0, "allow": str(ch.everyone.allow), "deny": str(ch.everyone.deny)}
            await self._call("PUT", path, ow, reason=reason)
        if slowed:
            body = {"rate_limit_per_user": ch.slowmode_seconds}
            await self._call("PATCH", f"/channels/{ch.channel_id}", body, reason=reason)

    async def _delete_overwrite(self, path: str, reason: str) -> None:
        try:
            await self._call("DELETE", path, reason=reason)
        except ApplicationError as err:
            if not refused_with(err, 404):  # none there: already as it was
                raise

    @activity.defn(name="remove_raiders")
    async def remove_raiders(self, inp: RemovalInput) -> RemovalResult:
        """Ban 200 a call with the bulk endpoint, or kick / time out one by one."""
        if inp.action == "ban":
            return await self._bulk_ban(inp)
        removed: list[int] = []
        failed: list[int] = []
        for user_id in inp.user_ids:
            try:
                await self._remove_one(inp, user_id)
            except ApplicationError as err:
                if not err.non_retryable:
                    raise
                failed.append(user_id)
                continue
            removed.append(user_id)
            activity.heartbeat(user_id)
        return RemovalResult(tuple(removed), tuple(failed))

    async def _remove_one(self, inp: RemovalInput, user_id: int) -> None:
        path = f"/guilds/{inp.guild_id}/members/{user_id}"
        if inp.action == "kick":
            await self._call("DELETE", path, reason=inp.reason)
            return
        minutes = inp.timeout_minutes or 60
        until = datetime.now(UTC) + min(timedelta(minutes=minutes), MAX_TIMEOUT)
        body = {"communication_disabled_until": until.isoformat()}
        await self._call("PATCH", path, body, reason=inp.reason)

    async def _bulk_ban(self, inp: RemovalInput) -> RemovalResult:
        removed: list[int] = []
        failed: list[int] = []
        for chunk in batches(inp.user_ids):
            body = {
                "user_ids": [str(u) for u in chunk],
                "delete_message_seconds": inp.delete_message_seconds,
            }
            try:
                result = await self._call(
                    "POST", f"/guilds/{inp.guild_id}/bulk-ban", body, reason=inp.reason
                )
            except ApplicationError as err:
                if not refused_with(err, 400, 403):  # 400: none of them could be banned
                    raise
                failed.extend(chunk)
                continue
            removed.extend(int(u) for u in result.get("banned_users") or [])
            failed.extend(int(u) for u in result.get("failed_users") or [])
            activity.heartbeat(len(removed))
        return RemovalResult(tuple(removed), tuple(failed))

    @activity.defn(name="delete_raid_invite")
    async def delete_raid_invite(self, inp: InviteInput) -> InviteResult:
        """Note who made the raiders' invite, then revoke it (already gone is fine)."""
        creator: int | None = None
        uses: int | None = None
        try:
            invites = await self._call("GET", f"/guilds/{inp.guild_id}/invites")
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            invites = []
        for invite in invites or []:
            if invite.get("code") == inp.code:
                inviter = invite.get("inviter") or {}
                creator = int(inviter["id"]) if inviter.get("id") else None
                uses = invite.get("uses")
        try:
            await self._call("DELETE", f"/invites/{inp.code}", reason=inp.reason)
        except ApplicationError as err:
            if not refused_with(err, 404):
                raise
            return InviteResult(inp.code, creator, uses, deleted=False)
        return InviteResult(inp.code, creator, uses, deleted=True)


def snapshot_json(snap: GuildSnapshot) -> dict[str, Any]:
    """The snapshot as the incident row stores it (for people and the API)."""
    return {
        "verification_level": snap.verification_level,
        "invites_disabled_until": (
            snap.invites_disabled_until.isoformat() if snap.invites_disabled_until else None
        ),
        "channels": [
            {
                "channel_id": str(c.channel_id),
                "name": c.name,
                "everyone": (
                    None
                    if c.everyone is None
                    else {"allow": str(c.everyone.allow), "deny": str(c.everyone.deny)}
                ),
                "slowmode_seconds": c.slowmode_seconds,
            }
            for c in snap.channels
        ],
    }
