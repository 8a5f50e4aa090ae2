"""Ticket activities: the private thread or channel, notices, the transcript, the rating, the row.

Each is safe to retry. Posts carry a nonce (`enforce_nonce`), so a retried post is not shown
twice; the thread or channel a retry finds in its heartbeat is reused, not made again; state
changes (archive, permissions, the row) are set, not toggled. A member with closed DMs (Discord
403) is not retried for the rating; Discord's 403/404 elsewhere are permanent, 429 waits its
`retry_after` (see `activities/discord_rest.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from domain.catalogue import text
from domain.tickets import (
    TicketView,
    TranscriptAttachment,
    TranscriptHeader,
    TranscriptMessage,
    render_transcript,
)
from storage.tickets import save_space, save_ticket_state, store_transcript

PAGE = 100
MAX_STAFF_ADDED = 100
"""Staff added to a private thread one by one; beyond this they are pinged by role only."""
VIEW, SEND, ATTACH, HISTORY, MANAGE_CHANNELS = 1 << 10, 1 << 11, 1 << 15, 1 << 16, 1 << 4
MEMBER_ALLOW = VIEW | SEND | ATTACH | HISTORY
PRIVATE_THREAD = 12
COLOUR_OPEN, COLOUR_CLOSED = 0x5865F2, 0x95A5A6


def _nonce(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:25]


def ticket_buttons(number: int, language: str, *, closed: bool = False) -> list[dict[str, Any]]:
    """Claim / Close on an open ticket's welcome; Reopen once it is closed."""
    if closed:
        buttons = [
            {
                "type": 2,
                "style": 2,
                "label": text("ticket.button.reopen", language),
                "custom_id": f"ticket:reopen:{number}",
            }
        ]
    else:
        buttons = [
            {
                "type": 2,
                "style": 1,
                "label": text("ticket.button.claim", language),
                "custom_id": f"ticket:claim:{number}",
            },
            {
                "type": 2,
                "style": 4,
                "label": text("ticket.button.close", language),
                "custom_id": f"ticket:close:{number}",
            },
        ]
    return [{"type": 1, "components": buttons}]


def rating_buttons(guild_id: int, number: int) -> list[dict[str, Any]]:
    """1-5 buttons for a DM (no guild there, so the id names it): `ticket:rate:{g}:{n}:{s}`."""
    return [
        {
            "type": 1,
            "components": [
                {
                    "type": 2,
                    "style": 1 if score >= 4 else 2,
                    "label": "★" * score,
                    "custom_id": f"ticket:rate:{guild_id}:{number}:{score}",
                }
                for score in range(1, 6)
            ],
        }
    ]


@dataclass(frozen=True)
class SpaceInput:
    """Where and for whom to open the ticket's private thread or channel."""

    guild_id: int
    number: int
    user_id: int
    subject: str
    mode: str
    parent_id: int
    staff_role_ids: tuple[int, ...]
    language: str = "en"


@dataclass(frozen=True)
class SpaceResult:
    """The ticket's thread or channel, and its welcome message."""

    channel_id: int
    welcome_message_id: int


@dataclass(frozen=True)
class TicketNotice:
    """A message in the ticket: mentions are allowed only for the users and roles named."""

    channel_id: int
    key: str
    content: str
    user_ids: tuple[int, ...] = ()
    role_ids: tuple[int, ...] = ()
    closed_buttons_number: int | None = None
    """Show a Reopen button for this ticket number."""
    language: str = "en"


@dataclass(frozen=True)
class SpaceState:
    """Open or close the ticket's space for the member (archive and lock a thread)."""

    guild_id: int
    channel_id: int
    mode: str
    user_id: int
    open: bool
    number: int = 0
    welcome_message_id: int | None = None
    language: str = "en"


