"""Activities that act on a member through Discord REST: timeouts, kicks, bans, DMs, approval posts.

Each is idempotent and honest about failure (see `DiscordHttp`: 429 waits `retry_after`, 5xx is
retried with backoff, 403 is never retried). Where a 404 means the work is already done, it is
success: a kick of a member who already left, an unban of someone no longer banned, lifting a
timeout of a member who is gone. A DM the member does not accept (403) is reported, not raised:
a closed inbox must never stop the sanction that follows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from domain.catalogue import text
from domain.sanctions import MAX_TIMEOUT
from storage.models import PendingApproval

_BUTTON_PRIMARY, _BUTTON_SECONDARY, _BUTTON_SUCCESS, _BUTTON_DANGER = 1, 2, 3, 4


def approval_custom_id(approval_id: str, choice: str) -> str:
    """The custom_id of an approval button: approval:{id}:approve|reject|modify."""
    return f"approval:{approval_id}:{choice}"


def appeal_custom_id(guild_id: int, sanction: str) -> str:
    """The custom_id of the Appeal button in a sanction DM: appeal:{guild}:{sanction}."""
    return f"appeal:{guild_id}:{sanction}"


def _nonce(*parts: object) -> str:
    """A stable nonce (<= 25 chars), so a retried post shows once."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:25]


@dataclass(frozen=True)
class MemberActionInput:
    """Kick, unban or lift a timeout: who, and why (for Discord's audit log)."""

    guild_id: int
    user_id: int
    reason: str


@dataclass(frozen=True)
class TimeoutInput:
    """Time a member out for `seconds` from when Discord is asked (at most 28 days)."""

    guild_id: int
    user_id: int
    seconds: int
    reason: str


@dataclass(frozen=True)
class BanInput:
    """Ban a user, optionally deleting their recent messages."""

    guild_id: int
    user_id: int
    reason: str
    delete_message_seconds: int = 0


@dataclass(frozen=True)
class ActionResult:
    """`applied` False with a note when there was nothing to do (already gone, not banned)."""

    applied: bool
    note: str = ""


@dataclass(frozen=True)
class DirectMessageInput:
    """A DM to a member; with `appeal_custom_id` it carries an Appeal button."""

    guild_id: int
    user_id: int
    content: str
    key: str
    """Stable per message, for the nonce."""
    appeal_custom_id: str | None = None
    language: str = "en"
    """The server's language, for the button's label."""


@dataclass(frozen=True)
class DmResult:
    """Whether the member got the DM."""

    delivered: bool
    message_id: int | None = None
    note: str = ""


@dataclass(frozen=True)
class ApprovalPostInput:
    """The mod-log message that asks moderators to decide, with buttons."""

    approval_id: str
    channel_id: int
    guild_id: int
    user_id: int | None
    action: str
    reason: str
    expires_at: datetime
    duration_minutes: int | None = None
    case_number: int | None = None
    excerpt: str | None = None
    modify_allowed: bool = True
    title: str = "Approval needed"
    members_text: str | None = None
    """Shown instead of a mention when the request is about many members."""


@dataclass(frozen=True)
class ApprovalEditInput:
    """Replace an approval message's buttons with how it ended."""

    channel_id: int
    message_id: int
    title: str
    summary: str
    status: str


@dataclass(frozen=True)
class AlertInput:
    """A message for the staff in the mod-log channel."""

    channel_id: int
    text: str
    key: str


