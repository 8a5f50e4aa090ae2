"""What the verification workflow does to a member whose deadline passed: kick or quarantine.

Both are idempotent: a kick of someone already gone (404) is done, and adding a role is a PUT
that changes nothing the second time. A 403 (the bot may not kick, or the role is above its own)
is never retried: `DiscordHttp` raises it non-retryable and the workflow reports it to the
mod-log through `verification_alert`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with


@dataclass(frozen=True)
class GateActionInput:
    """Who to act on; `role_id` is the quarantine role (unused for a kick).

    A member who holds `verified_role_id` is left alone: they verified, and only the signal
    telling the workflow so was lost.
    """

    guild_id: int
    user_id: int
    reason: str
    role_id: int | None = None
    verified_role_id: int | None = None


@dataclass(frozen=True)
class GateActionResult:
    """`applied` False when there was nothing to do (the member already left)."""

    applied: bool
    note: str = ""


@dataclass(frozen=True)
class GateAlertInput:
    """A line for the staff in the mod-log; `key` makes a retried post show once."""

    channel_id: int
    text: str
    key: str


UNKNOWN_ROLE = "10011"
"""Discord's error code for a role that does not exist (a 404 that is not "member gone")."""


def _gone(err: ApplicationError) -> bool:
    return refused_with(err, 404) and UNKNOWN_ROLE not in err.message


class VerificationActivities:
    """Discord REST calls of the verification workflow."""

    def __init__(self, http: DiscordHttp) -> None:
        self._http = http

    async def _still_unverified(self, inp: GateActionInput) -> GateActionResult | None:
        """None when the member is here without the verified role; else why nothing is done."""
        try:
            member = await self._http.request(
                "GET", f"/guilds/{inp.guild_id}/members/{inp.user_id}"
            )
        except ApplicationError as err:
            if _gone(err):
                return GateActionResult(False, "member already gone")
            raise
        roles = {int(r) for r in (member or {}).get("roles", [])}
        if inp.verified_role_id is not None and inp.verified_role_id in roles:
            return GateActionResult(False, "member verified meanwhile")
        return None

    @activity.defn(name="verification_kick")
    async def kick(self, inp: GateActionInput) -> GateActionResult:
        """Kick an unverified member; 404 means they already left (or a retry kicked them)."""
        skipped = await self._still_unverified(inp)
        if skipped is not None:
            return skipped
        try:
            await self._http.request(
                "DELETE", f"/guilds/{inp.guild_id}/members/{inp.user_id}", reason=inp.reason
            )
        except ApplicationError as err:
            if _gone(err):
                return GateActionResult(False, "member already gone")
            raise
        return GateActionResult(True)

    @activity.defn(name="verification_quarantine")
    async def quarantine(self, inp: GateActionInput) -> GateActionResult:
        """Give the quarantine role; 404 Unknown Member means they left (Unknown Role is raised)."""
        if inp.role_id is None:
            return GateActionResult(False, "no quarantine role configured")
        skipped = await self._still_unverified(inp)
        if skipped is not None:
            return skipped
        path = f"/guilds/{inp.guild_id}/members/{inp.user_id}/roles/{inp.role_id}"
        try:
            await self._http.request("PUT", path, reason=inp.reason)
        except ApplicationError as err:
            if _gone(err):
                return GateActionResult(False, "member already gone")
            raise
        return GateActionResult(True)

    @activity.defn(name="verification_alert")
    async def alert(self, inp: GateAlertInput) -> None:
        """Tell the staff what the gate could not do."""
        body = {
            "content": inp.text[:2000],
            "nonce": hashlib.sha256(inp.key.encode()).hexdigest()[:25],
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        await self._http.request("POST", f"/channels/{inp.channel_id}/messages", json=body)
