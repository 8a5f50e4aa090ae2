"""Managing announcements from the API and the gateway: the row and its Temporal Schedule together.

A request is checked in full first (`domain.announcements.problems`), so a bad cron expression,
zone or past instant is refused with every problem listed and nothing created. The row is written
first, then the schedule; when Temporal refuses the schedule the row is removed again.

A one-off is a schedule with a single calendar instant rather than a workflow sleeping on a
durable timer: then every announcement is managed the same way (pause, resume, "now", delete,
next run shown by Temporal), and a paused one-off does not fire when its instant passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.announcements import AnnouncementRun, AnnouncementSpec, problems, schedule_id
from storage import announcements as store
from storage.models import Announcement
from workflows.announcement import AnnouncementWorkflow

CATCHUP = timedelta(minutes=10)
"""A run missed while everything was down is still posted within this window, not later."""


class AnnouncementRejected(Exception):
    """The request cannot be scheduled; `problems` lists every reason."""

    def __init__(self, found: list[str]) -> None:
        super().__init__("; ".join(found))
        self.problems = found


class AnnouncementNotFound(Exception):
    """No announcement with that number in this server."""


@dataclass(frozen=True)
class Timing:
    """What Temporal says about a schedule: paused, the next runs, how many ran."""

    paused: bool
    next_runs: tuple[datetime, ...]
    runs: int


def _one(value: int) -> list[ScheduleRange]:
    return [ScheduleRange(value)]


def schedule_spec(spec: AnnouncementSpec) -> ScheduleSpec:
    """Cron in the announcement's zone, an interval, or one UTC instant."""
    if spec.at is not None:
        at = spec.at.astimezone(UTC)
        return ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=_one(at.second),
                    minute=_one(at.minute),
                    hour=_one(at.hour),
                    day_of_month=_one(at.day),
                    month=_one(at.month),
                    year=_one(at.year),
                    day_of_week=[ScheduleRange(0, 6)],
                )
            ],
            time_zone_name="UTC",
        )
    if spec.interval_seconds is not None:
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(timedelta(seconds=spec.interval_seconds))]
        )
    assert spec.cron is not None
    return ScheduleSpec(cron_expressions=[spec.cron], time_zone_name=spec.timezone)


def build_schedule(
    guild_id: int, number: int, spec: AnnouncementSpec, task_queue: str, paused: bool = False
) -> Schedule:
    """The schedule whose every action starts one `AnnouncementWorkflow` run."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AnnouncementWorkflow.run,
            AnnouncementRun(guild_id, number),
            id=schedule_id(guild_id, number),
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=schedule_spec(spec),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP),
        state=ScheduleState(paused=paused, note="paused" if paused else None),
    )


def _refused(exc: RPCError) -> AnnouncementRejected:
    return AnnouncementRejected([f"schedule: Temporal refused it: {exc.message}"])


async def create_announcement(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    guild_id: int,
    spec: AnnouncementSpec,
    created_by: str,
    now: datetime,
) -> int:
    """Validate, write the row, create `announce:{guild}:{n}`; returns n."""
    found = problems(spec, now)
    if found:
        raise AnnouncementRejected(found)
    async with sessions() as session, session.begin():
        number = (await store.add_announcement(session, guild_id, spec, created_by)).number
    schedule = build_schedule(guild_id, number, spec, task_queue)
    try:
        try:
            await client.create_schedule(schedule_id(guild_id, number), schedule)
        except ScheduleAlreadyRunningError:  # an orphan (its row is gone): it becomes this one
            await client.get_schedule_handle(schedule_id(guild_id, number)).update(
                lambda _: ScheduleUpdate(schedule=schedule)
            )
    except BaseException as exc:
        async with sessions() as session, session.begin():
            await store.delete_announcement(session, guild_id, number)
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise _refused(exc) from exc
        raise
    return number


async def _row(
    sessions: async_sessionmaker[AsyncSession], guild_id: int, number: int
) -> Announcement:
    async with sessions() as session:
        row = await store.get_announcement(session, guild_id, number)
    if row is None:
        raise AnnouncementNotFound(number)
    return row


async def update_announcement(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    guild_id: int,
    number: int,
    spec: AnnouncementSpec,
    now: datetime,
) -> None:
    """Replace what and when; the schedule keeps its paused state."""
    row = await _row(sessions, guild_id, number)
    found = problems(spec, now)
    if found:
        raise AnnouncementRejected(found)
    schedule = build_schedule(guild_id, number, spec, task_queue, paused=row.paused)

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    try:
        await client.get_schedule_handle(schedule_id(guild_id, number)).update(replace)
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise _refused(exc) from exc
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(schedule_id(guild_id, number), schedule)
    async with sessions() as session, session.begin():
        await store.update_announcement(session, guild_id, number, spec)


async def delete_announcement(
    client: Client, sessions: async_sessionmaker[AsyncSession], guild_id: int, number: int
) -> None:
    """Remove the schedule, then the row (a schedule already gone is fine)."""
    await _row(sessions, guild_id, number)
    try:
        await client.get_schedule_handle(schedule_id(guild_id, number)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    async with sessions() as session, session.begin():
        await store.delete_announcement(session, guild_id, number)


async def set_paused(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    guild_id: int,
    number: int,
    paused: bool,
    by: str,
) -> None:
    """Pause or resume the schedule and note it on the row."""
    await _row(sessions, guild_id, number)
    handle = client.get_schedule_handle(schedule_id(guild_id, number))
    if paused:
        await handle.pause(note=f"paused by {by}")
    else:
        await handle.unpause(note=f"resumed by {by}")
    async with sessions() as session, session.begin():
        await store.set_paused(session, guild_id, number, paused)


async def post_now(
    client: Client, sessions: async_sessionmaker[AsyncSession], guild_id: int, number: int
) -> None:
    """Run it once now, whatever its timing (also when paused)."""
    await _row(sessions, guild_id, number)
    await client.get_schedule_handle(schedule_id(guild_id, number)).trigger(
        overlap=ScheduleOverlapPolicy.ALLOW_ALL
    )


async def timing(client: Client, guild_id: int, number: int) -> Timing | None:
    """Temporal's view of the schedule (None when it is missing)."""
    try:
        described = await client.get_schedule_handle(schedule_id(guild_id, number)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = described.info
    return Timing(
        paused=described.schedule.state.paused,
        next_runs=tuple(info.next_action_times[:5]),
        runs=info.num_actions,
    )
