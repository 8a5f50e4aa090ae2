"""The durability drills' harness: one file-backed Temporal dev server, one Discord simulator, one
SQLite database and the real `dcs worker` / `dcs gateway` processes, shared by the drills of
tests/e2e/test_durability_drills.py (see docs/durability.md).

The processes are started with bench/bench_raid.py's helpers (`suite_env`, `spawn_process`,
`wait_until`, and its `Drill` for starting and SIGKILLing the worker), so the drills run the
suite exactly as the raid drill does. Only the Temporal dev server is ours:
`dcs.temporal.dev_server_command` (the command `dcs up` runs, with `--db-filename`), so it can
be killed and started again on the same file and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_raid import Drill, spawn_process, suite_env, wait_until

from api.app import create_app
from api.auth import hash_token, new_token_secret
from dcs.sandbox import sandbox_telegram
from dcs.settings import Settings
from dcs.temporal import dev_server_command, port_open
from domain.cases import Violation, violation_to_json
from gateway.bot import REPORT
from simulator import DiscordSimulator
from simulator.config import SimulatorConfig
from simulator.gateway import IDENTIFY
from simulator.world import World
from storage import outbox
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.models import ModerationCase
from storage.servers import ensure_server, put_server_config
from storage.tokens import create_token

__all__ = ["Suite", "running_suite", "wait_for"]

BAN_ROUTE = "/guilds/{guild_id}/bans/{user_id}"
DELETE_ROUTE = "/channels/{channel_id}/messages/{message_id}"


async def wait_for(probe: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy; TimeoutError otherwise."""
    return await wait_until(probe, timeout, step)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevServer:
    """`temporal server start-dev` with its state in a SQLite file: killed and started again on
    the same file and port, it must come back with every workflow and timer."""

    def __init__(self, command: list[str], port: int, workdir: Path) -> None:
        self.command, self.port, self.workdir = command, port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with (self.workdir / "temporal.log").open("ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=log)

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"temporal dev server exited; see {self.workdir}/temporal.log")
            return port_open("127.0.0.1", self.port)

        await wait_for(listening, 60)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing kept beyond what the SQLite file already holds."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@dataclass
class Suite:
    """Everything the drills share; the worker and the gateway can be killed and replaced."""

    workdir: Path
    sim: DiscordSimulator
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    api: httpx.AsyncClient
    headers: dict[str, str]
    env: dict[str, str]
    temporal: DevServer
    procs: Drill
    log: list[str] = field(default_factory=list)
    workers_started: int = 0
    """Workers started so far (the log's n-th "worker polling" line is the n-th worker's)."""

    @property
    def guild(self) -> int:
        return self.sim.world.guild_id

    @property
    def queue(self) -> str:
        return self.env["TEMPORAL_TASK_QUEUE"]

    # -- worker and gateway ----------------------------------------------------------------------

    def start_worker(self) -> None:
        self.procs.start_worker()
        self.workers_started += 1

    def kill_worker(self) -> None:
        """SIGKILL the worker (bench_raid's Drill.kill_worker)."""
        self.procs.kill_worker()

    def worker_starts(self) -> list[float]:
        """When each worker so far began polling (from their shared log), epoch seconds."""
        path = self.workdir / "worker.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [
            datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()
            for line in lines
            if "worker polling task queue" in line
        ]

    async def worker_ready(self) -> float:
        """Wait for the current worker's first poll; when it began, epoch seconds."""
        count = self.workers_started

        def ready() -> float | None:
            starts = self.worker_starts()
            return starts[count - 1] if len(starts) >= count else None

        started: float = await wait_for(ready, 90)
        return started

    async def idle(self, workflow_id: str) -> None:
        """Wait until the workflow waits on nothing but timers and signals: no activity or
        workflow task in flight (a kill then lands "during the wait", not mid-activity)."""
        handle = self.client.get_workflow_handle(workflow_id)

        async def quiet() -> bool:
            raw = (await handle.describe()).raw_description
            return not raw.pending_activities and not raw.HasField("pending_workflow_task")

        await wait_for(quiet, 60)

    def identifies(self) -> int:
        return len(self.sim.gateway_ops(IDENTIFY))

    async def start_gateway(self) -> None:
        """Start `dcs gateway` and wait until it has identified and synced its commands."""
        before, since = self.identifies(), time.time()
        self.procs.gateway = spawn_process("gateway", self.env, self.workdir / "gateway.log")

        def synced() -> bool:
            puts = [r for r in self.sim.requests("PUT", None) if r.timestamp >= since]
            return self.identifies() > before and bool(puts)

        await wait_for(synced, 90)

    def kill_gateway(self) -> None:
        gateway = self.procs.gateway
        assert gateway is not None
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)

    async def stop_all(self) -> None:
        for proc in (self.procs.gateway, self.procs.worker, self.temporal.proc):
            if proc is not None and proc.poll() is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)

    # -- people and state ------------------------------------------------------------------------

    def add_member(self, name: str) -> int:
        """A new member of a few months' standing (the seeded ones are used up by the drills)."""
        now = datetime.now(UTC)
        user = self.sim.world.add_user(name, created_at=now - timedelta(days=400))
        guild = self.sim.world.guilds[self.guild]
        self.sim.engine.add_member(guild, user, joined_at=now - timedelta(days=90))
        return int(user.id)

    async def keep_report(self, user_id: int, source_key: str) -> Violation:
        """Write a report into the outbox as the gateway does when Temporal is unreachable."""
        violation = Violation(
            guild_id=self.guild,
            user_id=user_id,
            source_key=source_key,
            source="automod",
            action="warn",
            reason="drill: kept while Temporal was unreachable",
            occurred_at=datetime.now(UTC),
        )
        async with self.sessions() as session, session.begin():
            await outbox.put(session, REPORT, violation_to_json(violation))
        return violation

    # -- what happened on "Discord" and in the database -----------------------------------------

    def bans_of(self, user_id: int) -> int:
        return sum(1 for r in self.sim.requests("PUT", BAN_ROUTE) if r.path.endswith(f"/{user_id}"))

    def deletes_of(self, message_id: int) -> int:
        return sum(
            1
            for r in self.sim.requests("DELETE", DELETE_ROUTE)
            if r.path.endswith(f"/{message_id}") and r.status < 300
        )

    def messages_containing(self, channel_id: int, needle: str) -> list[Any]:
        return [m for m in self.sim.world.channel_messages(channel_id) if needle in m.content]

    async def cases_for(self, source_key: str) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(ModerationCase)
                .where(
                    ModerationCase.guild_id == self.guild,
                    ModerationCase.source_key == source_key,
                )
            )
        return int(count or 0)

    async def stays(self, probe: Callable[[], Awaitable[bool] | bool], seconds: float) -> bool:
        """True when `probe` holds throughout `seconds` (a duplicate would show up meanwhile)."""
        deadline = time.monotonic() + seconds
        while True:
            value = probe()
            if asyncio.iscoroutine(value):
                value = await value
            if not value:
                return False
            if time.monotonic() >= deadline:
                return True
            await asyncio.sleep(0.1)


