"""One support ticket, open to closed (and reopened): `ticket:{guild}:{n}`.

It makes the private thread or channel and welcomes the member, takes staff actions as updates
(claim, assign, close, reopen, rate) that are answered at once and carried out by the run loop,
hears of the thread's messages in batches from the gateway, reminds staff when the member has
waited too long, warns the member and then closes a quiet ticket. All of that hangs on one
durable timer, so it fires on time across worker restarts and never when disabled. On close it
keeps a transcript, posts it to the log channel and asks the member for a rating by DM; a
closed ticket stays reopenable (and ratable) for `KEEP_CLOSED`, then the workflow ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import steps

with workflow.unsafe.imports_passed_through():
    from activities.tickets import (
        RatingAsk,
        SpaceInput,
        SpaceResult,
        SpaceState,
        TicketActivities,
        TicketNotice,
        TranscriptInput,
    )
    from domain.catalogue import keys, text
    from domain.tickets import (
        ASSIGN,
        AUTO_CLOSE,
        AUTO_CLOSE_REASON,
        CLAIM,
        CLOSE,
        CLOSED,
        OPEN,
        RATE,
        REMIND,
        REOPEN,
        WARN,
        Clock,
        TicketAction,
        TicketPolicy,
        TicketSpec,
        TicketView,
        TranscriptHeader,
        due,
        on_message,
        refusal,
    )

keys()  # load the catalogue outside the sandbox, so a workflow never imports it while it runs

ACT_UPDATE = "act"
MESSAGES_SIGNAL = "messages"
VIEW_QUERY = "view"

KEEP_CLOSED = timedelta(days=7)
"""A closed ticket can be reopened and rated this long; then its workflow ends."""
HISTORY_LIMIT = 5_000

_DISCORD = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=60)
)
_SHORT = timedelta(seconds=30)
_LONG = timedelta(minutes=10)


def ticket_workflow_id(guild_id: int, number: int) -> str:
    """One workflow per ticket: the id names the guild and the ticket's number."""
    return f"ticket:{guild_id}:{number}"


@dataclass(frozen=True)
class TicketMessages:
    """Authors of messages posted in the ticket since the last batch, in order."""

    user_ids: tuple[int, ...]


@dataclass
class TicketInput:
    """The ticket to run; the other fields carry a running one across continue-as-new."""

    spec: TicketSpec
    number: int
    policy: TicketPolicy
    opened_at: datetime | None = None
    status: str = OPEN
    channel_id: int | None = None
    welcome_message_id: int | None = None
    claimed_by: int | None = None
    assigned_to: int | None = None
    close_reason: str | None = None
    closed_by: int | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    rating: int | None = None
    clock: Clock | None = None
    closes: int = 0
    """Closes carried out so far: names each close's transcript and rating request."""
    history_limit: int = HISTORY_LIMIT
    """Continue as new past this many history events (tests make it small)."""


@dataclass(frozen=True)
class TicketResult:
    """How the ticket ended."""

    number: int
    status: str
    rating: int | None


