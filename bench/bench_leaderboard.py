"""Leaderboard of a 1,000,000-member guild: first page, deep keyset page, member rank, flushes.

Both backends get the real schema (Alembic), then a bulk load: SQLite through one executemany
transaction, PostgreSQL through COPY (asyncpg ``copy_records_to_table``) into a database this
benchmark creates and drops. The leaderboard index is dropped for the load and rebuilt from its
own DDL afterwards, as a restore would do. Queries go through ``storage.levels`` on the suite's
own engines, one session per query like an API request.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.leveling import level_for_xp
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.levels import apply_xp_batch, leaderboard, member_rank
from storage.servers import ensure_server_exists

SINGLE_CORE = False
"""SQLite runs in aiosqlite's thread and PostgreSQL in server processes; one pinned core would
make the event loop and the database fight over it, which no deployment does."""

MEMBERS = 1_000_000
OTHER_MEMBERS = 100_000
"""A second guild in the same table, so every query must stay inside its guild."""
QUERIES = 400
"""Timed queries of each kind (p99 of 400 is the 4th slowest)."""
WARMUP = 30
PAGE = 25
FLUSH_SIZE = 3_000
FLUSHES = 5
TARGET_MS = 50.0
GUILD, OTHER = 1_176_652_349_318_365_191, 1_176_652_349_318_365_999
SEED = 20_261_125
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
INDEX = "ix_user_levels_leaderboard"
LOAD_COLUMNS = ("guild_id", "user_id", "level", "xp", "total_messages", "last_active")
POSTGRES_DSN = os.environ.get(
    "DCS_BENCH_POSTGRES_DSN",
    os.environ.get("DCS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
)

Member = tuple[int, int, int, int, int, int]
"""guild_id, user_id, level, xp, total_messages, last_active (seconds after EPOCH)."""
Query = Callable[[AsyncSession], Awaitable[Any]]


@dataclass(frozen=True)
class Population:
    """The members to load, and the main guild's leaderboard order to check answers against."""

    members: list[Member]
    order: list[tuple[int, int]]
    """(xp, user_id) of the main guild in leaderboard order."""


def population() -> Population:
    """A long-tailed guild: most members said a few things, a few said a great deal.

    Messages follow a Pareto law (alpha 1.1), XP is 15-25 a message, and 2% of members were reset
    to 0, so low XP values are shared by many members and ties need the user id.
    """
    rnd = random.Random(SEED)
    members: list[Member] = []
    for guild, count in ((GUILD, MEMBERS), (OTHER, OTHER_MEMBERS)):
        for user_id in rnd.sample(range(10**17, 10**17 + 2**40), count):
            messages = min(int(rnd.paretovariate(1.1)), 500_000)
            xp = 0 if rnd.random() < 0.02 else messages * 15 + int(rnd.random() * messages * 10)
            level = level_for_xp("mee6", xp)
            members.append((guild, user_id, level, xp, messages, rnd.randrange(30 * 86_400)))
    members.sort()  # primary-key order: a restore loads a dump in that order, and fast
    order = sorted(((m[3], m[1]) for m in members if m[0] == GUILD), key=lambda k: (-k[0], k[1]))
    return Population(members, order)


