"""Support tickets, pure: who may do what, when staff are chased and a quiet ticket closes.

The ticket workflow (`workflows/ticket.py`) owns one ticket's state and its one timer; every
decision it takes is here, with time passed in. A ticket's clock is simple on purpose:

- the member is *waiting* from their first unanswered message (or the opening) until anyone else
  writes in the ticket; staff are reminded once per wait, after `staff_reminder_minutes`;
- any message (member or staff) is *activity*; after `auto_close_hours` without any, the ticket
  closes, and `warning_hours` before that the member is warned once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

OPEN, CLOSED = "open", "closed"
STATUSES = (OPEN, CLOSED)
CLAIM, ASSIGN, CLOSE, REOPEN, RATE = "claim", "assign", "close", "reopen", "rate"
ACTIONS = (CLAIM, ASSIGN, CLOSE, REOPEN, RATE)
SOURCES = ("command", "button", "api", "faq")
MAX_SUBJECT, MAX_REASON = 200, 1000
DEFAULT_SUBJECT = "Support request"
AUTO_CLOSE_REASON = "No activity"


@dataclass(frozen=True)
class TicketCategory:
    """A kind of ticket and the staff roles that answer it."""

    name: str
    description: str = ""
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TicketPolicy:
    """A server's ticket settings as plain values, fixed into a ticket when it opens."""

    mode: str = "thread"
    parent_channel_id: int | None = None
    log_channel_id: int | None = None
    support_role_ids: tuple[int, ...] = ()
    categories: tuple[TicketCategory, ...] = ()
    max_open_per_member: int = 1
    staff_reminder_minutes: int | None = 60
    auto_close_hours: float | None = 48
    warning_hours: float = 12
    ask_rating: bool = True
    language: str = "en"

    def category(self, name: str | None) -> TicketCategory | None:
        """The named category (None for none or an unknown name)."""
        return next((c for c in self.categories if c.name == name), None)

    def staff_roles(self, category: str | None) -> tuple[int, ...]:
        """The roles that answer a ticket of this category: its own, then the general ones."""
        own = self.category(category)
        roles = (own.role_ids if own else ()) + self.support_role_ids
        return tuple(dict.fromkeys(roles))

    @property
    def auto_close(self) -> timedelta | None:
        """The inactivity after which a ticket closes; None when disabled (None or 0)."""
        return timedelta(hours=self.auto_close_hours) if self.auto_close_hours else None

    @property
    def warning(self) -> timedelta | None:
        """How long before an auto-close the member is warned; None when never."""
        close = self.auto_close
        if close is None or not self.warning_hours:
            return None
        return min(timedelta(hours=self.warning_hours), close)

    @property
    def reminder(self) -> timedelta | None:
        """How long a member waits before staff are reminded; None when never."""
        return (
            timedelta(minutes=self.staff_reminder_minutes) if self.staff_reminder_minutes else None
        )


@dataclass(frozen=True)
class TicketSpec:
    """What a new ticket is about and who it is for."""

    guild_id: int
    user_id: int
    subject: str = DEFAULT_SUBJECT
    category: str | None = None
    source: str = "command"
    origin_channel_id: int | None = None
    """Where it was asked for: the parent of its thread when the config names none."""


def open_problems(spec: TicketSpec, policy: TicketPolicy) -> list[str]:
    """Everything wrong with a request to open a ticket (before the per-member limit)."""
    found: list[str] = []
    if not spec.subject.strip():
        found.append("subject: must not be empty")
    if len(spec.subject) > MAX_SUBJECT:
        found.append(f"subject: at most {MAX_SUBJECT} characters")
    if spec.category is not None and policy.category(spec.category) is None:
        names = ", ".join(c.name for c in policy.categories) or "none configured"
        found.append(f"category: unknown {spec.category!r} (choose from: {names})")
    if spec.source not in SOURCES:
        found.append(f"source: one of {', '.join(SOURCES)}")
    if policy.parent_channel_id is None and spec.origin_channel_id is None:
        found.append("tickets.parent_channel_id: not configured")
    return found


def over_limit(open_count: int, policy: TicketPolicy) -> bool:
    """Whether a member with `open_count` open tickets may not open another."""
    return open_count >= policy.max_open_per_member


def subject_from(text: str | None) -> str:
    """A subject from free text (a question replied to): one line, trimmed, or the default."""
    line = " ".join((text or "").split())
    if not line:
        return DEFAULT_SUBJECT
    return line if len(line) <= 100 else line[:99] + "…"


@dataclass(frozen=True)
class TicketAction:
    """A staff or member action: claim, assign, close, reopen or rate.

    `actor_is_staff` is decided by the caller that knows the actor (the gateway from roles and
    permissions; the API's token is staff); the workflow only checks it against the rules.
    """

    kind: str
    actor_id: int
    actor_is_staff: bool = False
    target_id: int | None = None
    reason: str = ""
    rating: int | None = None
    source: str = "command"


@dataclass(frozen=True)
class Clock:
    """A ticket's timer state: last activity, since when the member waits, what was sent."""

    last_activity: datetime
    waiting_since: datetime | None
    reminded: bool = False
    warned: bool = False


def on_message(clock: Clock, from_member: bool, at: datetime) -> Clock:
    """A message in the ticket: activity; the member starts waiting, anyone else answers."""
    if from_member:
        waiting = clock.waiting_since if clock.waiting_since is not None else at
        reminded = clock.reminded if clock.waiting_since is not None else False
        return Clock(at, waiting, reminded, False)
    return Clock(at, None, False, False)


REMIND, WARN, AUTO_CLOSE = "remind", "warn", "auto_close"


