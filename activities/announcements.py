"""The announcement activity: post one scheduled announcement to its channel.

It reads the row at run time, so an edit made after the schedule was created is what gets
posted, and a deleted announcement whose schedule fired one last time posts nothing. The nonce
is the run's workflow id, so a retried attempt shows once in Discord.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from domain.announcements import PostResult, embed, mentions
from storage.announcements import get_announcement, record_post, spec_of


@dataclass(frozen=True)
class PostInput:
    """Which announcement, and the run it is posted for (the nonce's key)."""

    guild_id: int
    number: int
    run_key: str


class AnnouncementActivities:
    """Discord posts for scheduled announcements; the REST client and sessions are injected."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="post_announcement")
    async def post_announcement(self, inp: PostInput) -> PostResult:
        """Post the embed (and the one role ping); a channel gone or forbidden is not retried."""
        async with self._sessions() as session:
            row = await get_announcement(session, inp.guild_id, inp.number)
            spec = spec_of(row) if row is not None else None
        if spec is None:
            return PostResult(None, "deleted")
        content, allowed = mentions(spec)
        body = {
            "content": content,
            "embeds": [embed(spec)],
            "allowed_mentions": allowed,
            "nonce": hashlib.sha256(inp.run_key.encode()).hexdigest()[:25],
            "enforce_nonce": True,
        }
        try:
            msg = await self._http.request(
                "POST", f"/channels/{spec.channel_id}/messages", json=body
            )
        except ApplicationError as err:
            if refused_with(err, 403, 404):
                return PostResult(None, f"channel refused: {err.type}")
            raise
        message_id = int(msg["id"])
        async with self._sessions() as session, session.begin():
            await record_post(session, inp.guild_id, inp.number, message_id, datetime.now(UTC))
        return PostResult(message_id)
