"""Events, pure: what an event is, who is going (capacity and waitlist), and when reminders fire.

The event workflow (`workflows/event.py`) owns one event's state and timers; everything it decides
is here, with time as an argument. RSVPs are an ordered book: the first `capacity` members who
chose "going" are going, the rest wait in the order they chose, so a promotion is just the book
recomputed after someone leaves. Reminder offsets that are whole days are calendar days in the
event's time zone ("24 h before" a 20:00 event is 20:00 the day before, across a daylight-saving
change too); other offsets are elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GOING, MAYBE, DECLINED = "going", "maybe", "declined"
CHOICES = (GOING, MAYBE, DECLINED)
WAITLIST = "waitlist"
"""A status, never a choice: chose going, beyond capacity."""

EMOJI_CHOICE: Mapping[str, str] = {"✅": GOING, "🤔": MAYBE, "❌": DECLINED}
CHOICE_EMOJI: Mapping[str, str] = {choice: emoji for emoji, choice in EMOJI_CHOICE.items()}

SCHEDULED, ACTIVE, COMPLETED, CANCELLED = "scheduled", "active", "completed", "cancelled"

DAY_MINUTES = 24 * 60
MAX_TITLE, MAX_DESCRIPTION, MAX_REMINDER_TEXT = 100, 2000, 500
MAX_REMINDERS = 10
MAX_DURATION = timedelta(days=14)
LATE_GRACE = timedelta(minutes=15)
"""A reminder found overdue (the worker was down) is still sent this long after its time."""


@dataclass(frozen=True)
class ReminderSpec:
    """One reminder: how long before the start (0 = at the start) and its own message."""

    minutes_before: int
    message: str = ""


DEFAULT_REMINDERS = (ReminderSpec(DAY_MINUTES), ReminderSpec(60), ReminderSpec(0))


@dataclass(frozen=True)
class EventSpec:
    """What an organiser decides about an event; times are aware, stored in UTC."""

    title: str
    start: datetime
    timezone: str
    end: datetime | None = None
    description: str = ""
    location: str = ""
    capacity: int | None = None
    channel_id: int | None = None
    ping_role_id: int | None = None
    reminders: tuple[ReminderSpec, ...] = DEFAULT_REMINDERS
    signup_deadline: datetime | None = None
    allowed_role_ids: tuple[int, ...] = ()
    recurrence: str | None = None
    """An RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=FR`) read in the event's time zone."""
    xp_reward: int = 50
    discord_sync: bool = False

    @property
    def ends_at(self) -> datetime:
        """The end, or an hour after the start when none was given."""
        return self.end or self.start + timedelta(hours=1)


def zone(name: str) -> ZoneInfo:
    """The IANA zone, or ValueError with a message a member can act on."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from exc


def problems(spec: EventSpec, now: datetime, *, creating: bool = True) -> list[str]:
    """Everything wrong with a spec, each a sentence; empty when it is good."""
    found: list[str] = []
    if not spec.title.strip():
        found.append("title: must not be empty")
    if len(spec.title) > MAX_TITLE:
        found.append(f"title: at most {MAX_TITLE} characters")
    if len(spec.description) > MAX_DESCRIPTION:
        found.append(f"description: at most {MAX_DESCRIPTION} characters")
    try:
        zone(spec.timezone)
    except ValueError as exc:
        found.append(f"timezone: {exc}")
    for name in ("start", "end", "signup_deadline"):
        value = getattr(spec, name)
        if value is not None and value.tzinfo is None:
            found.append(f"{name}: needs a time zone (never guessed as UTC)")
    if found:
        return found
    if creating and spec.start <= now:
        found.append("start: must be in the future")
    if spec.end is not None and not spec.start < spec.end <= spec.start + MAX_DURATION:
        found.append("end: must be after the start and at most 14 days later")
    if spec.signup_deadline is not None and spec.signup_deadline > spec.start:
        found.append("signup_deadline: must not be after the start")
    if spec.capacity is not None and spec.capacity < 1:
        found.append("capacity: must be at least 1 (or unset for no limit)")
    if not 0 <= spec.xp_reward <= 10_000:
        found.append("xp_reward: between 0 and 10000")
    if len(spec.reminders) > MAX_REMINDERS:
        found.append(f"reminders: at most {MAX_REMINDERS}")
    for i, reminder in enumerate(spec.reminders):
        if not 0 <= reminder.minutes_before <= 30 * DAY_MINUTES:
            found.append(f"reminders[{i}]: minutes_before between 0 and 43200 (30 days)")
        if len(reminder.message) > MAX_REMINDER_TEXT:
            found.append(f"reminders[{i}]: message at most {MAX_REMINDER_TEXT} characters")
    return found


# --- reminders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReminder:
    """A reminder with its instant; `key` names it across reschedules of the same offset."""

    key: str
    at: datetime
    minutes_before: int
    message: str


def reminder_at(spec: EventSpec, minutes_before: int) -> datetime:
    """When a reminder fires: whole days on the local calendar, the rest as elapsed time."""
    days, minutes = divmod(minutes_before, DAY_MINUTES)
    local = spec.start.astimezone(zone(spec.timezone))
    wall = local.replace(tzinfo=None) - timedelta(days=days)
    moved = wall.replace(tzinfo=zone(spec.timezone))  # fold=0: the first of a repeated hour
    return (moved.astimezone(UTC) - timedelta(minutes=minutes)).astimezone(UTC)


def reminder_schedule(spec: EventSpec) -> tuple[DueReminder, ...]:
    """Every reminder of the spec, earliest first; duplicate offsets count once."""
    seen: dict[int, ReminderSpec] = {}
    for reminder in spec.reminders:
        seen.setdefault(reminder.minutes_before, reminder)
    return tuple(
        sorted(
            (
                DueReminder(
                    f"r{r.minutes_before}",
                    reminder_at(spec, r.minutes_before),
                    r.minutes_before,
                    r.message,
                )
                for r in seen.values()
            ),
            key=lambda due: due.at,
        )
    )


def pending_reminders(
    spec: EventSpec, sent: Iterable[str], now: datetime
) -> tuple[tuple[DueReminder, ...], tuple[DueReminder, ...]]:
    """(due now, still ahead); overdue past the grace, or before a past start, is dropped."""
    done = set(sent)
    due: list[DueReminder] = []
    ahead: list[DueReminder] = []
    for reminder in reminder_schedule(spec):
        if reminder.key in done:
            continue
        if reminder.at > now:
            ahead.append(reminder)
        elif now - reminder.at <= LATE_GRACE and (reminder.minutes_before == 0 or now < spec.start):
            due.append(reminder)
    return tuple(due), tuple(ahead)


# --- RSVPs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RsvpEntry:
    """One member's choice; `seq` orders "going" for capacity and the waitlist."""

    user_id: int
    choice: str
    seq: int
    source: str = "reaction"
    """reaction, button, api or discord: reconciling against reactions touches only reactions."""


@dataclass(frozen=True)
class RsvpCounts:
    """The numbers the announcement shows."""

    going: int = 0
    maybe: int = 0
    declined: int = 0
    waitlist: int = 0


@dataclass(frozen=True)
class RsvpOutcome:
    """What one choice did: the member's status now, and who moved off the waitlist."""

    user_id: int
    status: str | None
    changed: bool
    promoted: tuple[int, ...] = ()
    refused: str = ""
    position: int = 0
    """Place on the waitlist (1 = next), 0 when not waiting."""


@dataclass
class RsvpBook:
    """Every member's RSVP for one occurrence; one state per member."""

    capacity: int | None = None
    entries: dict[int, RsvpEntry] = field(default_factory=dict)
    next_seq: int = 1

    @classmethod
    def restore(cls, capacity: int | None, entries: Iterable[RsvpEntry]) -> RsvpBook:
        """Rebuild from a snapshot (continue-as-new)."""
        kept = {e.user_id: e for e in entries}
        return cls(capacity, kept, max((e.seq for e in kept.values()), default=0) + 1)

    def snapshot(self) -> tuple[RsvpEntry, ...]:
        """The entries in a stable order, for a workflow's next run."""
        return tuple(sorted(self.entries.values(), key=lambda e: e.seq))

    def statuses(self) -> dict[int, str]:
        """Member -> going, waitlist, maybe or declined."""
        result = {e.user_id: e.choice for e in self.entries.values() if e.choice != GOING}
        for i, entry in enumerate(self._going_order()):
            within = self.capacity is None or i < self.capacity
            result[entry.user_id] = GOING if within else WAITLIST
        return result

    def status_of(self, user_id: int) -> str | None:
        """One member's status, without ordering the whole book."""
        entry = self.entries.get(user_id)
        if entry is None or entry.choice != GOING or self.capacity is None:
            return None if entry is None else entry.choice
        return GOING if self._rank(entry) < self.capacity else WAITLIST

    def members(self, status: str) -> tuple[int, ...]:
        """Members with this status, in RSVP order (the waitlist's order is its queue)."""
        if status in (GOING, WAITLIST):
            going = self._going_order()
            cut = len(going) if self.capacity is None else self.capacity
            chosen = going[:cut] if status == GOING else going[cut:]
            return tuple(e.user_id for e in chosen)
        order = sorted(self.entries.values(), key=lambda e: e.seq)
        return tuple(e.user_id for e in order if e.choice == status)

    def counts(self) -> RsvpCounts:
        """How many have each status."""
        tally = {GOING: 0, MAYBE: 0, DECLINED: 0}
        for entry in self.entries.values():
            tally[entry.choice] += 1
        seated = tally[GOING] if self.capacity is None else min(tally[GOING], self.capacity)
        return RsvpCounts(seated, tally[MAYBE], tally[DECLINED], tally[GOING] - seated)

    def set_capacity(self, capacity: int | None) -> tuple[int, ...]:
        """Change the capacity; returns the members it promoted."""
        before = self.statuses()
        self.capacity = capacity
        return self._promoted(before)

    def choose(self, user_id: int, choice: str | None, source: str = "reaction") -> RsvpOutcome:
        """Apply a choice (None withdraws); the same choice again changes nothing."""
        if choice is not None and choice not in CHOICES:
            raise ValueError(f"unknown RSVP choice {choice!r}")
        current = self.entries.get(user_id)
        if current is not None and current.choice == choice:
            if current.source != source:
                self.entries[user_id] = replace(current, source=source)
            return self._outcome(user_id, changed=False)
        if current is None and choice is None:
            return RsvpOutcome(user_id, None, changed=False)
        seated = self.capacity is not None and self.status_of(user_id) == GOING
        if choice is None:
            del self.entries[user_id]
        else:
            self.entries[user_id] = RsvpEntry(user_id, choice, self.next_seq, source)
            self.next_seq += 1
        promoted: tuple[int, ...] = ()
        if seated and self.capacity is not None:  # a seat came free: the next in line takes it
            going = self._going_order()
            if len(going) >= self.capacity:
                promoted = (going[self.capacity - 1].user_id,)
        return self._outcome(user_id, changed=True, promoted=promoted)

    def withdraw(self, user_id: int, choice: str) -> RsvpOutcome:
        """A reaction taken off: withdraws only if it was the member's current choice."""
        current = self.entries.get(user_id)
        if current is None or current.choice != choice:
            return RsvpOutcome(user_id, self.status_of(user_id), changed=False)
        return self.choose(user_id, None)

    def reconcile(self, reactions: Mapping[str, Iterable[int]]) -> tuple[int, ...]:
        """Match reaction-made RSVPs to the reactions really on the post (choice -> users).

        Gateway events can arrive out of order or be missed across a reconnect; the post's
        reactions are the truth. A member with several keeps their current choice if it is
        among them, else the first of going, maybe, declined. RSVPs made by button or API
        stand. Returns the members promoted.
        """
        before = self.statuses()
        seen: dict[int, list[str]] = {}
        for choice in CHOICES:
            for user_id in reactions.get(choice, ()):
                seen.setdefault(user_id, []).append(choice)
        for user_id, entry in list(self.entries.items()):
            if entry.source == "reaction" and user_id not in seen:
                del self.entries[user_id]
        for user_id, chosen in seen.items():
            held = self.entries.get(user_id)
            if held is not None and (held.source != "reaction" or held.choice in chosen):
                continue
            self.entries[user_id] = RsvpEntry(user_id, chosen[0], self.next_seq, "reaction")
            self.next_seq += 1
        return self._promoted(before)

    def _going_order(self) -> list[RsvpEntry]:
        return sorted((e for e in self.entries.values() if e.choice == GOING), key=lambda e: e.seq)

    def _rank(self, entry: RsvpEntry) -> int:
        return sum(1 for e in self.entries.values() if e.choice == GOING and e.seq < entry.seq)

    def _outcome(
        self, user_id: int, *, changed: bool, promoted: tuple[int, ...] = ()
    ) -> RsvpOutcome:
        status = self.status_of(user_id)
        position = 0
        if status == WAITLIST and self.capacity is not None:
            position = self._rank(self.entries[user_id]) - self.capacity + 1
        return RsvpOutcome(user_id, status, changed, promoted, position=position)

    def _promoted(self, before: dict[int, str]) -> tuple[int, ...]:
        return tuple(user for user in self.members(GOING) if before.get(user) == WAITLIST)


def refusal(spec: EventSpec, choice: str | None, role_ids: Iterable[int], now: datetime) -> str:
    """Why this member may not make this choice now ('' when they may).

    Withdrawing and declining are always allowed; going or maybe needs an allowed role and an
    open sign-up.
    """
    if choice in (None, DECLINED):
        return ""
    if spec.allowed_role_ids and not set(spec.allowed_role_ids) & set(role_ids):
        return "this event is open to certain roles only"
    if spec.signup_deadline is not None and now >= spec.signup_deadline:
        return "sign-up for this event has closed"
    if now >= spec.ends_at:
        return "this event is over"
    return ""


# --- what crosses the workflow's boundary -----------------------------------------------------


@dataclass(frozen=True)
class RsvpAction:
    """A member's RSVP act: a reaction added or removed, a button, the API, a Discord interest."""

    user_id: int
    choice: str | None
    """going, maybe or declined; None withdraws whatever the member chose."""
    added: bool = True
    """False: a reaction for `choice` was taken off (withdraws only if it is still the choice)."""
    source: str = "reaction"
    role_ids: tuple[int, ...] = ()
    roles_known: bool = True
    """False when the caller could not see the member's roles (checked by the workflow then)."""


@dataclass(frozen=True)
class RsvpBatch:
    """Reactions gathered by the gateway over a short window, in the order they arrived."""

    actions: tuple[RsvpAction, ...]


@dataclass(frozen=True)
class CancelRequest:
    """Cancel the event (everyone going is told); `by` is a Discord user id, 0 for the API."""

    reason: str = ""
    by: int = 0


@dataclass(frozen=True)
class EditRequest:
    """Replace the spec (the caller merges its changes into the current one)."""

    spec: EventSpec
    by: int = 0
    source: str = "command"
    """command, api or discord (an edit made in Discord's own scheduled event)."""


@dataclass(frozen=True)
class EventView:
    """The event as its workflow knows it, live."""

    guild_id: int
    event_id: int
    spec: EventSpec
    status: str
    occurrence: int
    counts: RsvpCounts
    message_id: int | None = None
    discord_event_id: int | None = None
    reminders_sent: tuple[str, ...] = ()
    going: tuple[int, ...] = ()
    waitlist: tuple[int, ...] = ()
    maybe: tuple[int, ...] = ()
    declined: tuple[int, ...] = ()