@dataclass(frozen=True)
class Due:
    """What is due now, and when to look again (None: nothing ever, until a message)."""

    steps: tuple[str, ...]
    next_at: datetime | None


def due(policy: TicketPolicy, clock: Clock, now: datetime) -> Due:
    """The steps due at `now` for an open ticket, and the next instant something will be."""
    steps: list[str] = []
    ahead: list[datetime] = []
    if policy.reminder is not None and clock.waiting_since is not None and not clock.reminded:
        at = clock.waiting_since + policy.reminder
        (steps.append(REMIND) if now >= at else ahead.append(at))
    close = policy.auto_close
    if close is not None:
        close_at = clock.last_activity + close
        warning = policy.warning
        if now >= close_at:
            steps.append(AUTO_CLOSE)
        else:
            ahead.append(close_at)
            if warning is not None and not clock.warned:
                warn_at = close_at - warning
                (steps.append(WARN) if now >= warn_at else ahead.append(warn_at))
    return Due(tuple(steps), min(ahead) if ahead else None)


def refusal(action: TicketAction, status: str, member_id: int) -> str:
    """Why an action is refused on a ticket in `status` (a catalogue key), or '' when allowed."""
    kind = action.kind
    if kind not in ACTIONS:
        return "ticket.refused.unknown"
    if kind == RATE:
        if action.actor_id != member_id:
            return "ticket.refused.not_member"
        if status != CLOSED:
            return "ticket.refused.not_closed"
        if action.rating is None or not 1 <= action.rating <= 5:
            return "ticket.refused.rating"
        return ""
    if kind == CLOSE:
        if not (action.actor_is_staff or action.actor_id == member_id):
            return "ticket.refused.not_staff"
        if len(action.reason) > MAX_REASON:
            return "ticket.refused.reason_long"
        return "" if status == OPEN else "ticket.refused.closed"
    if not action.actor_is_staff:
        return "ticket.refused.not_staff"
    if kind == REOPEN:
        return "" if status == CLOSED else "ticket.refused.open"
    if status != OPEN:
        return "ticket.refused.closed"
    if kind == ASSIGN and action.target_id is None:
        return "ticket.refused.no_target"
    return ""


@dataclass(frozen=True)
class TicketView:
    """The ticket now, as its workflow sees it."""

    guild_id: int
    number: int
    user_id: int
    subject: str
    category: str | None
    status: str
    source: str
    channel_id: int | None = None
    """The ticket's thread or channel."""
    welcome_message_id: int | None = None
    claimed_by: int | None = None
    assigned_to: int | None = None
    close_reason: str | None = None
    closed_by: int | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    rating: int | None = None
    opened_at: datetime | None = None
    last_activity: datetime | None = None
    waiting_since: datetime | None = None


# --- transcripts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptAttachment:
    """A file posted in the ticket: listed with its link, never copied."""

    filename: str
    url: str
    size: int = 0


@dataclass(frozen=True)
class TranscriptMessage:
    """One message of the ticket's history, as much as a transcript needs."""

    id: int
    author_id: int
    author_name: str
    at: datetime
    content: str = ""
    bot: bool = False
    embeds: tuple[str, ...] = ()
    """Each embed's title or description, so the bot's own cards are readable too."""
    attachments: tuple[TranscriptAttachment, ...] = ()


@dataclass(frozen=True)
class TranscriptHeader:
    """What the transcript says about the ticket above its messages."""

    guild_id: int
    number: int
    subject: str
    user_id: int
    category: str | None = None
    claimed_by: int | None = None
    closed_by: int | None = None
    close_reason: str = ""
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    names: tuple[tuple[int, str], ...] = ()
    """Display names known beforehand (authors of messages are learnt from the messages)."""


def _name(header: TranscriptHeader, user_id: int | None) -> str:
    if user_id is None:
        return "-"
    known = dict(header.names)
    return f"{known[user_id]} ({user_id})" if user_id in known else str(user_id)


def _stamp(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


def render_transcript(header: TranscriptHeader, messages: Iterable[TranscriptMessage]) -> str:
    """The ticket as Markdown: a header, then every message oldest first, files listed."""
    ordered = sorted(messages, key=lambda m: m.id)
    names = dict(header.names)
    header = replace(
        header, names=tuple({**names, **{m.author_id: m.author_name for m in ordered}}.items())
    )
    lines = [
        f"# Ticket #{header.number}: {header.subject}",
        "",
        f"- Member: {_name(header, header.user_id)}",
        f"- Category: {header.category or '-'}",
        f"- Claimed by: {_name(header, header.claimed_by)}",
        f"- Opened: {_stamp(header.opened_at)}",
        f"- Closed: {_stamp(header.closed_at)} by {_name(header, header.closed_by)}",
        f"- Reason: {header.close_reason or '-'}",
        f"- Messages: {len(ordered)}",
        "",
        "---",
        "",
    ]
    files: list[TranscriptAttachment] = []
    for message in ordered:
        who = f"{message.author_name}{' [bot]' if message.bot else ''}"
        lines.append(f"**{who}** · {_stamp(message.at)}")
        body = message.content.strip()
        if body:
            lines.extend(f"> {line}" if line else ">" for line in body.splitlines())
        for embed in message.embeds:
            lines.append(f"> [embed] {embed}")
        for attachment in message.attachments:
            lines.append(f"> [file] [{attachment.filename}]({attachment.url})")
            files.append(attachment)
        lines.append("")
    if files:
        lines += ["---", "", "## Attachments", ""]
        lines += [f"- [{a.filename}]({a.url}) ({a.size} bytes)" for a in files]
        lines.append("")
    return "\n".join(lines)
