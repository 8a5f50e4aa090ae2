"""Activities of an anti-nuke incident: its record, and putting back what the actor destroyed.

Every restore is idempotent: before creating a role or channel it looks for one with the same
name and shape (a retry after a lost response finds the one it made), a webhook already gone is
success, and giving roles back sets the member's roles rather than adding to them. Discord's
429 waits `retry_after`; 403/404 are non-retryable and reported as notes (see `DiscordHttp`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from domain.anti_nuke import ChannelRecord, Evidence, RoleRecord
from storage.models import AntiNukeIncident
from storage.servers import ensure_server_exists


@dataclass(frozen=True)
class IncidentInput:
    """The incident as first recorded (one row per workflow run)."""

    guild_id: int
    actor_id: int
    workflow_id: str
    workflow_run_id: str
    trigger: str
    summary: str
    mitigation: str
    removed_role_ids: list[int]
    evidence: list[Evidence]
    started_at: datetime


@dataclass(frozen=True)
class CloseIncidentInput:
    """How the incident ended."""

    workflow_run_id: str
    status: str
    evidence: list[Evidence]
    approval_id: str | None
    decided_by: str | None
    closed_at: datetime
    report: list[str]


@dataclass(frozen=True)
class RestoreRoleInput:
    """A deleted role to create again."""

    guild_id: int
    role: RoleRecord
    reason: str


@dataclass(frozen=True)
class RestoreChannelInput:
    """A deleted channel to create again (ids already mapped to restored roles and parents)."""

    guild_id: int
    channel: ChannelRecord
    reason: str


@dataclass(frozen=True)
class Restored:
    """The new object's id (None: not restored), and a line for the report."""

    new_id: int | None
    note: str


@dataclass(frozen=True)
class RolePositionsInput:
    """Restored roles and where they stood."""

    guild_id: int
    positions: list[tuple[int, int]]
    reason: str


@dataclass(frozen=True)
class WebhookInput:
    """A webhook the actor created."""

    webhook_id: int
    reason: str


@dataclass(frozen=True)
class RoleEditInput:
    """Permissions to take from (or give back to) a role."""

    guild_id: int
    role_id: int
    add: int = 0
    remove: int = 0
    reason: str = ""


@dataclass(frozen=True)
class GiveBackInput:
    """A member's roles as they were before the quarantine (the quarantine role comes off)."""

    guild_id: int
    user_id: int
    role_ids: list[int]
    quarantine_role_id: int | None
    reason: str


@dataclass(frozen=True)
class MemberRoleInput:
    """One role to take from a member (a dangerous role the actor handed out)."""

    guild_id: int
    user_id: int
    role_id: int
    reason: str


def _refusal(err: ApplicationError) -> str:
    """Why Discord said no, for the report (403: missing permission, 404: gone)."""
    return str(err.message)[:160]