@dataclass(frozen=True)
class TranscriptInput:
    """Build, keep and post the transcript of one close."""

    header: TranscriptHeader
    channel_id: int
    log_channel_id: int | None
    close_key: str
    """Names the close (a reopened ticket closes again under another key)."""
    language: str = "en"


@dataclass(frozen=True)
class TranscriptResult:
    """What the transcript holds."""

    messages: int
    attachments: int
    log_message_id: int | None


@dataclass(frozen=True)
class RatingAsk:
    """Ask the member for a 1-5 rating by DM."""

    guild_id: int
    number: int
    user_id: int
    subject: str
    close_key: str
    language: str = "en"


def _author_name(author: dict[str, Any]) -> str:
    return str(author.get("global_name") or author.get("username") or author.get("id"))


def transcript_message(raw: dict[str, Any]) -> TranscriptMessage:
    """A Discord message payload as the transcript reads it."""
    author = raw.get("author") or {}
    embeds = tuple(
        str(e.get("title") or e.get("description") or "")[:300] for e in raw.get("embeds") or []
    )
    files = tuple(
        TranscriptAttachment(str(a.get("filename")), str(a.get("url")), int(a.get("size") or 0))
        for a in raw.get("attachments") or []
    )
    return TranscriptMessage(
        id=int(raw["id"]),
        author_id=int(author.get("id") or 0),
        author_name=_author_name(author),
        at=datetime.fromisoformat(raw["timestamp"]).astimezone(UTC),
        content=str(raw.get("content") or ""),
        bot=bool(author.get("bot")),
        embeds=tuple(e for e in embeds if e),
        attachments=files,
    )


