"""What an open workflow costs the worker: `dcs worker`'s RSS against the number of open ones.

A real ``dcs worker`` process runs against the Temporal dev server (in memory, started by the
SDK's ``WorkflowEnvironment.start_local`` with the bundled ``temporal`` CLI), a fresh database
(PostgreSQL at DCS_BENCH_POSTGRES_DSN, created and dropped here; a SQLite file when no server
answers) and the Discord simulator (in this process, playing Discord for the activities). The
long-lived workflows that really stay open in production are started as the product starts
them, through the Temporal client with the product's workflow classes, ids and inputs:

* moderation: a moderator's ``/ban`` of a member on a server where bans need approval
  (signal-with-start ``moderation:{guild}:{user}`` with the ``report`` signal); it records the
  case, posts the approval request and waits for a person (and 30 days of quiet after);
* tickets: ``workflows.ticket_control.open_ticket`` (``ticket:{guild}:{n}``: a private thread,
  the welcome notice, then the staff-reminder and auto-close timers);
* events: ``workflows.event_control.create_event`` a week ahead (``event:{guild}:{id}``: the
  announcement, then timers for its reminders);
* raid lockdowns: ``workflows.raid_control.start_lockdown`` as ``/lockdown`` does, a manual
  lockdown for a day (``raid:{guild}``, one per guild, so each gets its own simulated guild).

Warm-up: a few of each kind run their first tasks and are terminated, so imports and caches the
first workflow of a kind loads are not counted; then the RSS with no open workflows. Then the
open count is raised step by step; after each step the worker must have run every new
workflow's first tasks (its CPU idle for 3 s, every approval request and event post made) and
its RSS (the process tree's VmRSS, median of three reads) is taken. The figure is the
least-squares slope over the steps that fit in the worker's sticky cache; the steps beyond it
show what the cache does: Temporal's Python worker keeps at most ``max_cached_workflows`` runs
in memory (the product leaves the SDK default, 1,000) and evicts the least recently used, so
workflows beyond the cache cost the worker no memory until their next task (which then replays
their history).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memory_common import add_guild, load_average, settle, slope, tree_rss_mb
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dcs.temporal import bundled_binary
from domain.cases import Violation
from domain.events import EventSpec
from domain.lockdown import RaidReport
from domain.tickets import TicketSpec
from simulator import DiscordSimulator
from simulator.config import SimulatorConfig
from simulator.models import Member
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.models import Event, PendingApproval
from storage.servers import ensure_server, put_server_config
from workflows.event_control import create_event
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id
from workflows.raid import RaidLockdownInput
from workflows.raid_control import start_lockdown
from workflows.ticket_control import open_ticket

SINGLE_CORE = False
"""The worker, Temporal and the simulator are separate processes or tasks."""

STEPS = tuple(int(n) for n in os.environ.get("BENCH_WORKER_STEPS", "500,1000,2000").split(","))
"""Open workflows after each step."""
WARM_UP = 10
"""Workflows of each kind run and terminated before the baseline."""
MIX = (("moderation", 0.35), ("ticket", 0.30), ("event", 0.25), ("raid", 0.10))
"""Share of each kind among the open workflows."""
CONCURRENCY = 16
"""Starts in flight."""
POSTGRES_DSN = os.environ.get(
    "DCS_BENCH_POSTGRES_DSN",
    os.environ.get("DCS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
)
"""A server where this benchmark creates (and drops) a fresh database; SQLite if unreachable."""
LOCKED_RETRIES = 5
CACHE = int(inspect.signature(Worker.__init__).parameters["max_cached_workflows"].default)
"""The SDK default; dcs.temporal.build_worker does not set max_cached_workflows."""


def _env(api_url: str, db: str, target: str, queue: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=db,
        TEMPORAL_ADDRESS=target,
        TEMPORAL_TASK_QUEUE=queue,
        TEMPORAL_START_DEV_SERVER="false",
        # a bot token and the simulator as Discord's API: production mode, Telegram not set up
        DISCORD_BOT_TOKEN="bench-token",
        DISCORD_API_URL=api_url,
        DATA_DIR=str(data),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        SCAM_FEED_URL="",
        METRICS_PORT_WORKER="0",
    )
    return env


def split(count: int) -> dict[str, int]:
    """How many of each kind make `count` (the rounding remainder goes to moderation)."""
    shares = {kind: int(count * share) for kind, share in MIX}
    shares[MIX[0][0]] += count - sum(shares.values())
    return shares


async def _median_rss(pid: int) -> float:
    reads = []
    for _ in range(3):
        reads.append(tree_rss_mb(pid))
        await asyncio.sleep(1.0)
    return sorted(reads)[1]


class Fleet:
    """The guild, its members, the raid guilds, and the workflows started so far."""

    def __init__(self, sim: DiscordSimulator, client: Client, sessions: Any, queue: str) -> None:
        self.sim = sim
        self.client = client
        self.sessions = sessions
        self.queue = queue
        self.guild = sim.world.guild_id
        self.members: itertools.count[int] = itertools.count()
        self.member_ids: list[int] = []
        self.raid_guilds: list[int] = []
        self.raids_used = 0
        self.started: dict[str, int] = {kind: 0 for kind, _ in MIX}
        self.locked_retries = 0
        self.start_seconds: dict[str, float] = {kind: 0.0 for kind, _ in MIX}

    async def prepare(self, members: int, raid_guilds: int) -> None:
        world = self.sim.world
        guild = world.guilds[self.guild]
        now = datetime.now(UTC)
        member_role = world.role("Member")
        for i in range(members):
            user = world.add_user(f"member{i:05d}", created_at=now - timedelta(days=500))
            guild.members[user.id] = Member(
                user.id, guild.id, joined_at=now - timedelta(days=60), roles=[member_role]
            )
            self.member_ids.append(user.id)
        config = {
            "mod_log_channel_id": world.channel("mod-log"),
            "approvals": {"sensitive_actions": ["kick", "ban"]},
            "tickets": {
                "parent_channel_id": world.channel("support"),
                "log_channel_id": world.channel("mod-log"),
                "support_role_ids": [world.role("Moderator")],
            },
        }
        async with self.sessions() as session, session.begin():
            await ensure_server(session, self.guild, "Sandbox Community")
            await put_server_config(
                session, self.guild, config, expected_version=None, changed_by="bench"
            )
        for i in range(raid_guilds):
            built = add_guild(self.sim, f"raid{i:04d}", members=5, now=now)
            self.raid_guilds.append(built.id)
            async with self.sessions() as session, session.begin():
                await ensure_server(session, built.id, f"raid{i:04d}")

    def _next_member(self) -> int:
        return self.member_ids[next(self.members)]

    async def moderation(self) -> str:
        user = self._next_member()
        world = self.sim.world
        violation = Violation(
            guild_id=self.guild,
            user_id=user,
            source_key=f"cmd:ban:{user}",
            source="command",
            action="ban",
            reason="raiding",
            occurred_at=datetime.now(UTC),
            points=0,
            moderator_id=world.owner_id,
            mod_log_channel_id=world.channel("mod-log"),
            explicit=True,
        )
        workflow_id = moderation_workflow_id(self.guild, user)
        await self.client.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(self.guild, user),
            id=workflow_id,
            task_queue=self.queue,
            start_signal="report",
            start_signal_args=[violation],
        )
        return workflow_id

    async def ticket(self) -> str:
        user = self._next_member()
        spec = TicketSpec(self.guild, user, "Cannot log in")
        number = await open_ticket(self.client, self.sessions, self.queue, spec)
        return f"ticket:{self.guild}:{number}"

    async def event(self) -> str:
        now = datetime.now(UTC)
        spec = EventSpec(
            title="Game night",
            start=now + timedelta(days=7),
            timezone="Europe/Berlin",
            channel_id=self.sim.world.channel("events"),
        )
        event_id = await create_event(
            self.client, self.sessions, self.queue, self.guild, spec, self.sim.world.owner_id, now
        )
        return f"event:{self.guild}:{event_id}"

    async def raid(self) -> str:
        guild_id = self.raid_guilds[self.raids_used]
        self.raids_used += 1
        inp = RaidLockdownInput(guild_id, "manual", "bench", "drill", duration_minutes=24 * 60)
        handle = await start_lockdown(self.client, self.queue, inp, RaidReport(datetime.now(UTC)))
        return handle.id

    async def start(self, counts: dict[str, int]) -> list[str]:
        """Start this many of each kind, CONCURRENCY at a time; their ids."""
        makers: dict[str, Callable[[], Awaitable[str]]] = {
            "moderation": self.moderation,
            "ticket": self.ticket,
            "event": self.event,
            "raid": self.raid,
        }
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(kind: str) -> str:
            async with gate:
                t0 = time.perf_counter()
                for attempt in range(LOCKED_RETRIES + 1):
                    try:
                        workflow_id = await makers[kind]()
                        break
                    except OperationalError as exc:  # SQLite's writer lock; nothing was started
                        if "locked" not in str(exc) or attempt == LOCKED_RETRIES:
                            raise
                        self.locked_retries += 1
                        await asyncio.sleep(0.5)
                self.start_seconds[kind] += time.perf_counter() - t0
                self.started[kind] += 1
                return workflow_id

        order = [kind for kind, n in counts.items() for _ in range(n)]
        return list(await asyncio.gather(*(one(kind) for kind in order)))

    async def first_tasks_done(self) -> bool:
        """Every approval request and every event announcement has been posted."""
        async with self.sessions() as session:
            approvals = await session.scalar(
                select(func.count())
                .select_from(PendingApproval)
                .where(PendingApproval.discord_message_id.is_not(None))
            )
            posted = await session.scalar(
                select(func.count()).select_from(Event).where(Event.message_id.is_not(None))
            )
        return (approvals or 0) >= self.started["moderation"] and (posted or 0) >= self.started[
            "event"
        ]


async def _wait_done(fleet: Fleet, pid: int, limit: float = 600.0) -> float:
    """Seconds until every new workflow's first tasks ran and the worker is idle."""
    t0 = time.monotonic()
    deadline = t0 + limit
    while not await fleet.first_tasks_done():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not run every workflow's first tasks")
        await asyncio.sleep(1.0)
    await settle(pid, limit=max(10.0, deadline - time.monotonic()))
    return time.monotonic() - t0


