"""Event activities: the announcement post, reminders and notices, reactions, the record, rewards.

Each is safe to retry: posts carry a nonce, DMs resume from the last member heartbeated, the
record is upserted, rewards are keyed per member and occurrence. A member who closed their DMs
(Discord 403) is skipped, not retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp, refused_with
from activities.engagement import EngagementActivities, EventParticipationInput
from dcs.ical import event_ics
from domain.catalogue import text
from domain.events import (
    ACTIVE,
    CANCELLED,
    CHOICE_EMOJI,
    CHOICES,
    COMPLETED,
    EventSpec,
    RsvpCounts,
)
from storage.events import EventState, RsvpRow, apply_rsvp_changes, mark_attended, save_event_state

PAGE = 100
_COLOURS = {ACTIVE: 0x2ECC71, COMPLETED: 0x95A5A6, CANCELLED: 0xE74C3C}
_STYLES = {"going": 3, "maybe": 1, "declined": 2, "leave": 2}


@dataclass(frozen=True)
class AnnounceInput:
    """What the announcement shows."""

    guild_id: int
    event_id: int
    occurrence: int
    spec: EventSpec
    status: str
    counts: RsvpCounts
    message_id: int | None = None
    note: str = ""
    language: str = "en"


@dataclass(frozen=True)
class SaveInput:
    """The event's row and the RSVPs that changed since the last save."""

    guild_id: int
    event_id: int
    occurrence: int
    spec: EventSpec
    status: str
    counts: RsvpCounts
    message_id: int | None
    discord_event_id: int | None
    upserts: tuple[RsvpRow, ...] = ()
    removed: tuple[int, ...] = ()
    cancel_reason: str | None = None


@dataclass(frozen=True)
class NoticeInput:
    """A direct message to some members (promoted, rescheduled, cancelled)."""

    guild_id: int
    event_id: int
    occurrence: int
    key: str
    text: str
    user_ids: tuple[int, ...]


@dataclass(frozen=True)
class ReminderInput:
    """A reminder: in the channel (with the ping role) and by DM to everyone going."""

    guild_id: int
    event_id: int
    occurrence: int
    key: str
    spec: EventSpec
    minutes_before: int
    message: str
    user_ids: tuple[int, ...]
    message_id: int | None = None
    language: str = "en"


@dataclass(frozen=True)
class ReactionsInput:
    """The announcement whose reactions are the truth."""

    channel_id: int
    message_id: int


@dataclass(frozen=True)
class ReactionTruth:
    """Who reacted with each RSVP emoji (the bot's own reactions left out)."""

    going: tuple[int, ...] = ()
    maybe: tuple[int, ...] = ()
    declined: tuple[int, ...] = ()

    def by_choice(self) -> dict[str, tuple[int, ...]]:
        """Choice -> users, as RsvpBook.reconcile takes it."""
        return {"going": self.going, "maybe": self.maybe, "declined": self.declined}


@dataclass(frozen=True)
class RemoveReactionsInput:
    """Reactions to take off the post: (user, choice) pairs that were refused."""

    channel_id: int
    message_id: int
    pairs: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class RewardInput:
    """Who attended an occurrence, and the XP each earns."""

    guild_id: int
    event_id: int
    occurrence: int
    user_ids: tuple[int, ...]
    xp: int
    attended_at: datetime


@dataclass(frozen=True)
class DiscordEventInput:
    """Mirror the event to a Discord scheduled event (created on first call)."""

    guild_id: int
    event_id: int
    discord_event_id: int | None
    spec: EventSpec
    status: str


def _stamp(at: datetime, style: str = "F") -> str:
    return f"<t:{int(at.timestamp())}:{style}>"


def event_embed(inp: AnnounceInput) -> dict[str, Any]:
    """The announcement's embed: when (in every reader's own time), where, and the counts."""
    spec, counts, lang = inp.spec, inp.counts, inp.language
    seats = f"{counts.going}/{spec.capacity}" if spec.capacity else str(counts.going)
    until = text("events.until", lang, time=_stamp(spec.ends_at, "t"))
    when = f"{_stamp(spec.start)} ({_stamp(spec.start, 'R')})\n{until}"

    def field(key: str, value: str, inline: bool) -> dict[str, Any]:
        return {"name": text(f"events.field_{key}", lang), "value": value, "inline": inline}

    fields = [
        field("when", when, False),
        field("going", seats, True),
        field("maybe", str(counts.maybe), True),
        field("declined", str(counts.declined), True),
    ]
    if counts.waitlist:
        fields.append(field("waitlist", str(counts.waitlist), True))
    if spec.location:
        fields.append(field("where", spec.location[:1024], False))
    if spec.signup_deadline:
        fields.append(field("signup_closes", _stamp(spec.signup_deadline), False))
    if spec.allowed_role_ids:
        roles = " ".join(f"<@&{r}>" for r in spec.allowed_role_ids)
        fields.append(field("open_to", roles, False))
    title = (
        spec.title
        if inp.status != CANCELLED
        else text("events.title_cancelled", lang, title=spec.title)
    )
    footer = text("events.footer", lang, event_id=inp.event_id)
    if inp.note:
        footer = f"{inp.note} · {footer}"
    return {
        "title": title[:256],
        "description": spec.description[:4000],
        "color": _COLOURS.get(inp.status, 0x5865F2),
        "fields": fields,
        "footer": {"text": footer},
        "timestamp": spec.start.isoformat(),
    }