class AntiNukeActivities:
    """Incident rows and restores through Discord REST."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="antinuke_record_incident")
    async def record_incident(self, inp: IncidentInput) -> int:
        """Insert the incident row once per run; a retry returns the row it made."""
        async with self._sessions() as session, session.begin():
            found = await session.scalar(
                select(AntiNukeIncident.id).where(
                    AntiNukeIncident.workflow_run_id == inp.workflow_run_id
                )
            )
            if found is not None:
                return int(found)
            await ensure_server_exists(session, inp.guild_id)
            row = AntiNukeIncident(
                guild_id=inp.guild_id,
                actor_id=inp.actor_id,
                workflow_id=inp.workflow_id,
                workflow_run_id=inp.workflow_run_id,
                trigger=inp.trigger,
                summary=inp.summary,
                mitigation=inp.mitigation,
                removed_role_ids=[str(r) for r in inp.removed_role_ids],
                evidence=[_evidence_json(e) for e in inp.evidence],
                started_at=inp.started_at,
            )
            session.add(row)
            await session.flush()
            return int(row.id)

    @activity.defn(name="antinuke_close_incident")
    async def close_incident(self, inp: CloseIncidentInput) -> None:
        """Write the outcome (setting the same values twice changes nothing)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(AntiNukeIncident)
                .where(AntiNukeIncident.workflow_run_id == inp.workflow_run_id)
                .values(
                    status=inp.status,
                    evidence=[_evidence_json(e) for e in inp.evidence],
                    approval_id=inp.approval_id,
                    decided_by=inp.decided_by,
                    closed_at=inp.closed_at,
                    report=inp.report,
                )
            )

    @activity.defn(name="antinuke_restore_role")
    async def restore_role(self, inp: RestoreRoleInput) -> Restored:
        """Create the role again, unless one of the same name and permissions is there."""
        r = inp.role
        path = f"/guilds/{inp.guild_id}/roles"
        for existing in await self._http.request("GET", path) or []:
            if existing["name"] == r.name and int(existing["permissions"]) == r.permissions:
                return Restored(int(existing["id"]), f"role {r.name}: already there")
        body = {
            "name": r.name,
            "permissions": str(r.permissions),
            "color": r.color,
            "hoist": r.hoist,
            "mentionable": r.mentionable,
        }
        try:
            made = await self._http.request("POST", path, json=body, reason=inp.reason)
        except ApplicationError as err:
            if err.non_retryable:
                return Restored(None, f"role {r.name}: not restored ({_refusal(err)})")
            raise
        return Restored(int(made["id"]), f"role {r.name}: restored")

    @activity.defn(name="antinuke_move_roles")
    async def move_roles(self, inp: RolePositionsInput) -> str:
        """Put restored roles back where they stood (best effort: the bot must outrank them)."""
        body = [{"id": str(i), "position": p} for i, p in inp.positions]
        try:
            await self._http.request(
                "PATCH", f"/guilds/{inp.guild_id}/roles", json=body, reason=inp.reason
            )
        except ApplicationError as err:
            if err.non_retryable:
                return f"role positions: not restored ({_refusal(err)})"
            raise
        return "role positions: restored"

    @activity.defn(name="antinuke_restore_channel")
    async def restore_channel(self, inp: RestoreChannelInput) -> Restored:
        """Create the channel again with its overwrites, unless its twin is already there."""
        c = inp.channel
        path = f"/guilds/{inp.guild_id}/channels"
        for existing in await self._http.request("GET", path) or []:
            same_parent = _id_or_none(existing.get("parent_id")) == c.parent_id
            if existing["name"] == c.name and existing["type"] == c.type and same_parent:
                return Restored(int(existing["id"]), f"#{c.name}: already there")
        try:
            made = await self._http.request("POST", path, json=_channel_body(c), reason=inp.reason)
        except ApplicationError as err:
            if err.non_retryable:
                return Restored(None, f"#{c.name}: not restored ({_refusal(err)})")
            raise
        return Restored(int(made["id"]), f"#{c.name}: restored (messages cannot come back)")

    @activity.defn(name="antinuke_delete_webhook")
    async def delete_webhook(self, inp: WebhookInput) -> str:
        """Delete a webhook the actor made; one already gone is fine."""
        try:
            await self._http.request("DELETE", f"/webhooks/{inp.webhook_id}", reason=inp.reason)
        except ApplicationError as err:
            if refused_with(err, 404):
                return f"webhook {inp.webhook_id}: already gone"
            if err.non_retryable:
                return f"webhook {inp.webhook_id}: not deleted ({_refusal(err)})"
            raise
        return f"webhook {inp.webhook_id}: deleted"

    @activity.defn(name="antinuke_edit_role_permissions")
    async def edit_role_permissions(self, inp: RoleEditInput) -> str:
        """Add or remove permission bits on a role (a grant undone, a bot's role given back)."""
        path = f"/guilds/{inp.guild_id}/roles/{inp.role_id}"
        try:
            role = await self._http.request("GET", path)
            perms = (int(role["permissions"]) | inp.add) & ~inp.remove
            await self._http.request(
                "PATCH", path, json={"permissions": str(perms)}, reason=inp.reason
            )
        except ApplicationError as err:
            if err.non_retryable:
                return f"role {inp.role_id}: not changed ({_refusal(err)})"
            raise
        return f"role {role['name']}: permissions set to {perms}"

    @activity.defn(name="antinuke_take_role")
    async def take_role(self, inp: MemberRoleInput) -> str:
        """Take a dangerous role the actor handed out (a member who left is fine)."""
        path = f"/guilds/{inp.guild_id}/members/{inp.user_id}/roles/{inp.role_id}"
        try:
            await self._http.request("DELETE", path, reason=inp.reason)
        except ApplicationError as err:
            if err.non_retryable:
                return f"role {inp.role_id} of <@{inp.user_id}>: not taken ({_refusal(err)})"
            raise
        return f"role {inp.role_id} taken from <@{inp.user_id}>"

    @activity.defn(name="antinuke_give_roles_back")
    async def give_roles_back(self, inp: GiveBackInput) -> str:
        """A false alarm: the member's roles as they were, without the quarantine role."""
        path = f"/guilds/{inp.guild_id}/members/{inp.user_id}"
        try:
            member = await self._http.request("GET", path)
            roles = await self._http.request("GET", f"/guilds/{inp.guild_id}/roles")
            alive = {int(r["id"]) for r in roles}
            keep = [int(r) for r in member["roles"] if int(r) != inp.quarantine_role_id]
            wanted = list(dict.fromkeys([*keep, *(r for r in inp.role_ids if r in alive)]))
            await self._http.request("PATCH", path, json={"roles": wanted}, reason=inp.reason)
        except ApplicationError as err:
            if err.non_retryable:
                return f"roles of <@{inp.user_id}>: not given back ({_refusal(err)})"
            raise
        return f"roles of <@{inp.user_id}> given back ({len(wanted)} roles)"


def _id_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _channel_body(c: ChannelRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": c.name,
        "type": c.type,
        "position": c.position,
        "nsfw": c.nsfw,
        "permission_overwrites": [
            {"id": str(o.target_id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in c.overwrites
        ],
    }
    if c.topic is not None:
        body["topic"] = c.topic
    if c.parent_id is not None:
        body["parent_id"] = str(c.parent_id)
    if c.rate_limit_per_user:
        body["rate_limit_per_user"] = c.rate_limit_per_user
    return body


def _evidence_json(e: Evidence) -> dict[str, Any]:
    data = asdict(e)
    data["at"] = e.at.isoformat()
    return _stringify_ids(data)


def _stringify_ids(value: Any) -> Any:
    """Snowflakes as strings in JSON (JavaScript readers lose precision on big integers)."""
    if isinstance(value, dict):
        return {k: _stringify_ids(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify_ids(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**53:
        return str(value)
    return value
