"""Management API under load: requests/s and p99 of the leaderboard and the moderation log.

`dcs api` runs as its own process (one uvicorn worker, as in production) against a fresh
PostgreSQL database holding 100,000 members' levels and 50,000 moderation cases, pinned to one
CPU; a load generator (this file run with ``--load``: asyncio + aiohttp, keep-alive connections,
fixed concurrency, fixed duration, every latency recorded) runs as a separate process pinned to
the other CPU, like ``wrk -c N -d T`` (no wrk binary on this machine). PostgreSQL's own processes
are not pinned and share both CPUs. Each endpoint is warmed up, then driven for DURATION seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
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
    """taskset prefixes for the server and the load generator (empty on a one-CPU machine)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[-1])]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`dcs api` as production runs it, on its own CPU."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=url,
        API_HOST="127.0.0.1",
        API_PORT=str(port),
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


def drive(port: int, path: str, token: str) -> dict[str, Any]:
    """Run the load generator process on the other CPU; its JSON summary."""
    _, load_cpu = _cpus()
    command = [
        *load_cpu,
        sys.executable,
        str(Path(__file__).resolve()),
        "--load",
        f"http://127.0.0.1:{port}{path}",
        "--token",
        token,
        "--concurrency",
        str(CONCURRENCY),
        "--duration",
        str(DURATION),
        "--warmup",
        str(WARMUP),
    ]
    done = subprocess.run(command, capture_output=True, check=True, timeout=DURATION + 120)
    return dict(json.loads(done.stdout))


# --- load generator (runs in its own process) ---------------------------------------------------


async def _load(url: str, token: str, concurrency: int, duration: float, warmup: float) -> Any:
    """Keep `concurrency` requests in flight over keep-alive connections; latencies in ms."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        phase = {"record": False, "stop": False}

        async def worker() -> None:
            nonlocal errors
            while not phase["stop"]:
                started = time.perf_counter()
                try:
                    async with http.get(url) as answer:
                        await answer.read()
                        status = answer.status
                except aiohttp.ClientError:
                    errors += 1
                    continue
                if phase["record"]:
                    latencies.append((time.perf_counter() - started) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        phase["record"] = True
        began = time.perf_counter()
        await asyncio.sleep(duration)
        phase["record"] = False
        elapsed = time.perf_counter() - began
        phase["stop"] = True
        await asyncio.gather(*tasks)
    return _summary(latencies, elapsed, statuses, errors, concurrency)


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
            await asyncio.to_thread(wait_ready, port)
            for endpoint, path in endpoints().items():
                result = await asyncio.to_thread(drive, port, path, token)
                if set(result["statuses"]) != {"200"}:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{endpoint}: non-200 answers {result['statuses']}\n{tail}")
                results[endpoint] = {"path": path, **result}
            # the framework's ceiling on this machine: no token, no database
            reference = await asyncio.to_thread(drive, port, "/health", token)
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
    method = (
        f"`dcs api` (one uvicorn worker, LOG_LEVEL={os.environ.get('BENCH_API_LOG_LEVEL', 'INFO')})"
        f" pinned to one CPU, PostgreSQL with {MEMBERS:,} members and {CASES:,} cases; aiohttp "
        f"load generator on the other CPU, {CONCURRENCY} keep-alive connections, {DURATION:g} s "
        f"per endpoint after {WARMUP:g} s warm-up; value = the lower rate / the higher p99"
    )
    details = {
        "endpoints": per,
        "database_load": outcome["load"],
        "reference_health_no_db": outcome["reference_health"],
        "loadavg_before": [round(x, 2) for x in before],
        "loadavg_after": [round(x, 2) for x in after],
        "method": method,
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
    args = parser.parse_args(argv)
    if args.load:
        summary = asyncio.run(
            _load(args.load, args.token, args.concurrency, args.duration, args.warmup)
        )
        print(json.dumps(summary))
        return 0
    sys.path.insert(0, str(ROOT))
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