@contextlib.asynccontextmanager
async def fresh_database(workdir: Path) -> AsyncIterator[str]:
    """A new PostgreSQL database (as production runs), dropped after; a SQLite file without one."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"dcs_bench_wmem_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = make_url(POSTGRES_DSN).set(database=name, drivername="postgresql+asyncpg")
    try:
        yield base.render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def measure(workdir: Path, steps: tuple[int, ...] = STEPS) -> dict[str, Any]:
    """A fresh database, then `measure_with`."""
    async with fresh_database(workdir) as db:
        out = await measure_with(db, workdir, steps)
    out["database"] = db.split(":", 1)[0]
    return out


async def measure_with(db: str, workdir: Path, steps: tuple[int, ...]) -> dict[str, Any]:
    """Start the worker, warm it up, raise the open workflows step by step; what was seen."""
    await upgrade_database_async(db)
    engine = create_engine(db)
    sessions = make_sessionmaker(engine)
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal")
    )
    sim = DiscordSimulator(SimulatorConfig(enforce_member_restrictions=False))
    await sim.start(port=0)
    worker: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {"load_average_before": load_average()}
    try:
        top = max(steps)
        mix = split(top)
        fleet = Fleet(sim, temporal.client, sessions, f"bench-wmem-{uuid.uuid4().hex[:8]}")
        await fleet.prepare(
            members=mix["moderation"] + mix["ticket"] + 2 * WARM_UP + 10,
            raid_guilds=mix["raid"] + WARM_UP,
        )
        target = temporal.client.service_client.config.target_host
        env = _env(sim.api_base, db, target, fleet.queue, workdir)
        worker = subprocess.Popen(
            [sys.executable, "-m", "dcs", "worker"],
            env=env,
            stdout=(workdir / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        await asyncio.sleep(5.0)
        await settle(worker.pid, limit=120)
        out["rss_mb_started"] = round(await _median_rss(worker.pid), 1)
        warm = await fleet.start({kind: WARM_UP for kind, _ in MIX})
        await _wait_done(fleet, worker.pid)
        for workflow_id in warm:
            await temporal.client.get_workflow_handle(workflow_id).terminate("warm-up over")
        await settle(worker.pid, limit=120)
        points: list[dict[str, Any]] = [
            {"open": 0, "rss_mb": round(await _median_rss(worker.pid), 1)}
        ]
        opened = 0
        for step in steps:
            want = split(step)
            have = split(opened)
            counts = {kind: want[kind] - have[kind] for kind in want}
            t0 = time.monotonic()
            await fleet.start(counts)
            started_s = time.monotonic() - t0
            done_s = await _wait_done(fleet, worker.pid)
            opened = step
            points.append(
                {
                    "open": step,
                    "rss_mb": round(await _median_rss(worker.pid), 1),
                    "started": counts,
                    "start_seconds": round(started_s, 1),
                    "starts_per_s": round(sum(counts.values()) / started_s, 1),
                    "first_tasks_done_s": round(done_s, 1),
                    "load_average": load_average(),
                }
            )
            if worker.poll() is not None:
                raise RuntimeError("the worker died; see worker.log")
        out["points"] = points
        out["locked_retries"] = fleet.locked_retries
        out["start_ms_by_kind"] = {
            kind: round(1000 * fleet.start_seconds[kind] / max(1, fleet.started[kind]), 1)
            for kind in fleet.started
        }
        out["load_average_after"] = load_average()
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(20)
            worker.kill()
        await sim.stop()
        await temporal.shutdown()
        await engine.dispose()
    return out


def figures(out: dict[str, Any], cache: int = CACHE) -> dict[str, dict[str, Any]]:
    """The figure from what `measure` saw: the slope over the steps within the cache."""
    points = out["points"]
    within = [(p["open"] / 1000, p["rss_mb"]) for p in points if p["open"] <= cache]
    beyond = [p for p in points if p["open"] > cache]
    value = slope(within)
    return {
        "worker_rss_mb_per_1k_open_workflows": {
            "value": round(value, 1),
            "unit": "MB",
            "method": (
                "least-squares slope of the dcs worker process tree's VmRSS over the open "
                f"workflows, for the steps within the sticky cache ({cache} runs); mix "
                + ", ".join(f"{kind} {share:.0%}" for kind, share in MIX)
            ),
            "max_cached_workflows": cache,
            "max_cached_workflows_source": (
                "Temporal Python SDK default; dcs/temporal.py build_worker does not set it"
            ),
            "rss_mb_worker_started": out["rss_mb_started"],
            "points": points,
            "rss_mb_beyond_cache": [{"open": p["open"], "rss_mb": p["rss_mb"]} for p in beyond],
            "cache_note": (
                f"the worker keeps at most {cache} workflow runs in memory and evicts the least "
                "recently used; an evicted workflow costs the worker no memory until its next "
                "task (a timer, a signal, a decision), which replays its history into the cache. "
                "Beyond the cache the worker's RSS stops growing with the open count; the cost "
                "moves to the Temporal server (history, timers) and to replay CPU."
            ),
            "start_ms_by_kind": out["start_ms_by_kind"],
            "sqlite_locked_retries": out["locked_retries"],
            "database": f"{out['database']}: a fresh database for the starts and the worker",
            "load_average_before": out["load_average_before"],
            "load_average_after": out["load_average_after"],
        }
    }


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``."""
    with tempfile.TemporaryDirectory(prefix="dcs-bench-wmem-") as tmp:
        out = asyncio.run(measure(Path(tmp)))
    return figures(out)


if __name__ == "__main__":  # a quick look without run.py: BENCH_WORKER_STEPS=50,100
    import json

    kept = Path(tempfile.mkdtemp(prefix="dcs-bench-wmem-"))
    print(kept)
    print(json.dumps(asyncio.run(measure(kept)), indent=2))