class TicketActivities:
    """Discord and database work for the ticket workflow."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions

    @activity.defn(name="open_ticket_space")
    async def open_ticket_space(self, inp: SpaceInput) -> SpaceResult:
        """Make the private thread (member and staff added) or channel, and post the welcome.

        The new thread's id is heartbeated at once, so a retry continues with it.
        """
        details = activity.info().heartbeat_details
        channel_id = int(details[0]) if details else None
        if channel_id is None:
            channel_id = await self._make_space(inp)
            activity.heartbeat(channel_id)
        async with self._sessions() as session, session.begin():
            parent = inp.parent_id if inp.mode == "thread" else None
            await save_space(session, inp.guild_id, inp.number, parent, channel_id)
        if inp.mode == "thread":
            await self._http.request("PUT", f"/channels/{channel_id}/thread-members/{inp.user_id}")
            for member in await self._staff_members(inp.guild_id, inp.staff_role_ids):
                if member != inp.user_id:
                    await self._http.request(
                        "PUT", f"/channels/{channel_id}/thread-members/{member}"
                    )
        roles = " ".join(f"<@&{r}>" for r in inp.staff_role_ids)
        staff = roles or text("ticket.staff", inp.language)
        body = {
            "content": f"<@{inp.user_id}> {roles}".strip(),
            "embeds": [
                {
                    "title": text(
                        "ticket.welcome.title",
                        inp.language,
                        number=inp.number,
                        subject=inp.subject[:200],
                    ),
                    "description": text(
                        "ticket.welcome.body", inp.language, member=f"<@{inp.user_id}>", staff=staff
                    ),
                    "color": COLOUR_OPEN,
                }
            ],
            "components": ticket_buttons(inp.number, inp.language),
            "allowed_mentions": {
                "users": [str(inp.user_id)],
                "roles": [str(r) for r in inp.staff_role_ids],
            },
            "nonce": _nonce("ticket-welcome", inp.guild_id, inp.number),
            "enforce_nonce": True,
        }
        welcome = await self._http.request("POST", f"/channels/{channel_id}/messages", body)
        return SpaceResult(channel_id, int(welcome["id"]))

    async def _make_space(self, inp: SpaceInput) -> int:
        name = f"ticket-{inp.number}"
        if inp.mode == "thread":
            made = await self._http.request(
                "POST",
                f"/channels/{inp.parent_id}/threads",
                {
                    "name": name,
                    "type": PRIVATE_THREAD,
                    "invitable": False,
                    "auto_archive_duration": 10080,
                },
                reason=f"Ticket #{inp.number}",
            )
            return int(made["id"])
        me = await self._http.request("GET", "/users/@me")
        overwrites = [
            {"id": str(inp.guild_id), "type": 0, "allow": "0", "deny": str(VIEW)},
            {"id": str(inp.user_id), "type": 1, "allow": str(MEMBER_ALLOW), "deny": "0"},
            {
                "id": str(me["id"]),
                "type": 1,
                "allow": str(MEMBER_ALLOW | MANAGE_CHANNELS),
                "deny": "0",
            },
        ] + [
            {"id": str(r), "type": 0, "allow": str(MEMBER_ALLOW), "deny": "0"}
            for r in inp.staff_role_ids
        ]
        made = await self._http.request(
            "POST",
            f"/guilds/{inp.guild_id}/channels",
            {
                "name": name,
                "type": 0,
                "parent_id": str(inp.parent_id),
                "topic": inp.subject[:1024],
                "permission_overwrites": overwrites,
            },
            reason=f"Ticket #{inp.number}",
        )
        return int(made["id"])

    async def _staff_members(self, guild_id: int, role_ids: tuple[int, ...]) -> list[int]:
        """Members holding any staff role (pages of 1000), at most MAX_STAFF_ADDED."""
        if not role_ids:
            return []
        wanted, after = {str(r) for r in role_ids}, 0
        found: list[int] = []
        while len(found) < MAX_STAFF_ADDED:
            page = await self._http.request(
                "GET", f"/guilds/{guild_id}/members?limit=1000&after={after}"
            )
            for member in page:
                user = member.get("user") or {}
                if not user.get("bot") and wanted & set(member.get("roles") or []):
                    found.append(int(user["id"]))
            if len(page) < 1000:
                break
            after = int(page[-1]["user"]["id"])
            activity.heartbeat()
        return found[:MAX_STAFF_ADDED]

    @activity.defn(name="post_ticket_notice")
    async def post_ticket_notice(self, inp: TicketNotice) -> int | None:
        """Post in the ticket (once, by nonce); None when the thread or channel is gone."""
        body: dict[str, Any] = {
            "content": inp.content[:2000],
            "allowed_mentions": {
                "users": [str(u) for u in inp.user_ids],
                "roles": [str(r) for r in inp.role_ids],
            },
            "nonce": _nonce("ticket-notice", inp.channel_id, inp.key),
            "enforce_nonce": True,
        }
        if inp.closed_buttons_number is not None:
            body["components"] = ticket_buttons(
                inp.closed_buttons_number, inp.language, closed=True
            )
        try:
            msg = await self._http.request("POST", f"/channels/{inp.channel_id}/messages", body)
        except ApplicationError as err:
            if refused_with(err, 404):
                return None
            raise
        return int(msg["id"])

    @activity.defn(name="set_ticket_space_state")
    async def set_ticket_space_state(self, inp: SpaceState) -> None:
        """Closed: archive and lock the thread (or take the member's send right); open: undo."""
        try:
            if inp.mode == "thread":
                body = {"archived": not inp.open, "locked": not inp.open}
                if inp.open:  # an archived thread takes no other change: unarchive first
                    await self._http.request("PATCH", f"/channels/{inp.channel_id}", body)
                    await self._http.request(
                        "PUT", f"/channels/{inp.channel_id}/thread-members/{inp.user_id}"
                    )
                await self._welcome_buttons(inp)
                if not inp.open:
                    await self._http.request("PATCH", f"/channels/{inp.channel_id}", body)
                return
            allow = MEMBER_ALLOW if inp.open else VIEW | HISTORY
            await self._http.request(
                "PUT",
                f"/channels/{inp.channel_id}/permissions/{inp.user_id}",
                {"type": 1, "allow": str(allow), "deny": "0" if inp.open else str(SEND)},
            )
            await self._welcome_buttons(inp)
        except ApplicationError as err:
            if not refused_with(err, 404):
                raise  # a deleted thread or channel has nothing left to close

    async def _welcome_buttons(self, inp: SpaceState) -> None:
        if inp.welcome_message_id is None:
            return
        buttons = ticket_buttons(inp.number, inp.language)
        if not inp.open:
            for row in buttons:
                for button in row["components"]:
                    button["disabled"] = True
        try:
            await self._http.request(
                "PATCH",
                f"/channels/{inp.channel_id}/messages/{inp.welcome_message_id}",
                {"components": buttons},
            )
        except ApplicationError as err:
            if not refused_with(err, 404):
                raise

    @activity.defn(name="build_ticket_transcript")
    async def build_ticket_transcript(self, inp: TranscriptInput) -> TranscriptResult:
        """Read the whole history (pages of 100), keep the Markdown, post it to the log channel."""
        raw: dict[int, dict[str, Any]] = {}
        after = 0
        while True:
            page = await self._http.request(
                "GET", f"/channels/{inp.channel_id}/messages?limit={PAGE}&after={after}"
            )
            for item in page:
                raw[int(item["id"])] = item
            if len(page) < PAGE:
                break
            after = max(int(item["id"]) for item in page)
            activity.heartbeat(len(raw))
        messages = [transcript_message(raw[k]) for k in sorted(raw)]
        markdown = render_transcript(inp.header, messages)
        header = inp.header
        async with self._sessions() as session, session.begin():
            await store_transcript(session, header.guild_id, header.number, markdown)
        files = sum(len(m.attachments) for m in messages)
        log_id = None
        if inp.log_channel_id is not None:
            by = f"<@{header.closed_by}>" if header.closed_by else "-"
            body = {
                "content": text(
                    "ticket.log",
                    inp.language,
                    number=header.number,
                    subject=header.subject[:200],
                    member=f"<@{header.user_id}>",
                    by=by,
                    reason=header.close_reason or "-",
                )[:2000],
                "allowed_mentions": {"parse": []},
                "nonce": _nonce("ticket-log", header.guild_id, header.number, inp.close_key),
                "enforce_nonce": True,
            }
            name = f"ticket-{header.number}.md"
            try:
                msg = await self._http.request(
                    "POST",
                    f"/channels/{inp.log_channel_id}/messages",
                    body,
                    files=[(name, markdown.encode(), "text/markdown")],
                )
                log_id = int(msg["id"])
            except ApplicationError as err:
                if not refused_with(err, 403, 404):
                    raise  # the transcript is kept either way; a bad log channel is not fatal
        return TranscriptResult(len(messages), files, log_id)

    @activity.defn(name="ask_ticket_rating")
    async def ask_ticket_rating(self, inp: RatingAsk) -> bool:
        """DM the member 1-5 buttons; False when their DMs are closed."""
        body = {
            "content": text(
                "ticket.rating.ask", inp.language, number=inp.number, subject=inp.subject[:200]
            ),
            "components": rating_buttons(inp.guild_id, inp.number),
            "nonce": _nonce("ticket-rating", inp.guild_id, inp.number, inp.close_key),
            "enforce_nonce": True,
        }
        try:
            channel = await self._http.request(
                "POST", "/users/@me/channels", {"recipient_id": str(inp.user_id)}
            )
            await self._http.request("POST", f"/channels/{channel['id']}/messages", body)
        except ApplicationError as err:
            if refused_with(err, 400, 403, 404):
                return False
            raise
        return True

    @activity.defn(name="save_ticket")
    async def save_ticket(self, view: TicketView) -> None:
        """Write the workflow's view onto the ticket's row."""
        async with self._sessions() as session, session.begin():
            await save_ticket_state(session, view, datetime.now(UTC))
