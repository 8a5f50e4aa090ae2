"""One event, start to finish: `event:{guild}:{id}`.

It posts the announcement (embed, RSVP buttons and reactions, an .ics file), keeps the RSVP book
(capacity, waitlist promoted when a seat comes free, one state per member), fires every reminder at
its instant, moves them when the event is rescheduled, tells everyone going when it is cancelled,
and once it ends records attendance and pays the engagement rewards. Reactions arrive in batches
from the gateway; after each burst settles the book is checked against the reactions really on
the post, so out-of-order or missed gateway events cannot leave a wrong count. A recurring event
continues as new with its next occurrence; a long burst of RSVPs continues as new with its state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows import steps

with workflow.unsafe.imports_passed_through():
    from activities.events import (
        AnnounceInput,
        DiscordEventInput,
        EventActivities,
        NoticeInput,
        ReactionsInput,
        ReactionTruth,
        ReminderInput,
        RemoveReactionsInput,
        RewardInput,
        SaveInput,
    )
    from dcs.recurrence import next_occurrence
    from domain.catalogue import keys as catalogue_keys
    from domain.catalogue import text
    from domain.events import (
        ACTIVE,
        CANCELLED,
        CHOICE_EMOJI,
        COMPLETED,
        GOING,
        SCHEDULED,
        WAITLIST,
        CancelRequest,
        EditRequest,
        EventSpec,
        EventView,
        RsvpAction,
        RsvpBatch,
        RsvpBook,
        RsvpEntry,
        RsvpOutcome,
        pending_reminders,
        problems,
        refusal,
        reminder_schedule,
    )
    from storage.events import RsvpRow

RSVP_SIGNAL = "rsvp"
RSVP_UPDATE = "rsvp_now"
EDIT_UPDATE = "edit"
CANCEL_UPDATE = "cancel"
VIEW_QUERY = "view"

RECONCILE_QUIET = timedelta(seconds=3)
"""Check the post's reactions once reaction RSVPs have been quiet this long..."""
RECONCILE_EVERY = timedelta(seconds=30)
"""...or this often during a burst that does not stop."""
POST_REFRESH = timedelta(seconds=2)
"""The announcement's counts are edited at most this often."""
HISTORY_LIMIT = 10_000

_DISCORD = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=60)
)
_SHORT = timedelta(seconds=30)
_LONG = timedelta(minutes=10)
catalogue_keys()  # load the message catalogue now: it lists its files, which a workflow may not


def event_workflow_id(guild_id: int, event_id: int) -> str:
    """One workflow per event: the id names the guild and the event."""
    return f"event:{guild_id}:{event_id}"


@dataclass
class EventInput:
    """The event to run; the other fields carry a running one across continue-as-new."""

    guild_id: int
    event_id: int
    spec: EventSpec
    created_by: int = 0
    occurrence: int = 0
    status: str = SCHEDULED
    rsvps: tuple[RsvpEntry, ...] = ()
    sent: tuple[str, ...] = ()
    message_id: int | None = None
    discord_event_id: int | None = None
    posted: bool = False
    first_start: datetime | None = None
    """A recurring event's first start (its rule counts from there); None: this one's."""
    language: str = "en"
    """The server's language for what members are told (set when the event is created)."""


@dataclass(frozen=True)
class EventResult:
    """How the (last) occurrence ended."""

    status: str
    occurrence: int
    attended: int


