"""Discord REST for activities: honest about what to retry (429 waits retry_after; 403/404 stop)."""

from __future__ import annotations

import asyncio
import hashlib
import json as jsonlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.records import RecordedCase
from dcs import metrics

_PERMANENT = {400, 401, 403, 404}
MAX_INLINE_WAIT_S = 5.0


class DiscordHttp:
    """A thin Discord REST client that keeps per-bucket limits and classifies failures."""

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=15.0)
        self._headers = {"Authorization": f"Bot {token}", "User-Agent": "DiscordBot (dcs, 0.1)"}
        self._bucket_of_route: dict[str, str] = {}
        self._exhausted_until: dict[str, float] = {}

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        reason: str | None = None,
        files: Sequence[tuple[str, bytes, str]] = (),
    ) -> Any:
        """Send one request; raise ApplicationError shaped for Temporal's retry policy.

        `reason` goes to Discord's audit log (X-Audit-Log-Reason, URL-encoded, 512 chars).
        `files` (name, content, media type) go as a multipart upload with the JSON as
        `payload_json`, the way Discord takes attachments.
        """
        route = f"{method} {path}"
        await self._wait_for_bucket(route)
        headers = self._headers
        if reason:
            headers = {**headers, "X-Audit-Log-Reason": quote(reason[:512], safe="")}
        if files:
            upload = {f"files[{i}]": file for i, file in enumerate(files)}
            form = {"payload_json": jsonlib.dumps(json)}
            resp = await self._client.request(
                method, self._base + path, data=form, files=upload, headers=headers
            )
        else:
            resp = await self._client.request(method, self._base + path, json=json, headers=headers)
        self._note_bucket(route, resp)
        metrics.record_discord_response(method, path, resp.status_code)
        if resp.status_code == 429:
            retry_after = float(resp.json().get("retry_after", 1.0))
            raise ApplicationError(
                f"Discord rate limit on {route}; retry after {retry_after}s",
                type="DiscordRateLimited",
                next_retry_delay=timedelta(seconds=retry_after),
            )
        if resp.status_code in _PERMANENT:
            raise ApplicationError(
                f"Discord refused {route}: {resp.status_code} {resp.text[:200]}",
                type=f"DiscordHTTP{resp.status_code}",
                non_retryable=True,
            )
        if resp.status_code >= 500:
            raise ApplicationError(
                f"Discord server error on {route}: {resp.status_code}", type="DiscordServerError"
            )
        return resp.json() if resp.content else None

    async def _wait_for_bucket(self, route: str) -> None:
        bucket = self._bucket_of_route.get(route)
        until = self._exhausted_until.get(bucket or "", 0.0)
        delay = until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(min(delay, MAX_INLINE_WAIT_S))

    def _note_bucket(self, route: str, resp: httpx.Response) -> None:
        bucket = resp.headers.get("X-RateLimit-Bucket")
        if not bucket:
            return
        self._bucket_of_route[route] = bucket
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            reset_after = float(resp.headers.get("X-RateLimit-Reset-After", "0") or 0)
            self._exhausted_until[bucket] = time.monotonic() + reset_after


def refused_with(err: ApplicationError, *statuses: int) -> bool:
    """Whether Discord answered with one of these statuses (see `DiscordHttp.request`)."""
    return any(err.type == f"DiscordHTTP{s}" for s in statuses)


@dataclass(frozen=True)
class ModLogInput:
    """A recorded case to announce in the server's mod-log channel."""

    channel_id: int
    case: RecordedCase


def case_nonce(guild_id: int, case_number: int) -> str:
    """A stable nonce (<= 25 chars) so Discord drops a duplicate post from a retried activity."""
    return hashlib.sha256(f"{guild_id}:{case_number}".encode()).hexdigest()[:25]


def mod_log_embed(case: RecordedCase) -> dict[str, Any]:
    """The embed moderators see for a case."""
    fields = [
        {"name": "Member", "value": f"<@{case.user_id}>", "inline": True},
        {"name": "Action", "value": case.action, "inline": True},
        {"name": "Source", "value": case.source, "inline": True},
        {"name": "Reason", "value": case.reason[:1024] or "-", "inline": False},
    ]
    if case.rule:
        fields.append({"name": "Rule", "value": case.rule, "inline": True})
    if case.excerpt:
        fields.append({"name": "Evidence", "value": f"`{case.excerpt[:1000]}`", "inline": False})
    return {
        "title": f"Case #{case.case_number}",
        "color": 0xE67E22,
        "fields": fields,
        "timestamp": case.created_at.isoformat(),
    }


class DiscordActivities:
    """Actions on Discord taken by workflows (the fast path acts through the gateway itself)."""

    def __init__(self, http: DiscordHttp) -> None:
        self._http = http

    @activity.defn(name="post_mod_log")
    async def post_mod_log(self, inp: ModLogInput) -> int:
        """Post the case to the mod-log channel; returns the message id."""
        body = {
            "embeds": [mod_log_embed(inp.case)],
            "nonce": case_nonce(inp.case.guild_id, inp.case.case_number),
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        msg = await self._http.request("POST", f"/channels/{inp.channel_id}/messages", json=body)
        return int(msg["id"])