def _sqlite_rows(members: Sequence[Member]) -> Iterator[tuple[Any, ...]]:
    """Rows as SQLAlchemy's SQLite DATETIME stores them (naive UTC text)."""
    for guild, user, level, xp, messages, seconds in members:
        at = (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")
        yield guild, user, level, xp, messages, at


def _postgres_rows(members: Sequence[Member]) -> Iterator[tuple[Any, ...]]:
    """Rows for COPY (timestamptz wants aware datetimes)."""
    for guild, user, level, xp, messages, seconds in members:
        yield guild, user, level, xp, messages, EPOCH + timedelta(seconds=seconds)


async def _servers(url: str) -> None:
    """The guild rows the members reference."""
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for guild in (GUILD, OTHER):
                await ensure_server_exists(session, guild)
    finally:
        await engine.dispose()


async def load_sqlite(path: Path, pop: Population) -> tuple[str, dict[str, float]]:
    """Migrate a fresh SQLite file and bulk-load the members in one transaction."""
    url = f"sqlite+aiosqlite:///{path}"
    timings: dict[str, float] = {}
    await upgrade_database_async(url)
    await _servers(url)
    started = time.perf_counter()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()[0]
        con.execute("BEGIN IMMEDIATE")
        con.execute(f"DROP INDEX {INDEX}")
        marks = ", ".join("?" for _ in LOAD_COLUMNS)
        con.executemany(
            f"INSERT INTO user_levels ({', '.join(LOAD_COLUMNS)}) VALUES ({marks})",
            _sqlite_rows(pop.members),
        )
        timings["insert_s"] = time.perf_counter() - started
        con.execute(ddl)
        con.execute("COMMIT")
    finally:
        con.close()
    timings["load_s"] = time.perf_counter() - started
    return url, timings


async def create_postgres() -> str:
    """A fresh database for the benchmark; its name."""
    name = f"dcs_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def load_postgres(name: str, pop: Population) -> tuple[str, dict[str, float]]:
    """Migrate the database, COPY the members in, rebuild the index, VACUUM ANALYZE.

    VACUUM sets the visibility map (index-only scans then skip the heap) and ANALYZE the
    statistics; autovacuum does both on its own after a load this size.
    """
    base = make_url(POSTGRES_DSN).set(database=name)
    url = base.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    await upgrade_database_async(url)
    await _servers(url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    con = await asyncpg.connect(base.render_as_string(hide_password=False))
    try:
        ddl = await con.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", INDEX)
        await con.execute(f"DROP INDEX {INDEX}")
        await con.copy_records_to_table(
            "user_levels", records=_postgres_rows(pop.members), columns=LOAD_COLUMNS
        )
        timings["copy_s"] = time.perf_counter() - started
        await con.execute(ddl)
        await con.execute("VACUUM ANALYZE user_levels")
    finally:
        await con.close()
    timings["load_s"] = time.perf_counter() - started
    return url, timings


async def drop_postgres(name: str) -> None:
    """Remove the benchmark's database."""
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


PAGE_KINDS = ("first_page", "deep_keyset_page")


def queries(pop: Population, rnd: random.Random) -> dict[str, list[tuple[Query, Any]]]:
    """Each kind's queries, each with the answer it must give (checked after timing)."""
    total = len(pop.order)
    first_page = partial(leaderboard, guild_id=GUILD, limit=PAGE)
    first: list[tuple[Query, Any]] = [
        (first_page, pop.order[:PAGE]) for _ in range(QUERIES + WARMUP)
    ]
    deep: list[tuple[Query, Any]] = []
    for position in (rnd.randrange(total // 2, total - PAGE) for _ in range(QUERIES + WARMUP)):
        page = partial(leaderboard, guild_id=GUILD, limit=PAGE, after=pop.order[position])
        deep.append((page, pop.order[position + 1 : position + 1 + PAGE]))
    ranks: list[tuple[Query, Any]] = []
    for position in (rnd.randrange(total) for _ in range(QUERIES + WARMUP)):
        rank = partial(member_rank, guild_id=GUILD, user_id=pop.order[position][1])
        ranks.append((rank, position + 1))
    return {"first_page": first, "deep_keyset_page": deep, "member_rank": ranks}


def _answer(result: Any) -> Any:
    """What a query returned, in the shape of the expected answers."""
    if isinstance(result, list):
        return [(row.xp, row.user_id) for row in result]
    return result


async def time_queries(
    sessions: async_sessionmaker[AsyncSession], kinds: dict[str, list[tuple[Query, Any]]]
) -> dict[str, dict[str, Any]]:
    """Run the kinds round-robin (so all see the same machine), one session per query."""
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    wrong: dict[str, int] = dict.fromkeys(kinds, 0)
    for index in range(QUERIES + WARMUP):
        for kind, items in kinds.items():
            query, expected = items[index]
            started = time.perf_counter()
            async with sessions() as session:
                result = await query(session)
            elapsed = (time.perf_counter() - started) * 1000
            if index >= WARMUP:
                samples[kind].append(elapsed)
            wrong[kind] += _answer(result) != expected
    out = {kind: _summary(samples[kind]) | {"wrong_answers": wrong[kind]} for kind in kinds}
    if "member_rank" in kinds:
        out["member_rank"]["by_rank"] = _by_rank(
            kinds["member_rank"][WARMUP:], samples["member_rank"]
        )
    return out


def _by_rank(items: list[tuple[Query, Any]], ms: list[float]) -> dict[str, Any]:
    """member_rank latency by how far down the member is: the count grows with the rank."""
    bands = {"top_10k": (1, 10_000), "10k_100k": (10_001, 100_000)}
    bands |= {"100k_500k": (100_001, 500_000), "500k_1m": (500_001, MEMBERS)}
    out: dict[str, Any] = {}
    for name, (low, high) in bands.items():
        band = [t for (_, rank), t in zip(items, ms, strict=True) if low <= rank <= high]
        if len(band) >= 2:
            out[name] = {"queries": len(band), "p50_ms": round(statistics.median(band), 3)}
            out[name]["max_ms"] = round(max(band), 3)
    return out


def _summary(ms: list[float]) -> dict[str, Any]:
    """Latency figures of one query kind, in milliseconds."""
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "queries": len(ms),
        "p50_ms": round(cuts[49], 3),
        "p90_ms": round(cuts[89], 3),
        "p99_ms": round(cuts[98], 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


async def plans(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[str]]:
    """The planner's choice for each kind of statement, as the backend explains it."""
    calls: dict[str, Query] = {
        "first_page": lambda s: leaderboard(s, GUILD, limit=PAGE),
        "deep_keyset_page": lambda s: leaderboard(s, GUILD, limit=PAGE, after=(100, 10**17)),
        "member_rank": lambda s: _rank_of_some_member(s),
    }
    out: dict[str, list[str]] = {}
    async with sessions() as session:
        for kind, call in calls.items():
            statements = await _captured(session, call)
            sql, params = statements[-1]
            conn = await session.connection()
            sqlite = conn.dialect.name == "sqlite"
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = await conn.exec_driver_sql(explain + sql, params)
            out[kind] = [str(row[-1] if sqlite else row[0]) for row in rows]
            if not any(INDEX in line for line in out[kind]):
                raise RuntimeError(f"{kind} does not use {INDEX}: {out[kind]}")
    return out


async def _rank_of_some_member(session: AsyncSession) -> Any:
    """member_rank of a member near the bottom (the costliest kind of rank)."""
    board = await leaderboard(session, GUILD, limit=1, after=(1, 0))
    return await member_rank(session, GUILD, board[0].user_id)


async def _captured(session: AsyncSession, call: Query) -> list[tuple[str, Any]]:
    """The statements `call` sends to the database."""
    sent: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        sent.append((args[2], args[3]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await call(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


@dataclass(frozen=True)
class _Delta:
    guild_id: int
    user_id: int
    xp: int
    messages: int
    voice_minutes: int
    last_active: datetime | None


def _level_of(xp: int) -> int:
    return level_for_xp("mee6", xp)


async def time_flushes(
    sessions: async_sessionmaker[AsyncSession], pop: Population, rnd: random.Random
) -> dict[str, Any]:
    """A write-behind flush of FLUSH_SIZE members (10% new) into the loaded table.

    Compared with the same deltas written one member per call, as a naive flush would.
    """
    now = datetime.now(UTC)

    def batch() -> list[_Delta]:
        known = rnd.sample(pop.order, FLUSH_SIZE - FLUSH_SIZE // 10)
        users = [u for _, u in known] + [
            rnd.randrange(2**50, 2**60) for _ in range(FLUSH_SIZE // 10)
        ]
        return [_Delta(GUILD, u, rnd.randint(15, 25), 1, 0, now) for u in users]

    batched = []
    for _ in range(FLUSHES):
        deltas = batch()
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            await apply_xp_batch(session, deltas, level_of=_level_of)
        batched.append((time.perf_counter() - started) * 1000)
    deltas = batch()
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        for delta in deltas:
            await apply_xp_batch(session, [delta], level_of=_level_of)
    one_by_one = (time.perf_counter() - started) * 1000
    return {
        "members": FLUSH_SIZE,
        "batched_ms": [round(ms, 1) for ms in batched],
        "batched_median_ms": round(statistics.median(batched), 1),
        "one_call_per_member_ms": round(one_by_one, 1),
    }


async def measure(url: str, pop: Population) -> dict[str, Any]:
    """Latencies, plans and flush times on one loaded database."""
    engine = create_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        rnd = random.Random(SEED + 1)
        kinds = await time_queries(sessions, queries(pop, rnd))
        wrong = {kind: k["wrong_answers"] for kind, k in kinds.items() if k["wrong_answers"]}
        if wrong:
            raise RuntimeError(f"wrong answers: {wrong}")
        return {
            "p99_ms": max(kinds[k]["p99_ms"] for k in PAGE_KINDS),
            "rank_p99_ms": kinds["member_rank"]["p99_ms"],
            "kinds": kinds,
            "plans": await plans(sessions),
            "flush": await time_flushes(sessions, pop, rnd),
        }
    finally:
        await engine.dispose()


METHOD = (
    f"{MEMBERS:,} members in one guild (plus {OTHER_MEMBERS:,} in another), Pareto(1.1) message "
    "counts, 15-25 XP a message, 2% at 0 XP. Each timed query opens a session, runs one "
    f"storage.levels call and closes it; {QUERIES} timed queries per kind after {WARMUP} warm-up "
    "ones, kinds interleaved. Kinds: first page (25), a keyset page after a cursor drawn "
    "uniformly from the bottom half, member_rank of a member drawn uniformly from all. Every "
    "answer is checked against the order computed in Python. The leaderboard figure is the "
    "worst p99 of the two page kinds; member_rank has its own figure (member_rank_1m_p99_ms_*). "
    "member_rank counts the members ahead of the member in the index, so its cost grows with "
    "the rank: member_rank.by_rank shows it by band."
)


async def _run() -> dict[str, dict[str, Any]]:
    pop = population()
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dcs-bench-") as tmp:
        url, load = await load_sqlite(Path(tmp) / "leaderboard.db", pop)
        result = await measure(url, pop)
    figures["leaderboard_1m_p99_ms_sqlite"] = _figure(result, load)
    figures["member_rank_1m_p99_ms_sqlite"] = _rank_figure(result)
    try:
        name = await create_postgres()
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL at {POSTGRES_DSN} unavailable, skipped: {exc!r}")
        return figures
    try:
        url, load = await load_postgres(name, pop)
        result = await measure(url, pop)
    finally:
        await drop_postgres(name)
    figures["leaderboard_1m_p99_ms_postgres"] = _figure(result, load)
    figures["member_rank_1m_p99_ms_postgres"] = _rank_figure(result)
    return figures


def _rank_figure(result: dict[str, Any]) -> dict[str, Any]:
    """Rank of one member (the profile's `rank`): reported apart, as it misses the target."""
    return {"value": round(result["rank_p99_ms"], 2), "unit": "ms", "max": TARGET_MS}


def _figure(result: dict[str, Any], load: dict[str, float]) -> dict[str, Any]:
    return {
        "value": round(result["p99_ms"], 2),
        "unit": "ms",
        "max": TARGET_MS,
        "method": METHOD,
        "load": {k: round(v, 2) for k, v in load.items()},
        **result,
    }


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``; extra keys go to the details file."""
    return asyncio.run(_run())
