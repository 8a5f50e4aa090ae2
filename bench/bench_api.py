"""Management API under load: requests/s and p99 of the leaderboard and the moderation log.

`dcs api` runs as its own process, as production runs it, with BENCH_API_WORKERS worker processes
(API_WORKERS; default: one per CPU) against a fresh PostgreSQL database holding 100,000 members'
levels and 50,000 moderation cases. A load generator (this file run with ``--load``: a lean
HTTP/1.1 keep-alive client on asyncio protocols and uvloop, closed loop, fixed concurrency, fixed
duration, every latency recorded) runs as separate process(es), like ``wrk -c N -d T`` (no wrk
binary on this machine). With one worker the server is pinned to the first CPU and the generator
to the last (BENCH_API_PIN=split); with several nothing is pinned (BENCH_API_PIN=none): server
workers, generator and PostgreSQL share every CPU, and the figures say so. Each endpoint is
warmed up, then driven for DURATION seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SINGLE_CORE = False
"""The server and the load generator each get one CPU of their own."""

MEMBERS = 100_000
CASES = 50_000
CONCURRENCY = int(os.environ.get("BENCH_API_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "0")) or len(
    os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else [0]
)
PIN = os.environ.get("BENCH_API_PIN", "split" if WORKERS == 1 else "none")
LOAD_PROCESSES = int(os.environ.get("BENCH_API_LOAD_PROCESSES", "1"))
CLIENT = os.environ.get("BENCH_API_CLIENT", "raw")  # raw (lean protocol client) or aiohttp
DURATION = float(os.environ.get("BENCH_API_DURATION", "10"))
WARMUP = 2.0
TARGET_RPS = 1_000
TARGET_P99_MS = 50.0
GUILD = 1_176_652_349_318_365_191
SEED = 20_261_206
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
POSTGRES_DSN = os.environ.get(
    "DCS_BENCH_POSTGRES_DSN",
    os.environ.get("DCS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
)
ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ("warn", "timeout", "kick", "ban", "note")
SOURCES = ("automod", "manual", "api", "spam")


def endpoints() -> dict[str, str]:
    """Name -> path of each endpoint driven (the README's API table)."""
    base = f"/api/servers/{GUILD}"
    return {
        "leaderboard": f"{base}/leaderboard?limit=25",
        "moderation_logs": f"{base}/moderation/logs?limit=50",
    }


# --- database -----------------------------------------------------------------------------------


def _level_rows(rnd: random.Random) -> Iterator[tuple[Any, ...]]:
    for n in range(MEMBERS):
        messages = int(rnd.paretovariate(1.1)) * 3
        xp = messages * rnd.randint(15, 25)
        seconds = rnd.randint(0, 150 * 86_400)
        yield GUILD, 10**17 + n, xp // 1000, xp, messages, EPOCH + timedelta(seconds=seconds)


def _case_rows(rnd: random.Random) -> Iterator[tuple[Any, ...]]:
    for n in range(1, CASES + 1):
        action = rnd.choice(ACTIONS)
        evidence = {"message": f"message {n}", "rule": "links"} if n % 3 == 0 else None
        yield (
            GUILD,
            n,
            10**17 + rnd.randrange(MEMBERS),
            None if n % 4 == 0 else 42,
            action,
            f"reason for case {n}: posted something against rule {n % 7}",
            json.dumps(evidence) if evidence else None,
            f"rule-{n % 7}" if n % 2 else None,
            1 if action in ("warn", "timeout", "kick") else 0,
            rnd.choice(SOURCES),
            f"bench:{n}",
            f"moderation:{GUILD}:{n}",
            EPOCH + timedelta(seconds=n * 60),
        )


async def prepare_database() -> tuple[str, str, dict[str, Any]]:
    """A fresh database, migrated and loaded; (name, SQLAlchemy URL, timings and the token)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"dcs_bench_api_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = make_url(POSTGRES_DSN).set(database=name)
    url = base.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    try:
        return name, url, await _load_database(url, base.render_as_string(hide_password=False))
    except BaseException:
        await drop_database(name)
        raise


async def _load_database(url: str, dsn: str) -> dict[str, Any]:
    """Migrate, register the guild and a viewer token, COPY the rows in, VACUUM ANALYZE."""
    import asyncpg

    from api.auth import hash_token, new_token_secret
    from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
    from storage.servers import ensure_server_exists
    from storage.tokens import create_token

    timings: dict[str, Any] = {}
    started = time.perf_counter()
    await upgrade_database_async(url)
    secret = new_token_secret()
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await ensure_server_exists(session, GUILD)
            await create_token(
                session,
                name="bench",
                role="viewer",
                token_hash=hash_token(secret),
                guild_id=GUILD,
                expires_at=None,
            )
    finally:
        await engine.dispose()
    rnd = random.Random(SEED)
    con = await asyncpg.connect(dsn)
    try:
        await con.copy_records_to_table(
            "user_levels",
            records=_level_rows(rnd),
            columns=("guild_id", "user_id", "level", "xp", "total_messages", "last_active"),
        )
        await con.copy_records_to_table(
            "moderation_cases",
            records=_case_rows(rnd),
            columns=(
                "guild_id",
                "case_number",
                "user_id",
                "moderator_id",
                "action",
                "reason",
                "evidence",
                "rule",
                "points",
                "source",
                "source_key",
                "workflow_id",
                "created_at",
            ),
        )
        await con.execute(
            "UPDATE servers SET next_case_number = $1 WHERE id = $2", CASES + 1, GUILD
        )
        await con.execute("VACUUM ANALYZE")
        await con.execute("CHECKPOINT")  # the load's dirty pages written now, not mid-measurement
    finally:
        await con.close()
    timings["load_s"] = round(time.perf_counter() - started, 2)
    timings["token"] = secret
    return timings


async def drop_database(name: str) -> None:
    """Remove the benchmark's database."""
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- processes ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpus() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and the load generator (none unless BENCH_API_PIN=split)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if PIN != "split" or len(cpus) < 2:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[-1])]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`dcs api` as production runs it, on its own CPU."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=url,
        API_HOST="127.0.0.1",
        API_PORT=str(port),
        API_WORKERS=str(WORKERS),
        LOG_LEVEL=os.environ.get("BENCH_API_LOG_LEVEL", "INFO"),
        TEMPORAL_ADDRESS="127.0.0.1:9",
        TEMPORAL_START_DEV_SERVER="false",
        # the per-token limit (300/min) would answer 429 to a load test: it is lifted here
        API_RATE_LIMIT_PER_MINUTE="100000000",
        API_RATE_LIMIT_ADMIN_PER_MINUTE="100000000",
    )
    server_cpu, _ = _cpus()
    return subprocess.Popen(
        [*server_cpu, sys.executable, "-m", "dcs", "api"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(port: int, timeout: float = 60.0) -> None:
    """Until /health answers."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"the API did not start on port {port}")


def _tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of a process and all its descendants so far (Linux /proc)."""
    children: dict[int, list[int]] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        used[int(entry)] = int(fields[11]) + int(fields[12])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def _sample_server_cpu(pid: int, begin: float, seconds: float, out: list[float]) -> None:
    """The server's CPU cores in use over [begin, begin + seconds] (wall clock)."""
    time.sleep(max(0.0, begin - time.time()))
    before = _tree_cpu_s(pid)
    time.sleep(seconds)
    out.append((_tree_cpu_s(pid) - before) / seconds)


def drive(port: int, path: str, token: str, server_pid: int | None = None) -> dict[str, Any]:
    """Run the load generator process(es); their merged JSON summary.

    With several generator processes each keeps its share of the connections busy over the same
    wall-clock window (they are given the same start time), and their latencies are merged. The
    server's own CPU over that window (all its worker processes) is reported per request: on a
    shared machine it says how cheap a request is even when the rate says how busy the box was.
    """
    _, load_cpu = _cpus()
    processes = max(1, min(LOAD_PROCESSES, CONCURRENCY))
    start_at = time.time() + 1.0 + 0.3 * processes  # every process is up before it begins
    commands = []
    for n in range(processes):
        share = CONCURRENCY // processes + (1 if n < CONCURRENCY % processes else 0)
        commands.append(
            [
                *load_cpu,
                sys.executable,
                str(Path(__file__).resolve()),
                "--load",
                f"http://127.0.0.1:{port}{path}",
                "--token",
                token,
                "--concurrency",
                str(share),
                "--duration",
                str(DURATION),
                "--warmup",
                str(WARMUP),
                "--start-at",
                repr(start_at),
                "--client",
                CLIENT,
                "--raw",
            ]
        )
    cores: list[float] = []
    sampler = None
    if server_pid is not None and Path("/proc").is_dir():
        window = (start_at + WARMUP + 0.1, DURATION - 0.2)
        sampler = threading.Thread(target=_sample_server_cpu, args=(server_pid, *window, cores))
        sampler.start()
    running = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands
    ]
    parts = []
    for process in running:
        out, err = process.communicate(timeout=DURATION + WARMUP + 120)
        if process.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.decode(errors='replace')[-2000:]}")
        parts.append(json.loads(out))
    latencies = [ms for part in parts for ms in part["latencies_ms"]]
    statuses: dict[int, int] = {}
    for part in parts:
        for status, n in part["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + n
    elapsed = max(part["seconds"] for part in parts)
    errors = sum(part["client_errors"] for part in parts)
    summary = _summary(latencies, elapsed, statuses, errors, CONCURRENCY)
    summary["load_processes"] = processes
    summary["client_cpu_s"] = round(sum(part["cpu_s"] for part in parts), 2)
    if sampler is not None:
        sampler.join()
        if cores and summary["req_per_s"]:
            summary["server_cpu_cores"] = round(cores[0], 2)
            summary["server_cpu_ms_per_request"] = round(cores[0] * 1000 / summary["req_per_s"], 3)
    return summary


# --- load generator (runs in its own process) ---------------------------------------------------


def _request_bytes(url: str, token: str) -> tuple[str, int, bytes]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or "127.0.0.1"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{parts.port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    return host, int(parts.port or 80), request


class _Recorder:
    """Latencies and statuses of the measured window (shared by a process's connections)."""

    def __init__(self) -> None:
        self.record = False
        self.stop = False
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0


class _KeepAlive(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection with one request in flight at a time (closed loop).

    The next request goes out from the callback that completes the previous response: no task
    switch, no header dict, no parser object; a response is its status line, its Content-Length
    and that many body bytes (the API answers these endpoints with Content-Length).
    """

    def __init__(self, request: bytes, recorder: _Recorder, closed: asyncio.Future[None]) -> None:
        self.request = request
        self.recorder = recorder
        self.closed = closed
        self.buffer = bytearray()
        self.need = -1
        self.status = 0
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                self.status = int(head[9:12])
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    raise RuntimeError("a response without Content-Length")
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                self.need = end + 4 + length
            if len(buffer) < self.need:
                return
            del buffer[: self.need]
            self.need = -1
            done = time.perf_counter()
            recorder = self.recorder
            if recorder.record:
                recorder.latencies.append((done - self.sent) * 1000)
                recorder.statuses[self.status] = recorder.statuses.get(self.status, 0) + 1
            if recorder.stop:
                assert self.transport is not None
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.recorder.stop:
            self.recorder.errors += 1
        if not self.closed.done():
            self.closed.set_result(None)


async def _load_raw(url: str, token: str, concurrency: int, recorder: _Recorder) -> list[Any]:
    """Open the connections; each keeps one request in flight until recorder.stop."""
    host, port, request = _request_bytes(url, token)
    loop = asyncio.get_running_loop()
    closed: list[asyncio.Future[None]] = []
    for _ in range(concurrency):
        future: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(
            functools.partial(_KeepAlive, request, recorder, future), host, port
        )
        closed.append(future)
    return closed


async def _load_aiohttp(url: str, token: str, concurrency: int, recorder: _Recorder) -> list[Any]:
    """The previous generator (aiohttp, one task per connection), kept for comparison."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    http = aiohttp.ClientSession(connector=connector, headers=headers)

    async def worker() -> None:
        while not recorder.stop:
            started = time.perf_counter()
            try:
                async with http.get(url) as answer:
                    await answer.read()
                    status = answer.status
            except aiohttp.ClientError:
                recorder.errors += 1
                continue
            if recorder.record:
                recorder.latencies.append((time.perf_counter() - started) * 1000)
                recorder.statuses[status] = recorder.statuses.get(status, 0) + 1

    async def all_workers() -> None:
        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            await http.close()

    return [asyncio.ensure_future(all_workers())]


async def _load(
    url: str,
    token: str,
    concurrency: int,
    duration: float,
    warmup: float,
    *,
    start_at: float | None = None,
    client: str = "raw",
) -> dict[str, Any]:
    """Keep `concurrency` requests in flight; latencies in ms of the measured window."""
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
    recorder = _Recorder()
    opener = _load_raw if client == "raw" else _load_aiohttp
    pending = await opener(url, token, concurrency, recorder)
    await asyncio.sleep(warmup)
    recorder.record = True
    began = time.perf_counter()
    cpu_began = time.process_time()
    await asyncio.sleep(duration)
    recorder.record = False
    elapsed = time.perf_counter() - began
    cpu_s = time.process_time() - cpu_began
    recorder.stop = True
    await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
    return {
        "latencies_ms": recorder.latencies,
        "seconds": elapsed,
        "statuses": {str(k): v for k, v in recorder.statuses.items()},
        "client_errors": recorder.errors,
        "cpu_s": cpu_s,
    }


def _summary(
    ms: list[float], elapsed: float, statuses: dict[int, int], errors: int, concurrency: int
) -> dict[str, Any]:
    ordered = sorted(ms)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {
        "requests": len(ordered),
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_errors": errors,
        "concurrency": concurrency,
    }


# --- the benchmark ------------------------------------------------------------------------------


async def _run() -> dict[str, Any]:
    name, url, prepared = await prepare_database()
    token = str(prepared.pop("token"))
    port = _free_port()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dcs-bench-api-") as work:
        log = Path(work) / "api.log"
        server = start_server(url, port, log)
        try:
            try:
                await asyncio.to_thread(wait_ready, port)
            except RuntimeError as exc:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}; its log ends:\n{tail}") from None
            for endpoint, path in endpoints().items():
                result = await asyncio.to_thread(drive, port, path, token, server.pid)
                if set(result["statuses"]) != {"200"}:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{endpoint}: non-200 answers {result['statuses']}\n{tail}")
                results[endpoint] = {"path": path, **result}
            # the framework's ceiling on this machine: no token, no database
            reference = await asyncio.to_thread(drive, port, "/health", token, server.pid)
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
            await drop_database(name)
    return {"endpoints": results, "load": prepared, "reference_health": reference}


def run() -> dict[str, dict[str, Any]]:
    """Figures for bench/run.py: the slower endpoint's rate and the worse p99."""
    before = os.getloadavg()
    outcome = asyncio.run(_run())
    after = os.getloadavg()
    per = outcome["endpoints"]
    pinning = (
        "server pinned to the first CPU, generator to the last"
        if _cpus()[0]
        else "nothing pinned: server workers, generator and PostgreSQL share every CPU"
    )
    client = "lean asyncio-protocol HTTP/1.1 client" if CLIENT == "raw" else "aiohttp client"
    method = (
        f"`dcs api` with API_WORKERS={WORKERS} "
        f"(LOG_LEVEL={os.environ.get('BENCH_API_LOG_LEVEL', 'INFO')}), PostgreSQL with "
        f"{MEMBERS:,} members and {CASES:,} cases; load: {LOAD_PROCESSES} process(es) of the "
        f"{client}, {CONCURRENCY} keep-alive connections, {DURATION:g} s per endpoint after "
        f"{WARMUP:g} s warm-up; {pinning}; {os.cpu_count()} CPUs; "
        "value = the lower rate / the higher p99"
    )
    details = {
        "endpoints": per,
        "database_load": outcome["load"],
        "reference_health_no_db": outcome["reference_health"],
        "loadavg_before": [round(x, 2) for x in before],
        "loadavg_after": [round(x, 2) for x in after],
        "method": method,
        "api_workers": WORKERS,
        "pinning": PIN,
        "load_processes": LOAD_PROCESSES,
        "client": CLIENT,
    }
    return {
        "api_req_per_s": {
            "value": min(r["req_per_s"] for r in per.values()),
            "unit": "req/s",
            "min": TARGET_RPS,
            **details,
        },
        "api_p99_ms": {
            "value": max(r["p99_ms"] for r in per.values()),
            "unit": "ms",
            "target_max": TARGET_P99_MS,
            "per_endpoint_p99_ms": {k: r["p99_ms"] for k, r in per.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    """``--load URL``: the load generator; without it, run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--load")
    parser.add_argument("--token", default="")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--duration", type=float, default=DURATION)
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument("--start-at", type=float, default=None, help="time.time() to begin at")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default=CLIENT)
    parser.add_argument("--raw", action="store_true", help="print every latency, not a summary")
    args = parser.parse_args(argv)
    if args.load:
        run_loop: Any = asyncio.run
        with contextlib.suppress(ImportError):
            import uvloop

            run_loop = uvloop.run
        result = run_loop(
            _load(
                args.load,
                args.token,
                args.concurrency,
                args.duration,
                args.warmup,
                start_at=args.start_at,
                client=args.client,
            )
        )
        if not args.raw:
            statuses = {int(k): v for k, v in result["statuses"].items()}
            result = _summary(
                result["latencies_ms"],
                result["seconds"],
                statuses,
                result["client_errors"],
                args.concurrency,
            )
        print(json.dumps(result))
        return 0
    sys.path.insert(0, str(ROOT))
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