def rsvp_buttons(
    event_id: int, *, disabled: bool = False, language: str = "en"
) -> list[dict[str, Any]]:
    """Going / Maybe / Can't go / Leave; the gateway reads `event:{id}:{choice}`."""
    buttons = [
        {
            "type": 2,
            "style": _STYLES[choice],
            "label": text(f"events.button_{choice}", language),
            "custom_id": f"event:{event_id}:{choice}",
            "disabled": disabled,
        }
        for choice in (*CHOICES, "leave")
    ]
    return [{"type": 1, "components": buttons}]


def _nonce(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:25]


class EventActivities:
    """Discord and database work for the event workflow."""

    def __init__(self, http: DiscordHttp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._http = http
        self._sessions = sessions
        self._engagement = EngagementActivities(sessions)
        self._me: int | None = None

    @activity.defn(name="post_event_announcement")
    async def post_event_announcement(self, inp: AnnounceInput) -> int:
        """Post the embed with buttons and the .ics file, then add the RSVP reactions."""
        channel = inp.spec.channel_id
        ping = f"<@&{inp.spec.ping_role_id}> " if inp.spec.ping_role_id else ""
        body = {
            "content": ping + text("events.new", inp.language, title=inp.spec.title),
            "embeds": [event_embed(inp)],
            "components": rsvp_buttons(inp.event_id, language=inp.language),
            "allowed_mentions": {"roles": [str(inp.spec.ping_role_id)] if ping else []},
            "nonce": _nonce("event", inp.guild_id, inp.event_id, inp.occurrence),
            "enforce_nonce": True,
        }
        ics = event_ics(inp.guild_id, inp.event_id, inp.spec, inp.status)
        msg = await self._http.request(
            "POST",
            f"/channels/{channel}/messages",
            body,
            files=[(f"event-{inp.event_id}.ics", ics, "text/calendar")],
        )
        message_id = int(msg["id"])
        for emoji in CHOICE_EMOJI.values():
            await self._http.request(
                "PUT", f"/channels/{channel}/messages/{message_id}/reactions/{quote(emoji)}/@me"
            )
        return message_id

    @activity.defn(name="update_event_post")
    async def update_event_post(self, inp: AnnounceInput) -> None:
        """Edit the announcement: counts, status; buttons off once it is over."""
        over = inp.status in (COMPLETED, CANCELLED)
        body = {
            "embeds": [event_embed(inp)],
            "components": rsvp_buttons(inp.event_id, disabled=over, language=inp.language),
        }
        try:
            await self._http.request(
                "PATCH", f"/channels/{inp.spec.channel_id}/messages/{inp.message_id}", body
            )
        except ApplicationError as err:
            if not refused_with(err, 404):
                raise  # a deleted announcement is not worth failing the event over

    @activity.defn(name="save_event")
    async def save_event(self, inp: SaveInput) -> None:
        """Write the event's row and the changed RSVPs in one transaction."""
        state = EventState(
            spec=inp.spec,
            status=inp.status,
            occurrence=inp.occurrence,
            counts=inp.counts,
            message_id=inp.message_id,
            discord_event_id=inp.discord_event_id,
            cancel_reason=inp.cancel_reason,
        )
        async with self._sessions() as session, session.begin():
            await save_event_state(session, inp.event_id, state)
            if inp.upserts or inp.removed:
                await apply_rsvp_changes(
                    session, inp.guild_id, inp.event_id, inp.occurrence, inp.upserts, inp.removed
                )

    @activity.defn(name="notify_event_members")
    async def notify_members(self, inp: NoticeInput) -> int:
        """DM each member once (a retry resumes after the last one heartbeated)."""
        return await self._dm_all(inp.user_ids, {"content": inp.text[:2000]})

    @activity.defn(name="send_event_reminder")
    async def send_event_reminder(self, inp: ReminderInput) -> int:
        """Remind in the channel (once, by nonce) and by DM to everyone going."""
        spec = inp.spec
        starts = f"{_stamp(spec.start)} ({_stamp(spec.start, 'R')})"
        lead = (
            text("events.starts_now", inp.language, title=spec.title)
            if inp.minutes_before == 0
            else text("events.starts_at", inp.language, title=spec.title, when=starts)
        )
        said = f"{lead} {inp.message}".strip()
        details = activity.info().heartbeat_details
        if spec.channel_id is not None and not details:
            ping = f"<@&{spec.ping_role_id}> " if spec.ping_role_id else ""
            body = {
                "content": f"{ping}{said}"[:2000],
                "allowed_mentions": {"roles": [str(spec.ping_role_id)] if ping else []},
                "nonce": _nonce("reminder", inp.event_id, inp.occurrence, inp.key),
                "enforce_nonce": True,
            }
            if inp.message_id:
                body["message_reference"] = {
                    "message_id": str(inp.message_id),
                    "fail_if_not_exists": False,
                }
            await self._http.request("POST", f"/channels/{spec.channel_id}/messages", body)
            activity.heartbeat(0)
        return await self._dm_all(inp.user_ids, {"content": said[:2000]})

    async def _dm_all(self, user_ids: Sequence[int], body: dict[str, Any]) -> int:
        details = activity.info().heartbeat_details
        start = int(details[0]) if details else 0
        sent = 0
        for i in range(start, len(user_ids)):
            sent += await self._dm(user_ids[i], body)
            activity.heartbeat(i + 1)
        return sent

    async def _dm(self, user_id: int, body: dict[str, Any]) -> int:
        try:
            channel = await self._http.request(
                "POST", "/users/@me/channels", {"recipient_id": str(user_id)}
            )
            await self._http.request("POST", f"/channels/{channel['id']}/messages", body)
        except ApplicationError as err:
            if refused_with(err, 403, 404, 400):
                return 0  # DMs closed or the member is gone: nothing to retry
            raise
        return 1

    @activity.defn(name="fetch_rsvp_reactions")
    async def fetch_rsvp_reactions(self, inp: ReactionsInput) -> ReactionTruth:
        """Every member's RSVP reaction on the post, page by page."""
        me = await self._my_id()
        found: dict[str, tuple[int, ...]] = {}
        for choice, emoji in CHOICE_EMOJI.items():
            users: list[int] = []
            after = 0
            while True:
                path = (
                    f"/channels/{inp.channel_id}/messages/{inp.message_id}/reactions/"
                    f"{quote(emoji)}?limit={PAGE}&after={after}"
                )
                page = await self._http.request("GET", path)
                users.extend(int(u["id"]) for u in page if int(u["id"]) != me and not u.get("bot"))
                if len(page) < PAGE:
                    break
                after = int(page[-1]["id"])
                activity.heartbeat(choice, len(users))
            found[choice] = tuple(users)
        return ReactionTruth(**found)

    async def _my_id(self) -> int:
        if self._me is None:
            self._me = int((await self._http.request("GET", "/users/@me"))["id"])
        return self._me

    @activity.defn(name="remove_event_reactions")
    async def remove_reactions(self, inp: RemoveReactionsInput) -> None:
        """Take refused RSVP reactions off the post so the post tells the truth."""
        base = f"/channels/{inp.channel_id}/messages/{inp.message_id}/reactions"
        for user_id, choice in inp.pairs:
            try:
                await self._http.request(
                    "DELETE", f"{base}/{quote(CHOICE_EMOJI[choice])}/{user_id}"
                )
            except ApplicationError as err:
                if not refused_with(err, 404, 403):
                    raise

    @activity.defn(name="reward_event_attendees")
    async def reward_attendees(self, inp: RewardInput) -> int:
        """Mark attendance and pay each attendee once (XP, counter, achievements)."""
        async with self._sessions() as session, session.begin():
            await mark_attended(session, inp.event_id, inp.occurrence, inp.user_ids)
        paid = 0
        for user_id in inp.user_ids:
            result = await self._engagement.award_event_participation(
                EventParticipationInput(
                    inp.guild_id, user_id, inp.event_id, inp.xp, inp.attended_at, inp.occurrence
                )
            )
            paid += not result.already
            activity.heartbeat(user_id)
        return paid

    @activity.defn(name="sync_discord_event")
    async def sync_discord_event(self, inp: DiscordEventInput) -> int | None:
        """Create or update the Discord scheduled event; its status follows ours."""
        spec = inp.spec
        body: dict[str, Any] = {
            "name": spec.title[:100],
            "description": spec.description[:1000],
            "scheduled_start_time": spec.start.isoformat(),
            "scheduled_end_time": spec.ends_at.isoformat(),
            "privacy_level": 2,
            "entity_type": 3,
            "entity_metadata": {"location": (spec.location or "Discord")[:100]},
        }
        base = f"/guilds/{inp.guild_id}/scheduled-events"
        if inp.discord_event_id is None:
            if inp.status in (COMPLETED, CANCELLED):
                return None
            made = await self._http.request("POST", base, body)
            return int(made["id"])
        status = {ACTIVE: 2, COMPLETED: 3, CANCELLED: 4}.get(inp.status)
        if status is not None:
            body = {"status": status}
        try:
            await self._http.request("PATCH", f"{base}/{inp.discord_event_id}", body)
        except ApplicationError as err:
            if refused_with(err, 404):
                return None  # deleted in Discord: the link is gone
            if not refused_with(err, 400):
                raise  # 400: a status Discord will not move to (already ended there)
        return inp.discord_event_id