async def _api_headers(sessions: async_sessionmaker[AsyncSession], guild: int) -> dict[str, str]:
    secret = new_token_secret()
    async with sessions() as session, session.begin():
        await create_token(
            session,
            name="drill-moderator",
            role="admin",
            token_hash=hash_token(secret),
            guild_id=guild,
            expires_at=None,
        )
    return {"Authorization": f"Bearer {secret}"}


@contextlib.asynccontextmanager
async def running_suite(
    workdir: Path, configure: Callable[[World], dict[str, Any]]
) -> AsyncIterator[Suite]:
    """The shared suite: dev server on a file, simulator, database, worker and gateway.

    `configure` gives the guild's config from the simulator's world (its channel and role ids).
    """
    db = f"sqlite+aiosqlite:///{workdir / 'drills.db'}"
    await upgrade_database_async(db)
    engine = create_engine(db)
    sessions = make_sessionmaker(engine)
    port = free_port()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        temporal_address=f"127.0.0.1:{port}",
        temporal_ui_port=free_port(),
        data_dir=workdir / "temporal",
    )
    dev = DevServer(dev_server_command(settings), port, workdir)
    sim = DiscordSimulator(SimulatorConfig(enforce_member_restrictions=False))
    await sim.start(port=0)
    telegram = sandbox_telegram()  # the worker's approval requests go there, as in `dcs up`
    await telegram.start("127.0.0.1", 0)
    suite: Suite | None = None
    try:
        guild = sim.world.guild_id
        async with sessions() as session, session.begin():
            await ensure_server(session, guild, "Sandbox Community")
            await put_server_config(
                session, guild, configure(sim.world), expected_version=None, changed_by="drill"
            )
        sim_port = int(sim.base_url.rsplit(":", 1)[1])
        queue = f"drills-{uuid.uuid4().hex[:8]}"
        env = suite_env(sim_port, db, settings.temporal_address, queue, workdir)
        env.update(
            LOG_LEVEL="INFO",
            INTERACTIONS_RELAY_PORT="0",
            TELEGRAM_SANDBOX_PORT=str(telegram.port),
        )
        # The FAQ embedder re-quantizes MiniLM into DATA_DIR/models on a gateway's first start
        # (tens of seconds of CPU, nothing the drills test); a file in its place makes it run
        # the wheel's model as it is, its documented fallback (dcs/faq_model.py).
        (workdir / "models").write_text("the drills run the FAQ embedder's wheel model\n")
        headers = await _api_headers(sessions, guild)
        await dev.start()
        client = await Client.connect(settings.temporal_address)
        app = create_app(sessions, temporal=client, task_queue=queue)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            suite = Suite(
                workdir=workdir,
                sim=sim,
                client=client,
                sessions=sessions,
                api=api,
                headers=headers,
                env=env,
                temporal=dev,
                procs=Drill(sim, client, sessions, env),  # its process helpers
            )
            suite.start_worker()
            await suite.start_gateway()
            await suite.worker_ready()
            yield suite
    finally:
        if suite is not None:
            await suite.stop_all()
        elif dev.proc is not None:
            dev.proc.kill()
            dev.proc.wait(10)
        await telegram.stop()
        await sim.stop()
        await engine.dispose()