@workflow.defn(name="EventWorkflow")
class EventWorkflow:
    """Announce, take RSVPs, remind, and close out one event (and its recurrences)."""

    def __init__(self) -> None:
        self._inp = EventInput(0, 0, EventSpec("", datetime.min.replace(tzinfo=UTC), "UTC"))
        self._book = RsvpBook()
        self._inbox: list[RsvpAction] = []
        self._dirty: set[int] = set()
        self._notices: list[NoticeInput] = []
        self._refused: list[tuple[int, str]] = []
        self._sent: set[str] = set()
        self._post_due = False
        self._post_refreshed = datetime.min.replace(tzinfo=UTC)
        self._sync_due = False
        self._state_due = False
        self._cancel: CancelRequest | None = None
        self._reaction_at: datetime | None = None
        self._reconciled_at: datetime | None = None
        self._wake = False

    # ------------------------------------------------------------------ handlers

    @workflow.signal(name=RSVP_SIGNAL)
    def rsvp_batch(self, batch: RsvpBatch) -> None:
        """Reactions from the gateway, applied by the run loop in arrival order."""
        self._inbox.extend(batch.actions)
        self._wake = True

    @workflow.update(name=RSVP_UPDATE)
    def rsvp_now(self, action: RsvpAction) -> RsvpOutcome:
        """A button or API RSVP, answered with the member's status."""
        outcome = self._apply(action)
        self._wake = True
        return outcome

    @rsvp_now.validator
    def _check_rsvp(self, action: RsvpAction) -> None:
        self._refuse_if_over()
        if action.choice not in (None, *CHOICE_EMOJI):
            raise ApplicationError(f"unknown choice {action.choice!r}", type="EventRejected")

    @workflow.update(name=EDIT_UPDATE)
    def edit(self, request: EditRequest) -> EventView:
        """Replace the spec: reminders move with the start; people going hear of a new time."""
        old, new = self._inp.spec, request.spec
        if new == old:
            return self.view()
        self._inp.spec = new
        if new.capacity != old.capacity:
            self._promote(self._book.set_capacity(new.capacity))
            self._dirty.update(self._book.entries)
        if new.start != old.start:
            now = workflow.now()
            _, ahead = pending_reminders(new, (), now)
            ahead_keys = {r.key for r in ahead}
            self._sent = {r.key for r in reminder_schedule(new)} - ahead_keys
            unix = int(new.start.timestamp())
            self._tell(
                self._book.members(GOING) + self._book.members(WAITLIST),
                text(
                    "events.moved",
                    self._inp.language,
                    title=new.title,
                    when=f"<t:{unix}:F> (<t:{unix}:R>)",
                ),
                f"moved-{unix}",
            )
        self._post_due = True
        self._state_due = True  # the row (and so the API and /event list) shows the edit
        self._sync_due = request.source != "discord"
        self._wake = True
        return self.view()

    @edit.validator
    def _check_edit(self, request: EditRequest) -> None:
        self._refuse_if_over()
        found = problems(request.spec, workflow.now(), creating=False)
        moved = request.spec.start != self._inp.spec.start
        if moved and request.spec.start <= workflow.now():
            found.append("start: a new start must be in the future")
        if moved and self._inp.status == ACTIVE:
            found.append("start: the event has already started")
        if found:
            raise ApplicationError("; ".join(found), *found, type="EventRejected")

    @workflow.update(name=CANCEL_UPDATE)
    def cancel(self, request: CancelRequest) -> EventView:
        """Cancel: the run loop tells everyone and closes the post."""
        self._cancel = request
        self._wake = True
        return replace(self.view(), status=CANCELLED)

    @cancel.validator
    def _check_cancel(self, request: CancelRequest) -> None:
        self._refuse_if_over()

    @workflow.query(name=VIEW_QUERY)
    def view(self) -> EventView:
        """The event now: spec, status, counts and who is in which list."""
        book, inp = self._book, self._inp
        return EventView(
            guild_id=inp.guild_id,
            event_id=inp.event_id,
            spec=inp.spec,
            status=CANCELLED if self._cancel else inp.status,
            occurrence=inp.occurrence,
            counts=book.counts(),
            message_id=inp.message_id,
            discord_event_id=inp.discord_event_id,
            reminders_sent=tuple(sorted(self._sent)),
            going=book.members(GOING),
            waitlist=book.members(WAITLIST),
            maybe=book.members("maybe"),
            declined=book.members("declined"),
        )

    def _refuse_if_over(self) -> None:
        if self._cancel is not None or self._inp.status in (COMPLETED, CANCELLED):
            raise ApplicationError("the event is over or cancelled", type="EventOver")

    # ------------------------------------------------------------------ RSVP bookkeeping

    def _apply(self, action: RsvpAction) -> RsvpOutcome:
        now = workflow.now()
        why = refusal(self._inp.spec, action.choice, action.role_ids, now) if action.added else ""
        if why and (action.roles_known or "role" not in why):
            if action.source == "reaction" and action.choice is not None:
                self._refused.append((action.user_id, action.choice))
            return RsvpOutcome(
                action.user_id, self._book.status_of(action.user_id), False, refused=why
            )
        if action.source == "reaction":
            self._reaction_at = now
        if action.added:
            outcome = self._book.choose(action.user_id, action.choice, action.source)
        else:
            outcome = self._book.withdraw(action.user_id, action.choice or "")
        if outcome.changed:
            self._dirty.add(action.user_id)
            self._post_due = True
            self._promote(outcome.promoted)
        return outcome

    def _promote(self, users: tuple[int, ...]) -> None:
        if not users:
            return
        self._dirty.update(users)
        title = self._inp.spec.title
        self._tell(users, text("events.promoted", self._inp.language, title=title), "promoted")

    def _tell(self, users: tuple[int, ...], text: str, key: str) -> None:
        if users:
            inp = self._inp
            self._notices.append(
                NoticeInput(inp.guild_id, inp.event_id, inp.occurrence, key, text, users)
            )

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, inp: EventInput) -> EventResult:
        """Post, then serve RSVPs and timers until the event ends or is cancelled."""
        self._inp = inp
        self._book = RsvpBook.restore(inp.spec.capacity, inp.rsvps)
        self._sent = set(inp.sent)
        if not inp.posted:
            await self._announce()
        while True:
            self._wake = False  # before draining: what arrives meanwhile wakes the next wait
            await self._drain()
            if self._cancel is not None:
                return await self._close_cancelled(self._cancel)
            now = workflow.now()
            await self._remind(now)
            if inp.status == SCHEDULED and now >= inp.spec.start:
                inp.status = ACTIVE
                self._post_due = self._sync_due = True
                continue
            if now >= inp.spec.ends_at:
                return await self._finish()
            if self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry(inp))
            await self._sleep(now)

    async def _sleep(self, now: datetime) -> None:
        """Wait for a handler or the next instant anything is due."""
        spec = self._inp.spec
        _, ahead = pending_reminders(spec, self._sent, now)
        instants = [r.at for r in ahead] + [
            spec.start if self._inp.status == SCHEDULED else spec.ends_at
        ]
        if self._reaction_at is not None:
            instants.append(self._reaction_at + RECONCILE_QUIET)
        if self._post_due:
            instants.append(self._post_refreshed + POST_REFRESH)
        due = min(t for t in instants if t is not None)
        if due <= now:
            return
        try:
            await workflow.wait_condition(lambda: self._wake, timeout=due - now)
        except TimeoutError:
            pass

    async def _drain(self) -> None:
        """Apply queued reactions, reconcile after a burst, then write and show the result."""
        while self._inbox:
            batch, self._inbox = self._inbox, []
            for action in batch:
                self._apply(action)
        if self._refused:
            await self._undo_refused_reactions()
        await self._maybe_reconcile()
        await self._flush()

    async def _maybe_reconcile(self) -> None:
        now, last = workflow.now(), self._reaction_at
        if last is None or self._inp.message_id is None or self._inp.spec.channel_id is None:
            return
        settled = now - last >= RECONCILE_QUIET
        overdue = self._reconciled_at is None or now - self._reconciled_at >= RECONCILE_EVERY
        if not (settled or overdue):
            return
        truth: ReactionTruth = await workflow.execute_activity_method(
            EventActivities.fetch_rsvp_reactions,
            ReactionsInput(self._inp.spec.channel_id, self._inp.message_id),
            start_to_close_timeout=_LONG,
            retry_policy=_DISCORD,
        )
        self._reconciled_at = now
        if settled:
            self._reaction_at = None
        before = self._book.statuses()
        self._promote(self._book.reconcile(truth.by_choice()))
        after = self._book.statuses()
        changed = {u for u in before.keys() | after.keys() if before.get(u) != after.get(u)}
        if changed:
            self._dirty.update(changed)
            self._post_due = True

    async def _flush(self) -> None:
        """Persist changed RSVPs and the counts; edit the post (throttled); send notices."""
        if self._dirty or self._state_due:
            await self._save()
        notices, self._notices = self._notices, []
        for notice in notices:
            await steps.optional(
                workflow.execute_activity_method(
                    EventActivities.notify_members,
                    notice,
                    start_to_close_timeout=_LONG,
                    heartbeat_timeout=_SHORT,
                    retry_policy=_DISCORD,
                ),
                "event notice",
            )
        if self._post_due and workflow.now() >= self._post_refreshed + POST_REFRESH:
            await self._refresh_post()
        if self._sync_due:
            await self._sync_discord()

    async def _save(self) -> None:
        dirty, self._dirty, self._state_due = self._dirty, set(), False
        upserts, removed = [], []
        for user in sorted(dirty):
            entry = self._book.entries.get(user)
            if entry is None:
                removed.append(user)
            else:
                status = self._book.status_of(user) or entry.choice
                upserts.append(RsvpRow(user, status, entry.choice, entry.seq, entry.source))
        await workflow.execute_activity_method(
            EventActivities.save_event,
            self._save_input(tuple(upserts), tuple(removed)),
            start_to_close_timeout=_SHORT,
        )

    def _save_input(
        self, upserts: tuple[RsvpRow, ...] = (), removed: tuple[int, ...] = ()
    ) -> SaveInput:
        inp = self._inp
        return SaveInput(
            guild_id=inp.guild_id,
            event_id=inp.event_id,
            occurrence=inp.occurrence,
            spec=inp.spec,
            status=inp.status,
            counts=self._book.counts(),
            message_id=inp.message_id,
            discord_event_id=inp.discord_event_id,
            upserts=upserts,
            removed=removed,
            cancel_reason=self._cancel.reason if self._cancel else None,
        )

    def _announce_input(self, note: str = "") -> AnnounceInput:
        inp = self._inp
        return AnnounceInput(
            guild_id=inp.guild_id,
            event_id=inp.event_id,
            occurrence=inp.occurrence,
            spec=inp.spec,
            status=inp.status,
            counts=self._book.counts(),
            message_id=inp.message_id,
            note=note,
            language=inp.language,
        )

    async def _announce(self) -> None:
        """The announcement post, the Discord scheduled event, and the record of both."""
        inp = self._inp
        if inp.spec.channel_id is not None:
            inp.message_id = await steps.optional(
                workflow.execute_activity_method(
                    EventActivities.post_event_announcement,
                    self._announce_input(),
                    start_to_close_timeout=_SHORT,
                    retry_policy=_DISCORD,
                ),
                "event announcement",
            )
        inp.posted = True
        if inp.spec.discord_sync:
            await self._sync_discord()
        await workflow.execute_activity_method(
            EventActivities.save_event, self._save_input(), start_to_close_timeout=_SHORT
        )

    async def _refresh_post(self, note: str = "") -> None:
        self._post_due, self._post_refreshed = False, workflow.now()
        if self._inp.message_id is None or self._inp.spec.channel_id is None:
            return
        await steps.optional(
            workflow.execute_activity_method(
                EventActivities.update_event_post,
                self._announce_input(note),
                start_to_close_timeout=_SHORT,
                retry_policy=_DISCORD,
            ),
            "event post update",
        )

    async def _sync_discord(self) -> None:
        self._sync_due = False
        inp = self._inp
        if not inp.spec.discord_sync:
            return
        found = await steps.optional(
            workflow.execute_activity_method(
                EventActivities.sync_discord_event,
                DiscordEventInput(
                    inp.guild_id, inp.event_id, inp.discord_event_id, inp.spec, inp.status
                ),
                start_to_close_timeout=_SHORT,
                retry_policy=_DISCORD,
            ),
            "Discord scheduled event",
        )
        if found is not None and found != inp.discord_event_id:
            inp.discord_event_id = found
            self._state_due = True  # a save writes the link even with no RSVP change

    async def _undo_refused_reactions(self) -> None:
        refused, self._refused = self._refused, []
        inp = self._inp
        if inp.message_id is None or inp.spec.channel_id is None:
            return
        await steps.optional(
            workflow.execute_activity_method(
                EventActivities.remove_reactions,
                RemoveReactionsInput(inp.spec.channel_id, inp.message_id, tuple(refused)),
                start_to_close_timeout=_LONG,
                retry_policy=_DISCORD,
            ),
            "removing refused reactions",
        )

    async def _remind(self, now: datetime) -> None:
        due, _ = pending_reminders(self._inp.spec, self._sent, now)
        inp = self._inp
        for reminder in due:
            await steps.optional(
                workflow.execute_activity_method(
                    EventActivities.send_event_reminder,
                    ReminderInput(
                        guild_id=inp.guild_id,
                        event_id=inp.event_id,
                        occurrence=inp.occurrence,
                        key=reminder.key,
                        spec=inp.spec,
                        minutes_before=reminder.minutes_before,
                        message=reminder.message,
                        user_ids=self._book.members(GOING),
                        message_id=inp.message_id,
                        language=inp.language,
                    ),
                    start_to_close_timeout=_LONG,
                    heartbeat_timeout=_SHORT,
                    retry_policy=_DISCORD,
                ),
                f"reminder {reminder.key}",
            )
            self._sent.add(reminder.key)

    async def _finish(self) -> EventResult:
        """Attendance and rewards, the post closed; a recurring event goes on to its next date."""
        inp = self._inp
        inp.status = COMPLETED
        attended = self._book.members(GOING)
        at = inp.spec.ends_at
        await workflow.execute_activity_method(
            EventActivities.reward_attendees,
            RewardInput(
                inp.guild_id, inp.event_id, inp.occurrence, attended, inp.spec.xp_reward, at
            ),
            start_to_close_timeout=_LONG,
            heartbeat_timeout=_SHORT,
        )
        self._state_due = True
        await self._save()
        await self._refresh_post(text("events.attended", inp.language, count=len(attended)))
        await self._sync_discord()
        first = inp.first_start or inp.spec.start
        following = next_occurrence(inp.spec, first)
        if following is not None:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                EventInput(
                    inp.guild_id,
                    inp.event_id,
                    following,
                    inp.created_by,
                    inp.occurrence + 1,
                    first_start=first,
                    language=inp.language,
                )
            )
        return EventResult(COMPLETED, inp.occurrence, len(attended))

    async def _close_cancelled(self, request: CancelRequest) -> EventResult:
        inp = self._inp
        inp.status = CANCELLED
        notice = (
            text(
                "events.cancelled_because",
                inp.language,
                title=inp.spec.title,
                reason=request.reason,
            )
            if request.reason
            else text("events.cancelled", inp.language, title=inp.spec.title)
        )
        self._tell(self._book.members(GOING) + self._book.members(WAITLIST), notice, "cancelled")
        self._state_due = True
        self._post_due = self._sync_due = True
        await self._flush()
        if self._post_due:  # the refresh throttle does not hold back the last word
            await self._refresh_post()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return EventResult(CANCELLED, inp.occurrence, 0)

    def _should_continue(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() > HISTORY_LIMIT
        )

    def _carry(self, inp: EventInput) -> EventInput:
        return replace(inp, rsvps=self._book.snapshot(), sent=tuple(sorted(self._sent)))
