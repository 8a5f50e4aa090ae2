"""What one more active server costs the gateway: `dcs gateway`'s RSS and CPU per guild.

For each size G, a fresh Discord simulator (in this process) holds the sandbox guild plus G
guilds built like it (its own owner, four roles with the bot's, a category and six text
channels, MEMBERS members), a fresh SQLite database, and a real ``dcs gateway`` process in
sandbox mode (discord.py over the simulator's gateway and REST; the Temporal dev server is up,
as in production, though ordinary chat starts no workflow). The gateway connects, receives
every GUILD_CREATE with its members, registers each guild and stores its sandbox config
(``on_guild_available``); once every guild is registered and the process is idle its RSS is
read ("connected"). Then, in every guild, ACTIVE_MEMBERS members each post one ordinary chat
line (the automod corpus's clean chatter, in #general and #off-topic) and then one more, at
RATE messages a second over all guilds: automod, the spam windows, XP, the FAQ's question
check and the analytics counters see each of them. Once the process is idle again its RSS is
read ("active"). Its CPU time (utime + stime) from the first message of a round until it is
idle again, less its idle CPU over the same span, per message, gives the CPU figures: the
second round (members talking again, the steady state) is the figure, the first round (each
member's first message since the gateway started) is in the details.

Members arrive in GUILD_CREATE here (see ``members_in_guild_create``): discord.py would otherwise
chunk them at 110 guilds a minute, which is startup time, not memory.

The figure is the least-squares slope of the active RSS over G (VmRSS of the process tree,
median of three reads). The sandbox guild is there at every size, so it is in the intercept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

from automod_data import chat_vocabulary, clean_message
from bench_raid import suite_env
from memory_common import (
    BuiltGuild,
    add_guild,
    load_average,
    settle,
    slope,
    tree_cpu_s,
    tree_rss_mb,
)
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from dcs.temporal import bundled_binary
from simulator import DiscordSimulator, payloads
from simulator.config import SimulatorConfig
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.models import Server

SINGLE_CORE = False
"""The gateway is its own process; the simulator plays Discord from this one."""

SIZES = tuple(int(n) for n in os.environ.get("BENCH_GATEWAY_SIZES", "100,300,600").split(","))
MEMBERS = 100
"""Members of each guild (besides its owner and the bot)."""
MESSAGES_PER_GUILD = 6
ACTIVE_MEMBERS = 3
"""Members who talk in each guild: each posts once (a first message since the gateway
started), then once more (a repeat, within the 60 s XP cooldown)."""
RATE = 250.0
"""Messages a second over all guilds while the traffic runs."""
CHAT_CHANNELS = ("general", "off-topic")


def _env(port: int, db: str, target: str, data: Path) -> dict[str, str]:
    """The raid drill's sandbox environment, with the gateway's metrics port off."""
    queue = f"bench-gmem-{uuid.uuid4().hex[:8]}"
    return {**suite_env(port, db, target, queue, data), "METRICS_PORT_GATEWAY": "0"}


async def _median_rss(pid: int) -> float:
    reads = []
    for _ in range(3):
        reads.append(tree_rss_mb(pid))
        await asyncio.sleep(1.0)
    return sorted(reads)[1]


async def _servers(sessions: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Server)) or 0)


async def traffic(
    sim: DiscordSimulator, guilds: list[BuiltGuild], rate: float, rounds: range, seed: int
) -> int:
    """One ordinary line per guild per round, at `rate` a second; round k's author is the
    guild's member k % ACTIVE_MEMBERS, so later rounds are the same members talking again."""
    rng = random.Random(seed)
    words = sorted(chat_vocabulary())
    sent, start = 0, time.monotonic()
    for k in rounds:
        for guild in guilds:
            channel = guild.channels[CHAT_CHANNELS[k % len(CHAT_CHANNELS)]]
            author = guild.member_ids[k % ACTIVE_MEMBERS]
            text = f"{clean_message(rng)} {rng.choice(words)} {rng.choice(words)}"
            await sim.post_message(channel, author, text)
            sent += 1
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
    return sent


async def cpu_of(pid: int, idle_rate: float, send: Awaitable[int]) -> dict[str, Any]:
    """Send, wait until the process is idle again; its CPU for it, less its idle CPU."""
    cpu0, t0 = tree_cpu_s(pid), time.monotonic()
    sent = await send
    post_s = time.monotonic() - t0
    await settle(pid, limit=180)
    span = time.monotonic() - t0
    cpu = tree_cpu_s(pid) - cpu0 - idle_rate * span
    return {
        "messages": sent,
        "message_rate_per_s": round(sent / post_s, 1),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_1k_messages": round(1e6 * cpu / sent, 1),
        "seconds_until_idle": round(span, 1),
    }


@contextlib.contextmanager
def members_in_guild_create() -> Iterator[None]:
    """Have the simulator put every member in GUILD_CREATE, so discord.py needs no chunking.

    Without the presences intent Discord sends only the bot's member there, and discord.py
    then asks for each guild's members with one REQUEST_GUILD_MEMBERS per guild, at most 110 a
    minute (its gateway rate limiter): chunking G guilds takes about G / 110 minutes at start.
    The cached members end up the same either way; this only keeps the wait out of the run.
    """
    real = payloads.guild_create

    def with_members(world: Any, g: Any, *, include_members: bool, bot_id: int) -> Any:
        return real(world, g, include_members=True, bot_id=bot_id)

    payloads.guild_create = with_members
    try:
        yield
    finally:
        payloads.guild_create = real


