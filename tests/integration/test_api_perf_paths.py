"""The API's hot path made cheaper without changing what it answers (issue #8's load target).

- Temporal is resolved lazily enough that the endpoint's role and scope checks answer first.
- A live token's lookup is cached in the process for a few seconds; expiry is checked on every
  request, a revocation made in this process is seen at once, one made elsewhere within the TTL.
- One session per request: the token lookup and the endpoint share it.
- No pre-ping: a connection PostgreSQL closed is still never handed to a request.
- `dcs api` with API_WORKERS=2 serves from two worker processes and stops them all on SIGTERM.
- The leaderboard and the moderation log: Core rows straight into dicts serialized by
  pydantic-core (the same bytes as the response models), the XP curve from a per-process cache,
  and on PostgreSQL an autocommit session that refuses writes.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import TypeAdapter
from sqlalchemy import JSON, bindparam, event, select, text, update

from api.app import create_app
from api.auth import READ_ONLY_SESSION, TokenCache, hash_token
from api.routers.leaderboard import LeaderboardItem, LeaderboardPage
from api.routers.moderation import CaseOut, CasePage
from domain.leveling import level_for_xp
from storage.cases import list_cases, record_case
from storage.levels import apply_xp_batch
from storage.models import AuditLogEntry, ModerationCase
from storage.servers import put_server_config
from storage.tokens import find_token, revoke_token

GUILD = 111111111111111111  # the token fixture's default server
OTHER = 222222222222222222
URL = f"/api/servers/{GUILD}/moderation/logs?limit=5"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def counted_statements(session_factory):
    """Every SQL statement the app's engine sends while the block runs."""
    engine = session_factory.kw["bind"].sync_engine
    seen: list[str] = []

    def _count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def token_queries(statements: list[str]) -> int:
    return sum("FROM api_tokens" in s for s in statements)


async def _token_id(session_factory, headers) -> int:
    secret = headers["Authorization"].removeprefix("Bearer ")
    async with session_factory() as session:
        row = await find_token(session, hash_token(secret), now=datetime.now(UTC))
        assert row is not None
        return row.id


# --- Temporal after the role check ------------------------------------------------------------