def _duration_text(minutes: int | None) -> str:
    if not minutes:
        return "permanent"
    if minutes % (60 * 24) == 0:
        return f"{minutes // (60 * 24)} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def approval_message(inp: ApprovalPostInput) -> dict[str, Any]:
    """The approval request as a Discord message body (embed and buttons)."""
    action = inp.action
    if inp.action in ("timeout", "ban"):
        action = f"{inp.action} ({_duration_text(inp.duration_minutes)})"
    fields = [
        {
            "name": "Members" if inp.user_id is None else "Member",
            "value": inp.members_text or f"<@{inp.user_id}>",
            "inline": True,
        },
        {"name": "Action", "value": action, "inline": True},
        {"name": "Reason", "value": inp.reason[:1024] or "-", "inline": False},
        {
            "name": "Expires",
            "value": f"<t:{int(inp.expires_at.timestamp())}:R>",
            "inline": True,
        },
    ]
    if inp.case_number is not None:
        fields.append({"name": "Case", "value": f"#{inp.case_number}", "inline": True})
    if inp.excerpt:
        fields.append({"name": "Evidence", "value": f"`{inp.excerpt[:1000]}`", "inline": False})
    buttons = [
        {
            "type": 2,
            "style": _BUTTON_SUCCESS,
            "label": "Approve",
            "custom_id": approval_custom_id(inp.approval_id, "approve"),
        },
        {
            "type": 2,
            "style": _BUTTON_DANGER,
            "label": "Reject",
            "custom_id": approval_custom_id(inp.approval_id, "reject"),
        },
    ]
    if inp.modify_allowed:
        buttons.append(
            {
                "type": 2,
                "style": _BUTTON_SECONDARY,
                "label": "Modify",
                "custom_id": approval_custom_id(inp.approval_id, "modify"),
            }
        )
    return {
        "embeds": [{"title": inp.title, "color": 0xF1C40F, "fields": fields}],
        "components": [{"type": 1, "components": buttons}],
        "nonce": _nonce("approval", inp.approval_id),
        "enforce_nonce": True,
        "allowed_mentions": {"parse": []},
    }


@dataclass(frozen=True)
class MemberNames:
    """Readable names for an approval request: people decide faster on 'bob' than on an id."""

    guild_name: str | None = None
    user_name: str | None = None