async def one_size(size: int, workdir: Path, target: str) -> dict[str, Any]:
    """A fresh simulator, database and gateway with `size` extra guilds; what was measured."""
    data = workdir / f"g{size}"
    data.mkdir()
    db = f"sqlite+aiosqlite:///{data / 'bench.db'}"
    await upgrade_database_async(db)
    engine = create_engine(db)
    sessions = make_sessionmaker(engine)
    sim = DiscordSimulator(SimulatorConfig(enforce_member_restrictions=False))
    await sim.start(port=0)
    gateway: subprocess.Popen[bytes] | None = None
    try:
        guilds = [add_guild(sim, f"guild{i:05d}", MEMBERS) for i in range(size)]
        port = int(sim.base_url.rsplit(":", 1)[1])
        t0 = time.monotonic()
        gateway = subprocess.Popen(
            [sys.executable, "-m", "dcs", "gateway"],
            env=_env(port, db, target, data),
            stdout=(data / "gateway.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = t0 + 300
        while await _servers(sessions) < size + 1:
            if gateway.poll() is not None:
                raise RuntimeError(f"the gateway exited; see {data / 'gateway.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not register every guild")
            await asyncio.sleep(0.5)
        await settle(gateway.pid, limit=180)
        ready_s = time.monotonic() - t0
        connected = await _median_rss(gateway.pid)
        idle_from, idle_cpu = time.monotonic(), tree_cpu_s(gateway.pid)
        await asyncio.sleep(5.0)
        idle_rate = (tree_cpu_s(gateway.pid) - idle_cpu) / (time.monotonic() - idle_from)
        sim.clear_requests()
        first = await cpu_of(
            gateway.pid, idle_rate, traffic(sim, guilds, RATE, range(ACTIVE_MEMBERS), 7)
        )
        again = await cpu_of(
            gateway.pid,
            idle_rate,
            traffic(sim, guilds, RATE, range(ACTIVE_MEMBERS, MESSAGES_PER_GUILD), 8),
        )
        active = await _median_rss(gateway.pid)
        calls = Counter(f"{r.method} {r.route}" for r in sim.requests())
        if gateway.poll() is not None:
            raise RuntimeError(f"the gateway exited; see {data / 'gateway.log'}")
        return {
            "guilds": size,
            "members_per_guild": MEMBERS,
            "ready_seconds": round(ready_s, 1),
            "rss_mb_connected": round(connected, 1),
            "rss_mb_active": round(active, 1),
            "gateway_idle_cpu_share": round(idle_rate, 4),
            "first_messages": first,
            "repeat_messages": again,
            "cpu_ms_per_1k_messages": again["cpu_ms_per_1k_messages"],
            "rest_calls_during_traffic": dict(calls.most_common(8)),
            "load_average": load_average(),
        }
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                gateway.wait(20)
            gateway.kill()
        await sim.stop()
        await engine.dispose()


async def measure(workdir: Path, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Every size against one Temporal dev server."""
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal")
    )
    out: dict[str, Any] = {"load_average_before": load_average()}
    try:
        target = temporal.client.service_client.config.target_host
        with members_in_guild_create():
            out["points"] = [await one_size(size, workdir, target) for size in sizes]
    finally:
        await temporal.shutdown()
    out["load_average_after"] = load_average()
    return out


def figures(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Slopes of RSS over the guild count, and the CPU per 1,000 messages."""
    points = out["points"]
    active = slope([(p["guilds"], p["rss_mb_active"]) for p in points])
    connected = slope([(p["guilds"], p["rss_mb_connected"]) for p in points])
    cpu = sorted(p["cpu_ms_per_1k_messages"] for p in points)
    first = {str(p["guilds"]): p["first_messages"]["cpu_ms_per_1k_messages"] for p in points}
    common = {
        "members_per_guild": MEMBERS,
        "messages_per_guild": MESSAGES_PER_GUILD,
        "message_rate_per_s": RATE,
        "load_average_before": out["load_average_before"],
        "load_average_after": out["load_average_after"],
    }
    return {
        "gateway_rss_mb_per_active_guild": {
            "value": round(active, 3),
            "unit": "MB",
            "method": (
                "least-squares slope of the dcs gateway's VmRSS (process tree, median of three "
                "reads) over the guild count, after every guild had chat traffic"
            ),
            "rss_mb_per_connected_guild": round(connected, 3),
            "points": points,
            **common,
        },
        "gateway_cpu_ms_per_1k_messages": {
            "value": cpu[len(cpu) // 2],
            "unit": "ms",
            "method": (
                "the gateway's CPU time (utime + stime) from the first message of the second "
                "round (members talking again) until idle, less its idle CPU over the span, per "
                "1,000 ordinary chat messages; the median of the sizes"
            ),
            "per_size": {str(p["guilds"]): p["cpu_ms_per_1k_messages"] for p in points},
            "first_messages_per_size": first,
            **common,
        },
    }


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``."""
    with tempfile.TemporaryDirectory(prefix="dcs-bench-gmem-") as tmp:
        out = asyncio.run(measure(Path(tmp)))
    return figures(out)


if __name__ == "__main__":  # a quick look without run.py: BENCH_GATEWAY_SIZES=10,20
    import json

    kept = Path(tempfile.mkdtemp(prefix="dcs-bench-gmem-"))
    print(kept)
    print(json.dumps(asyncio.run(measure(kept)), indent=2))