@workflow.defn(name="TicketWorkflow")
class TicketWorkflow:
    """Open, chase, close and keep the record of one support ticket."""

    @workflow.init
    def __init__(self, inp: TicketInput) -> None:
        """Take the input here: a signal or update arriving with the start finds the ticket."""
        now = workflow.now()
        if inp.opened_at is None:
            inp.opened_at = now
        if inp.clock is None:
            inp.clock = Clock(now, now)  # the member waits for a first answer from the start
        self._inp = inp
        self._jobs: list[tuple[str, object]] = []
        self._webhooks: list[
            asyncio.Future[object]
        ] = []  # deliveries still running, settled before the run ends
        self._save_due = False
        self._wake = False

    # ------------------------------------------------------------------ handlers

    @workflow.signal(name=MESSAGES_SIGNAL)
    def messages(self, batch: TicketMessages) -> None:
        """Messages in the ticket (from the gateway): they reset the inactivity timer."""
        inp = self._inp
        if inp.status != OPEN or inp.clock is None:
            return
        now = workflow.now()
        for user_id in batch.user_ids:
            inp.clock = on_message(inp.clock, user_id == inp.spec.user_id, now)
        self._wake = True

    @workflow.update(name=ACT_UPDATE)
    def act(self, action: TicketAction) -> TicketView:
        """Claim, assign, close, reopen or rate; the ticket's view after it is the answer."""
        inp = self._state()
        now = workflow.now()
        if action.kind == CLAIM:
            inp.claimed_by = action.actor_id
            inp.assigned_to = inp.assigned_to or action.actor_id
            self._say("ticket.claimed", f"claim-{now.timestamp()}", staff=f"<@{action.actor_id}>")
        elif action.kind == ASSIGN:
            inp.assigned_to = action.target_id
            self._say(
                "ticket.assigned",
                f"assign-{now.timestamp()}",
                users=(action.target_id or 0,),
                staff=f"<@{action.target_id}>",
            )
        elif action.kind == CLOSE:
            self._close(action.actor_id, action.reason.strip() or "-", now)
        elif action.kind == REOPEN:
            inp.status = OPEN
            inp.reopen_count += 1
            inp.close_reason = inp.closed_by = inp.closed_at = None
            inp.clock = Clock(now, None)
            self._jobs.append(("reopen", action.actor_id))
        elif action.kind == RATE:
            inp.rating = action.rating
        self._save_due = True
        self._wake = True
        return self.view()

    @act.validator
    def _check(self, action: TicketAction) -> None:
        inp = self._state()
        why = refusal(action, inp.status, inp.spec.user_id)
        if why:
            raise ApplicationError(why, type="TicketRejected")

    @workflow.query(name=VIEW_QUERY)
    def view(self) -> TicketView:
        """The ticket now."""
        inp = self._state()
        clock = inp.clock
        return TicketView(
            guild_id=inp.spec.guild_id,
            number=inp.number,
            user_id=inp.spec.user_id,
            subject=inp.spec.subject,
            category=inp.spec.category,
            status=inp.status,
            source=inp.spec.source,
            channel_id=inp.channel_id,
            welcome_message_id=inp.welcome_message_id,
            claimed_by=inp.claimed_by,
            assigned_to=inp.assigned_to,
            close_reason=inp.close_reason,
            closed_by=inp.closed_by,
            closed_at=inp.closed_at,
            reopen_count=inp.reopen_count,
            rating=inp.rating,
            opened_at=inp.opened_at,
            last_activity=clock.last_activity if clock else None,
            waiting_since=clock.waiting_since if clock else None,
        )

    def _state(self) -> TicketInput:
        return self._inp

    def _close(self, by: int | None, reason: str, now: datetime) -> None:
        inp = self._state()
        inp.status = CLOSED
        inp.close_reason, inp.closed_by, inp.closed_at = reason, by, now
        self._jobs.append(("close", None))

    def _say(
        self,
        key: str,
        nonce: str,
        *,
        users: tuple[int, ...] = (),
        roles: tuple[int, ...] = (),
        reopen_button: bool = False,
        **fields: object,
    ) -> None:
        """Queue a message in the ticket for the run loop."""
        notice = self._notice_of(key, nonce, users, roles, reopen_button, fields)
        if notice is not None:
            self._jobs.append(("notice", notice))

    def _notice_of(
        self,
        key: str,
        nonce: str,
        users: tuple[int, ...],
        roles: tuple[int, ...],
        reopen_button: bool,
        fields: dict[str, object],
    ) -> TicketNotice | None:
        inp = self._state()
        if inp.channel_id is None:
            return None
        return TicketNotice(
            channel_id=inp.channel_id,
            key=nonce,
            content=text(key, inp.policy.language, **fields),
            user_ids=users,
            role_ids=roles,
            closed_buttons_number=inp.number if reopen_button else None,
            language=inp.policy.language,
        )

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, inp: TicketInput) -> TicketResult:
        """Open the space, then serve actions, messages and the timer until done."""
        inp = self._state()
        if inp.channel_id is None and inp.status == OPEN:
            await self._open_space()
        while True:
            self._wake = False
            await self._work()
            now = workflow.now()
            next_at: datetime | None
            if inp.status == OPEN:
                plan = due(inp.policy, inp.clock or Clock(now, None), now)
                if plan.steps:
                    self._take(plan.steps, now)
                    continue
                next_at = plan.next_at
            else:
                assert inp.closed_at is not None
                next_at = inp.closed_at + KEEP_CLOSED
                if now >= next_at:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    await steps.settle_webhooks(self._webhooks)
                    if not self._jobs and inp.status == CLOSED:
                        return TicketResult(inp.number, inp.status, inp.rating)
                    continue
            if self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await steps.settle_webhooks(self._webhooks)
                if not self._jobs:
                    workflow.continue_as_new(replace(inp))
            timeout = None if next_at is None else max(next_at - now, timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._wake, timeout=timeout)
            except TimeoutError:
                pass

    def _take(self, due_steps: tuple[str, ...], now: datetime) -> None:
        """Carry out what the clock says is due: remind staff, warn the member, close."""
        inp = self._state()
        assert inp.clock is not None
        policy = inp.policy
        if AUTO_CLOSE in due_steps:
            hours = f"{policy.auto_close_hours:g}"
            self._say(
                "ticket.auto_closed", f"auto-close-{inp.closes}", reopen_button=True, hours=hours
            )
            self._close(None, AUTO_CLOSE_REASON, now)
            self._save_due = True
            return
        if REMIND in due_steps:
            inp.clock = replace(inp.clock, reminded=True)
            waiting = inp.clock.waiting_since or now
            minutes = int((now - waiting).total_seconds() // 60)
            staff = (inp.assigned_to,) if inp.assigned_to else ()
            roles = () if staff else policy.staff_roles(inp.spec.category)
            mention = " ".join([f"<@{u}>" for u in staff] + [f"<@&{r}>" for r in roles])
            self._say(
                "ticket.reminder",
                f"remind-{waiting.timestamp()}",
                users=staff,
                roles=roles,
                staff=mention or text("ticket.staff", policy.language),
                member=f"<@{inp.spec.user_id}>",
                minutes=minutes,
            )
        if WARN in due_steps:
            inp.clock = replace(inp.clock, warned=True)
            close = policy.auto_close
            assert close is not None
            close_at = inp.clock.last_activity + close
            self._say(
                "ticket.warning",
                f"warn-{inp.clock.last_activity.timestamp()}",
                users=(inp.spec.user_id,),
                member=f"<@{inp.spec.user_id}>",
                when=f"<t:{int(close_at.timestamp())}:R>",
            )

    async def _open_space(self) -> None:
        inp = self._state()
        spec, policy = inp.spec, inp.policy
        parent = policy.parent_channel_id or spec.origin_channel_id
        try:
            made: SpaceResult = await workflow.execute_activity_method(
                TicketActivities.open_ticket_space,
                SpaceInput(
                    guild_id=spec.guild_id,
                    number=inp.number,
                    user_id=spec.user_id,
                    subject=spec.subject,
                    mode=policy.mode,
                    parent_id=parent or 0,
                    staff_role_ids=policy.staff_roles(spec.category),
                    language=policy.language,
                ),
                start_to_close_timeout=_LONG,
                heartbeat_timeout=_SHORT,
                retry_policy=_DISCORD,
            )
        except ActivityError as err:
            workflow.logger.warning("ticket space failed: %s", err.cause or err)
            self._close(None, "Could not open a thread or channel for the ticket", workflow.now())
            self._jobs.clear()  # nothing to post into, nothing to transcribe
            inp.closes += 1
            self._save_due = True
            await self._save()
            return
        inp.channel_id, inp.welcome_message_id = made.channel_id, made.welcome_message_id
        self._save_due = True

    async def _work(self) -> None:
        """Run queued jobs in order (notices, a close, a reopen), then save if anything moved."""
        while self._jobs:
            kind, arg = self._jobs.pop(0)
            if kind == "notice":
                assert isinstance(arg, TicketNotice)
                await self._notice(arg)
            elif kind == "close":
                await self._carry_out_close()
            elif kind == "reopen":
                await self._carry_out_reopen(arg if isinstance(arg, int) else None)
        if self._save_due:
            await self._save()

    async def _notice(self, notice: TicketNotice) -> None:
        await steps.optional(
            workflow.execute_activity_method(
                TicketActivities.post_ticket_notice,
                notice,
                start_to_close_timeout=_SHORT,
                retry_policy=_DISCORD,
            ),
            "ticket notice",
        )

    async def _save(self) -> None:
        self._save_due = False
        await workflow.execute_activity_method(
            TicketActivities.save_ticket, self.view(), start_to_close_timeout=_SHORT
        )

    async def _carry_out_close(self) -> None:
        inp = self._state()
        policy, key = inp.policy, f"close-{inp.closes}"
        inp.closes += 1
        await self._save()  # the row says closed at once: the member's limit frees up
        if workflow.patched(steps.WEBHOOK_PATCH):
            delivery = steps.webhook(
                inp.spec.guild_id,
                "ticket.closed",
                key,
                {
                    "number": inp.number,
                    "user_id": str(inp.spec.user_id),
                    "subject": inp.spec.subject,
                    "category": inp.spec.category,
                    "closed_by": str(inp.closed_by) if inp.closed_by else None,
                    "reason": inp.close_reason,
                    "closed_at": inp.closed_at.isoformat() if inp.closed_at else None,
                },
                activity="deliver_ticket_webhooks",
            )
            self._webhooks.append(delivery)
        if inp.channel_id is None:
            return
        if inp.closed_by is not None:  # an auto-close has already said why
            fields: dict[str, object] = {
                "by": f"<@{inp.closed_by}>",
                "reason": inp.close_reason or "-",
            }
            notice = self._notice_of("ticket.closed", key, (), (), True, fields)
            if notice is not None:
                await self._notice(notice)
        await steps.optional(
            workflow.execute_activity_method(
                TicketActivities.build_ticket_transcript,
                TranscriptInput(
                    header=TranscriptHeader(
                        guild_id=inp.spec.guild_id,
                        number=inp.number,
                        subject=inp.spec.subject,
                        user_id=inp.spec.user_id,
                        category=inp.spec.category,
                        claimed_by=inp.claimed_by,
                        closed_by=inp.closed_by,
                        close_reason=inp.close_reason or "",
                        opened_at=inp.opened_at,
                        closed_at=inp.closed_at,
                    ),
                    channel_id=inp.channel_id,
                    log_channel_id=policy.log_channel_id,
                    close_key=key,
                    language=policy.language,
                ),
                start_to_close_timeout=_LONG,
                heartbeat_timeout=_SHORT,
                retry_policy=_DISCORD,
            ),
            "ticket transcript",
        )
        await self._space(open_=False)
        await self._save()
        if policy.ask_rating and inp.rating is None:
            await steps.optional(
                workflow.execute_activity_method(
                    TicketActivities.ask_ticket_rating,
                    RatingAsk(
                        inp.spec.guild_id,
                        inp.number,
                        inp.spec.user_id,
                        inp.spec.subject,
                        key,
                        policy.language,
                    ),
                    start_to_close_timeout=_SHORT,
                    retry_policy=_DISCORD,
                ),
                "ticket rating request",
            )

    async def _carry_out_reopen(self, by: int | None) -> None:
        inp = self._state()
        if inp.channel_id is None:
            return
        await self._space(open_=True)
        self._say("ticket.reopened", f"reopen-{inp.reopen_count}", by=f"<@{by}>")

    async def _space(self, *, open_: bool) -> None:
        inp = self._state()
        assert inp.channel_id is not None
        await steps.optional(
            workflow.execute_activity_method(
                TicketActivities.set_ticket_space_state,
                SpaceState(
                    guild_id=inp.spec.guild_id,
                    channel_id=inp.channel_id,
                    mode=inp.policy.mode,
                    user_id=inp.spec.user_id,
                    open=open_,
                    number=inp.number,
                    welcome_message_id=inp.welcome_message_id,
                    language=inp.policy.language,
                ),
                start_to_close_timeout=_SHORT,
                retry_policy=_DISCORD,
            ),
            "ticket thread state",
        )

    def _should_continue(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._inp.history_limit
        )