@pytest.fixture
async def no_temporal_api(session_factory, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens: refused at once
    app = create_app(session_factory)  # no client: connects from the settings on first use
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        yield c


WRITES = [
    ("moderation/action", {"action": "warn", "user_id": 5, "reason": "x"}),
    ("raid/lockdown", {"reason": "drill"}),
    ("raid/unlock", {"reason": "over"}),
    ("moderation/pending/00000000-0000-0000-0000-000000000000", {"decision": "approve"}),
]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[w[0].split("/")[1] for w in WRITES])
async def test_a_viewer_write_is_403_while_temporal_is_unreachable(
    no_temporal_api, token, path, body
):
    resp = await no_temporal_api.post(
        f"/api/servers/{GUILD}/{path}", headers=await token("viewer"), json=body
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden"
    assert "moderator role" in resp.json()["error"]["message"]


async def test_out_of_scope_is_403_and_a_moderator_still_gets_503(no_temporal_api, token):
    body = {"action": "warn", "user_id": 5, "reason": "x"}
    moderator = await token("moderator")
    other = await no_temporal_api.post(
        f"/api/servers/{OTHER}/moderation/action", headers=moderator, json=body
    )
    assert other.status_code == 403
    resp = await no_temporal_api.post(
        f"/api/servers/{GUILD}/moderation/action", headers=moderator, json=body
    )
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "unavailable"
    lockdown = await no_temporal_api.post(
        f"/api/servers/{GUILD}/raid/lockdown", headers=moderator, json={}
    )
    assert lockdown.status_code == 503


# --- token cache and one session per request --------------------------------------------------


async def test_a_live_token_is_read_once_per_ttl_in_the_requests_own_session(
    api, token, session_factory
):
    headers = await token("viewer")
    with counted_statements(session_factory) as first:
        assert (await api.get(URL, headers=headers)).status_code == 200
    assert token_queries(first) == 1
    with counted_statements(session_factory) as later:
        for _ in range(5):
            assert (await api.get(URL, headers=headers)).status_code == 200
    assert token_queries(later) == 0
    assert any("moderation_cases" in s for s in later)  # the endpoint still reads every time
    api._transport.app.state.token_cache = TokenCache(ttl=0)  # API_TOKEN_CACHE_SECONDS=0
    with counted_statements(session_factory) as uncached:
        for _ in range(3):
            assert (await api.get(URL, headers=headers)).status_code == 200
    assert token_queries(uncached) == 3


async def test_one_session_per_request(api, token, session_factory, monkeypatch):
    headers = await token("viewer")
    opened = 0
    factory = api._transport.app.state.sessions

    def counting():
        nonlocal opened
        opened += 1
        return factory()

    monkeypatch.setattr(api._transport.app.state, "sessions", counting)
    api._transport.app.state.token_cache = TokenCache(ttl=0)  # the token is read every time
    for _ in range(3):
        assert (await api.get(URL, headers=headers)).status_code == 200
    assert opened == 3


async def test_authenticate_called_directly_opens_its_own_session(api, token):
    # the calendar feed authenticates by hand (a bearer token or ?key=), not as a dependency
    feed = f"/api/servers/{GUILD}/events.ics"
    resp = await api.get(feed, headers=await token("viewer"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/calendar")
    assert (await api.get(feed, headers={"Authorization": "Bearer dcs_nope"})).status_code == 401


async def test_revoking_in_this_process_refuses_the_cached_token_at_once(
    api, token, session_factory
):
    api._transport.app.state.token_cache = TokenCache(ttl=60)
    headers = await token("viewer")
    assert (await api.get(URL, headers=headers)).status_code == 200
    assert len(api._transport.app.state.token_cache) == 1
    token_id = await _token_id(session_factory, headers)
    async with session_factory() as session, session.begin():
        assert await revoke_token(session, token_id, now=datetime.now(UTC))
    resp = await api.get(URL, headers=headers)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


async def test_a_revocation_elsewhere_is_seen_within_the_ttl(api, token, session_factory):
    api._transport.app.state.token_cache = TokenCache(ttl=0.5)
    headers = await token("viewer")
    assert (await api.get(URL, headers=headers)).status_code == 200
    token_id = await _token_id(session_factory, headers)
    async with session_factory() as session, session.begin():  # SQL, as another process would
        await session.execute(
            text("UPDATE api_tokens SET revoked_at = :now WHERE id = :id"),
            {"now": datetime.now(UTC), "id": token_id},
        )
    assert (await api.get(URL, headers=headers)).status_code == 200  # within the bound
    await asyncio.sleep(0.6)
    assert (await api.get(URL, headers=headers)).status_code == 401


async def test_a_cached_token_expires_on_time(api, token):
    api._transport.app.state.token_cache = TokenCache(ttl=60)
    headers = await token("viewer", expires_at=datetime.now(UTC) + timedelta(seconds=1))
    assert (await api.get(URL, headers=headers)).status_code == 200
    await asyncio.sleep(1.1)
    assert (await api.get(URL, headers=headers)).status_code == 401


async def test_unknown_tokens_are_not_cached_and_still_counted(api, token):
    cache = api._transport.app.state.token_cache = TokenCache(ttl=60)
    for _ in range(3):
        resp = await api.get(URL, headers={"Authorization": "Bearer dcs_nope"})
        assert resp.status_code == 401
    assert len(cache) == 0
    assert api._transport.app.state.auth_failures.count("token:dcs_nope") == 3


async def test_a_lookup_that_races_a_revocation_is_not_cached():
    cache = TokenCache(ttl=60)
    from api.auth import Caller, invalidate_token_caches

    caller = Caller(token_id=1, name="t", role="viewer", guild_id=None)
    generation = cache.generation  # a lookup reads the row...
    invalidate_token_caches()  # ...a revocation commits meanwhile...
    cache.put("h", caller, None, generation)  # ...and the stale row is not kept
    assert cache.get("h", datetime.now(UTC)) is None
    cache.put("h", caller, None, cache.generation)
    assert cache.get("h", datetime.now(UTC)) == caller


# --- no pre-ping, no dead connections ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_connections_postgres_closed_are_never_handed_out(api, token, session_factory):
    headers = await token("viewer")
    api._transport.app.state.token_cache = TokenCache(ttl=0)  # every request uses the pool
    for _ in range(3):
        assert (await api.get(URL, headers=headers)).status_code == 200
    engine = session_factory.kw["bind"]
    database = engine.url.database
    admin = await asyncpg.connect(engine.url.set(drivername="postgresql").render_as_string(False))
    try:  # what a PostgreSQL restart does to every pooled connection
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    assert killed >= 1
    await asyncio.sleep(0.2)  # the event loop reads the server's goodbye
    with counted_statements(session_factory) as statements:
        statuses = [(await api.get(URL, headers=headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert not any(s.strip() in ("SELECT 1", ";") for s in statements)  # and no ping was sent


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_only_an_idle_connection_is_pinged_and_a_failed_ping_is_replaced(
    api, token, session_factory, monkeypatch
):
    import storage.engine

    headers = await token("viewer")
    api._transport.app.state.token_cache = TokenCache(ttl=0)
    dialect = session_factory.kw["bind"].sync_engine.dialect
    pings: list[bool] = []
    real_ping = dialect.do_ping
    fail_next = False

    def ping(dbapi_connection):
        nonlocal fail_next
        pings.append(True)
        if fail_next:
            fail_next = False
            raise ConnectionResetError("gone while idle")
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    for _ in range(3):  # a busy pool: never pinged
        assert (await api.get(URL, headers=headers)).status_code == 200
    assert pings == []
    monkeypatch.setattr(storage.engine, "IDLE_PING_SECONDS", 0.0)  # now every one counts as idle
    assert (await api.get(URL, headers=headers)).status_code == 200
    assert len(pings) >= 1
    fail_next = True  # the idle connection turns out dead: the pool takes another, no error
    assert (await api.get(URL, headers=headers)).status_code == 200
    assert not fail_next and len(pings) >= 3


# --- several worker processes -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


def _get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return int(answer.status)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_dcs_api_serves_from_several_workers_and_stops_them(migrated_db, token):
    headers = await token("viewer")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=migrated_db,
        API_PORT=str(port),
        API_WORKERS="2",
        TEMPORAL_ADDRESS="127.0.0.1:1",
        TEMPORAL_START_DEV_SERVER="false",
        LOG_LEVEL="WARNING",
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "dcs", "api"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health", {}) == 200:
                    break
            except OSError:
                pass
            assert api.poll() is None, api.stderr.read().decode() if api.stderr else ""
            assert time.monotonic() < deadline, "the API did not start"
            await asyncio.sleep(0.2)
        workers = [  # multiprocessing's spawned children, not its resource tracker
            pid
            for pid in _children(api.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2, workers
        for _ in range(10):
            status = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{URL}", headers)
            assert status == 200
        api.send_signal(signal.SIGTERM)
        await asyncio.to_thread(api.wait, 30)
        await asyncio.sleep(0.5)
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()


# --- the two polled read paths: Core rows, direct JSON, cached XP settings, autocommit ---------

LEADERBOARD = f"/api/servers/{GUILD}/leaderboard"
LOGS = f"/api/servers/{GUILD}/moderation/logs"
T0 = datetime(2026, 11, 20, 18, 30, 0, 123456, tzinfo=UTC)


class _Delta:
    def __init__(self, user_id, xp):
        self.guild_id, self.user_id, self.xp = GUILD, user_id, xp
        self.messages, self.voice_minutes, self.last_active = user_id % 7, 0, T0


async def _seed_levels(session_factory, count=30):
    async with session_factory() as session, session.begin():
        deltas = [_Delta(400_000_000_000_000_000 + i, (i % 5) * 700 + i) for i in range(count)]
        await apply_xp_batch(session, deltas, level_of=lambda xp: xp // 100)


async def _seed_cases(session_factory, count=12):
    async with session_factory() as session, session.begin():
        for n in range(count):
            await record_case(
                session,
                guild_id=GUILD,
                user_id=500 + n % 3,
                moderator_id=None if n % 2 else 2**63 - 1 - n,
                action=("warn", "timeout", "note")[n % 3],
                reason=f'r\u00e9ason {n} "quoted" </script>',
                source=("automod", "api")[n % 2],
                source_key=f"perf:{n}",
                evidence=None if n % 3 else {"excerpt": "h\u00e9llo", "score": 0.1 * n, "n": [n]},
                rule=None if n % 4 else "spam",
                points=n % 2,
                workflow_id=None if n % 5 else f"wf-{n}",
                created_at=T0 + timedelta(minutes=n),
            )


def _case_model(case) -> CaseOut:
    """The response model of a stored case, field by field (snowflakes as strings)."""
    return CaseOut(
        case_number=case.case_number,
        user_id=str(case.user_id),
        moderator_id=str(case.moderator_id) if case.moderator_id is not None else None,
        action=case.action,
        reason=case.reason,
        rule=case.rule,
        source=case.source,
        points=case.points,
        evidence=case.evidence,
        workflow_id=case.workflow_id,
        created_at=case.created_at,
    )


async def test_the_logs_body_is_the_models_serialization_byte_for_byte(api, token, session_factory):
    await _seed_cases(session_factory)
    headers = await token("viewer")
    for limit, before, action in (
        (5, None, None),
        (50, None, None),
        (5, 6, None),
        (50, None, "warn"),
    ):
        params = {"limit": limit} | ({"before": before} if before else {})
        resp = await api.get(
            LOGS, headers=headers, params=params | ({"action": action} if action else {})
        )
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        async with session_factory() as session:
            cases = await list_cases(
                session, GUILD, action=action, before_case=before, limit=limit + 1
            )
        page = cases[:limit]
        expected = CasePage(
            items=[_case_model(c) for c in page],
            next_cursor=page[-1].case_number if len(cases) > limit else None,
        )
        assert resp.content == TypeAdapter(CasePage).dump_json(expected), params
    assert resp.json()["items"][0]["evidence"] == {
        "excerpt": "h\u00e9llo",
        "score": 0.1 * 9,
        "n": [9],
    }


async def test_the_leaderboard_body_is_the_models_serialization_byte_for_byte(
    api, token, session_factory
):
    await _seed_levels(session_factory)
    headers = await token("viewer")
    cursor, rank, pages = None, 0, 0
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        resp = await api.get(LEADERBOARD, headers=headers, params=params)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        body = resp.json()
        expected = LeaderboardPage(
            items=[
                LeaderboardItem(
                    rank=rank + i,
                    user_id=item["user_id"],
                    xp=item["xp"],
                    level=level_for_xp("mee6", item["xp"]),
                    messages=int(item["user_id"]) % 7,
                )
                for i, item in enumerate(body["items"], start=1)
            ],
            next_cursor=body["next_cursor"],
        )
        assert resp.content == TypeAdapter(LeaderboardPage).dump_json(expected)
        rank, cursor, pages = rank + len(body["items"]), body["next_cursor"], pages + 1
        if cursor is None:
            break
    assert (rank, pages) == (30, 5)


async def test_the_leaderboard_curve_is_cached_and_a_change_here_shows_at_once(
    api, token, session_factory
):
    await _seed_levels(session_factory, count=3)
    headers = await token("viewer")

    async def levels():
        resp = await api.get(LEADERBOARD, headers=headers)
        assert resp.status_code == 200
        return [(i["xp"], i["level"]) for i in resp.json()["items"]]

    assert [level for xp, level in await levels()] == [
        level_for_xp("mee6", xp) for xp, _ in await levels()
    ]
    with counted_statements(session_factory) as statements:
        await levels()
    assert not any("FROM servers" in s for s in statements), "the curve came from the cache"
    # a change made in this process (the API's PUT /config, or put_server_config): at once
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, GUILD, {"xp": {"curve": "flat"}}, expected_version=None, changed_by="t"
        )
    assert [level for xp, level in await levels()] == [
        level_for_xp("flat", xp) for xp, _ in await levels()
    ]
    # one made by another process (here: raw SQL, which this process cannot see) within the TTL
    cache = api._transport.app.state.xp_settings_cache
    async with session_factory() as session, session.begin():
        await session.execute(
            text(
                "UPDATE servers SET config = :c, config_version = config_version + 1 WHERE id = :g"
            ).bindparams(bindparam("c", type_=JSON)),
            {"c": {"xp": {"curve": "linear"}}, "g": GUILD},
        )
    assert [level for xp, level in await levels()] == [
        level_for_xp("flat", xp) for xp, _ in await levels()
    ]
    cache.ttl = 0.05
    cache.clear()
    await levels()  # read once more, now trusted for 50 ms
    await asyncio.sleep(0.1)
    linear = [level_for_xp("linear", xp) for xp, _ in await levels()]
    assert [level for xp, level in await levels()] == linear
    assert linear != [level_for_xp("flat", xp) for xp, _ in await levels()]


async def test_polled_reads_send_no_begin_on_postgres_and_read_afresh_each_time(
    api, token, session_factory, monkeypatch
):
    """With the token and XP settings cached, a poll is one SELECT outside any transaction
    (storage.direct_select), still reading the table every time; GET /config keeps a transaction.
    """
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the direct path is PostgreSQL's (SQLite goes through the session)")
    await _seed_cases(session_factory, count=2)
    headers = await token("viewer")
    assert (await api.get(LOGS, headers=headers)).status_code == 200  # the token is cached
    assert (await api.get(LEADERBOARD, headers=headers)).status_code == 200  # the XP settings
    begins: list[object] = []
    original = asyncpg.transaction.Transaction.start

    async def start(self):
        begins.append(self)
        return await original(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", start)
    first = (await api.get(LOGS, headers=headers)).json()["items"]
    async with session_factory() as session, session.begin():  # a case between two polls
        await record_case(
            session, guild_id=GUILD, user_id=9, action="warn", reason="new", source="api",
            source_key="perf:between", created_at=T0 + timedelta(hours=1),
        )  # fmt: skip
    second = (await api.get(LOGS, headers=headers)).json()["items"]
    assert (await api.get(LEADERBOARD, headers=headers)).status_code == 200
    polled_begins = len(begins) - 1  # the seeding's own transaction
    assert len(second) == len(first) + 1 and second[1:] == first
    assert polled_begins == 0
    assert (await api.get(f"/api/servers/{GUILD}/config", headers=headers)).status_code == 200
    assert len(begins) > polled_begins + 1, "GET /config is not read-only: a normal transaction"


async def test_a_read_only_session_refuses_writes(session_factory):
    async with session_factory() as session:
        session.info[READ_ONLY_SESSION] = True
        with pytest.raises(RuntimeError, match="SELECTs only"):
            await session.execute(text("UPDATE servers SET name = 'x'"))
        with pytest.raises(RuntimeError, match="SELECTs only"):
            await session.execute(
                update(ModerationCase).where(ModerationCase.id == -1).values(points=3)
            )
        session.add(AuditLogEntry(guild_id=GUILD, actor="t", action="x"))
        with pytest.raises(RuntimeError, match="cannot write"):
            await session.flush()
        await session.rollback()
        assert (await session.execute(select(ModerationCase.id).limit(1))).all() is not None