class ModerationActions:
    """What the member's moderation workflow does on Discord."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="apply_timeout")
    async def apply_timeout(self, inp: TimeoutInput) -> ActionResult:
        """Set communication_disabled_until; a member not in the guild is noted, not an error.

        The end is counted from now (the activity's clock), so a retry extends it by at most
        the retry delay; the workflow tracks the true end and re-applies on rejoin.
        """
        seconds = min(inp.seconds, int(MAX_TIMEOUT.total_seconds()))
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        path = f"/guilds/{inp.guild_id}/members/{inp.user_id}"
        try:
            await self._http.request(
                "PATCH",
                path,
                json={"communication_disabled_until": until.isoformat()},
                reason=inp.reason,
            )
        except ApplicationError as err:
            if refused_with(err, 404):
                return ActionResult(False, "member is not in the guild")
            raise
        return ActionResult(True)

    @activity.defn(name="remove_timeout")
    async def remove_timeout(self, inp: MemberActionInput) -> ActionResult:
        """Clear communication_disabled_until (a member who left has nothing to clear)."""
        path = f"/guilds/{inp.guild_id}/members/{inp.user_id}"
        try:
            await self._http.request(
                "PATCH", path, json={"communication_disabled_until": None}, reason=inp.reason
            )
        except ApplicationError as err:
            if refused_with(err, 404):
                return ActionResult(False, "member is not in the guild")
            raise
        return ActionResult(True)

    @activity.defn(name="kick_member")
    async def kick_member(self, inp: MemberActionInput) -> ActionResult:
        """Kick; 404 means the member already left (or a retry already kicked them)."""
        try:
            await self._http.request(
                "DELETE", f"/guilds/{inp.guild_id}/members/{inp.user_id}", reason=inp.reason
            )
        except ApplicationError as err:
            if refused_with(err, 404):
                return ActionResult(False, "member already gone")
            raise
        return ActionResult(True)

    @activity.defn(name="ban_member")
    async def ban_member(self, inp: BanInput) -> ActionResult:
        """Ban (PUT is idempotent: banning someone banned changes nothing)."""
        await self._http.request(
            "PUT",
            f"/guilds/{inp.guild_id}/bans/{inp.user_id}",
            json={"delete_message_seconds": inp.delete_message_seconds},
            reason=inp.reason,
        )
        return ActionResult(True)

    @activity.defn(name="unban_member")
    async def unban_member(self, inp: MemberActionInput) -> ActionResult:
        """Lift a ban; 404 (Unknown Ban) means already unbanned, which is success."""
        try:
            await self._http.request(
                "DELETE", f"/guilds/{inp.guild_id}/bans/{inp.user_id}", reason=inp.reason
            )
        except ApplicationError as err:
            if refused_with(err, 404):
                return ActionResult(False, "not banned (already unbanned)")
            raise
        return ActionResult(True)

    @activity.defn(name="dm_member")
    async def dm_member(self, inp: DirectMessageInput) -> DmResult:
        """DM the member; a refusal (closed DMs, no shared guild: 403) is reported, not raised."""
        body: dict[str, Any] = {
            "content": inp.content[:2000],
            "nonce": _nonce("dm", inp.key),
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        if inp.appeal_custom_id is not None:
            body["components"] = [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 2,
                            "style": _BUTTON_PRIMARY,
                            "label": text("moderation.appeal_button", inp.language),
                            "custom_id": inp.appeal_custom_id,
                        }
                    ],
                }
            ]
        try:
            channel = await self._http.request(
                "POST", "/users/@me/channels", json={"recipient_id": str(inp.user_id)}
            )
            msg = await self._http.request("POST", f"/channels/{channel['id']}/messages", json=body)
        except ApplicationError as err:
            if err.non_retryable:
                return DmResult(False, note=str(err.message)[:200])
            raise
        return DmResult(True, int(msg["id"]))

    @activity.defn(name="post_approval_request")
    async def post_approval_request(self, inp: ApprovalPostInput) -> int:
        """Post the request with its buttons and store where it is on the approval row."""
        msg = await self._http.request(
            "POST", f"/channels/{inp.channel_id}/messages", json=approval_message(inp)
        )
        message_id = int(msg["id"])
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PendingApproval)
                .where(PendingApproval.id == inp.approval_id)
                .values(discord_channel_id=inp.channel_id, discord_message_id=message_id)
            )
        return message_id

    @activity.defn(name="edit_approval_message")
    async def edit_approval_message(self, inp: ApprovalEditInput) -> bool:
        """Show the outcome and remove the buttons; a message deleted meanwhile is fine."""
        color = {"approved": 0x2ECC71, "modified": 0x3498DB}.get(inp.status, 0x95A5A6)
        body = {
            "embeds": [{"title": inp.title, "description": inp.summary[:4000], "color": color}],
            "components": [],
        }
        try:
            await self._http.request(
                "PATCH", f"/channels/{inp.channel_id}/messages/{inp.message_id}", json=body
            )
        except ApplicationError as err:
            if refused_with(err, 404):
                return False
            raise
        return True

    @activity.defn(name="post_alert")
    async def post_alert(self, inp: AlertInput) -> int:
        """Post a staff alert to the mod-log channel."""
        body = {
            "content": inp.text[:2000],
            "nonce": _nonce("alert", inp.key),
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        msg = await self._http.request("POST", f"/channels/{inp.channel_id}/messages", json=body)
        return int(msg["id"])

    @activity.defn(name="describe_member")
    async def describe_member(self, inp: MemberActionInput) -> MemberNames:
        """The server's and the user's names (either None when Discord can't say)."""
        guild_name = user_name = None
        try:
            guild = await self._http.request("GET", f"/guilds/{inp.guild_id}")
            guild_name = guild.get("name") if isinstance(guild, dict) else None
        except ApplicationError as err:
            if not err.non_retryable:
                raise
        try:
            user = await self._http.request("GET", f"/users/{inp.user_id}")
            if isinstance(user, dict):
                user_name = user.get("global_name") or user.get("username")
        except ApplicationError as err:
            if not err.non_retryable:
                raise
        return MemberNames(guild_name, user_name)
