"""`DirectSelect`: the API's polled pages straight on asyncpg give the rows the session gives.

Each check runs on SQLite (where it is the session path) and PostgreSQL (where it is the direct
path unless someone observes the engine's statements)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import bindparam, delete, event, select, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.cases import LOG_FIELDS, case_log_rows, list_cases, record_case
from storage.direct_select import DirectSelect
from storage.levels import BOARD_FIELDS, leaderboard, leaderboard_rows, set_xp
from storage.models import ModerationCase, Server, UserLevel

GUILD = 1_176_652_349_318_365_191
T0 = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def encrypted():
    saved = (crypto._Keys.configured, crypto._Keys.cipher)
    crypto.configure([Fernet.generate_key().decode()])
    yield
    crypto._Keys.configured, crypto._Keys.cipher = saved


async def _seed(session_factory) -> None:
    async with session_factory() as session, session.begin():
        session.add(Server(id=GUILD, name="g"))
        await session.flush()
        for n in range(1, 8):
            await record_case(
                session,
                guild_id=GUILD,
                user_id=2**63 - n,
                moderator_id=None if n % 3 == 0 else 10 + n,
                action=("warn", "ban", "note")[n % 3],
                reason=f"reason ü {n}",
                source="test",
                source_key=f"k{n}",
                evidence=None if n == 4 else {"excerpt": f"said 💬 {n}", "score": n / 3},
                rule="spam" if n % 2 else None,
                points=n % 2,
                expires_at=T0 + timedelta(days=n) if n == 2 else None,
                created_at=T0 + timedelta(minutes=n),
            )
        for user, xp in {5: 300, 6: 300, 7: 10, 2**63 - 1: 9_999}.items():
            await set_xp(session, GUILD, user, xp, level_of=lambda points: points // 100)


def _session_path(monkeypatch) -> list[str]:
    """Record every statement that goes through `AsyncSession.execute`."""
    calls: list[str] = []
    original = AsyncSession.execute

    async def execute(self, statement, *args, **kwargs):
        calls.append(str(statement))
        return await original(self, statement, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "execute", execute)
    return calls


async def test_the_polled_pages_are_the_session_rows_and_skip_it_on_postgres(
    session_factory, encrypted, monkeypatch
):
    await _seed(session_factory)
    async with session_factory() as session:
        stored = (
            await session.scalars(
                select(ModerationCase)
                .where(ModerationCase.guild_id == GUILD)
                .order_by(ModerationCase.case_number.desc())
            )
        ).all()
        levels = (
            await session.scalars(
                select(UserLevel)
                .where(UserLevel.guild_id == GUILD)
                .order_by(UserLevel.xp.desc(), UserLevel.user_id)
            )
        ).all()
        raw = (await session.execute(text("SELECT evidence FROM moderation_cases"))).scalars()
        assert all("said" not in str(value) for value in raw)  # stored encrypted
    postgres = session_factory.kw["bind"].dialect.name == "postgresql"
    calls = _session_path(monkeypatch)
    async with session_factory() as session:
        log = await case_log_rows(session, GUILD, limit=5)
        records = await list_cases(session, GUILD, limit=50)
        board = await leaderboard_rows(session, GUILD, limit=3)
        members = await leaderboard(session, GUILD, limit=10)
    assert calls == [] if postgres else len(calls) == 4
    expected_log = [tuple(getattr(case, f) for f in LOG_FIELDS) for case in stored[:5]]
    assert [tuple(row) for row in log] == expected_log
    assert log[0][LOG_FIELDS.index("evidence")] == {"excerpt": "said 💬 7", "score": 7 / 3}
    created = log[0][LOG_FIELDS.index("created_at")]
    assert created == T0 + timedelta(minutes=7) and created.tzinfo == UTC
    assert [r.case_number for r in records] == [c.case_number for c in stored]
    assert [(r.evidence, r.expires_at, r.moderator_id) for r in records] == [
        (c.evidence, c.expires_at, c.moderator_id) for c in stored
    ]
    assert [tuple(row) for row in board] == [
        tuple(getattr(level, f) for f in BOARD_FIELDS) for level in levels[:3]
    ]
    assert [(m.user_id, m.xp, m.level) for m in members] == [
        (level.user_id, level.xp, level.level) for level in levels
    ]


async def test_filters_and_cursors_still_go_through_the_session(session_factory, monkeypatch):
    await _seed(session_factory)
    calls = _session_path(monkeypatch)
    async with session_factory() as session:
        page = await case_log_rows(session, GUILD, before_case=4, action="ban", limit=5)
        after = await leaderboard_rows(session, GUILD, limit=2, after=(300, 5))
    assert [row[0] for row in page] == [1]
    assert [row[0] for row in after] == [6, 7]
    assert len(calls) == 2


async def test_an_observed_engine_sees_the_statement(session_factory, monkeypatch):
    """With a cursor listener (tracing, statement counting) the page runs through SQLAlchemy."""
    await _seed(session_factory)
    engine = session_factory.kw["bind"].sync_engine
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        async with session_factory() as session:
            rows = await case_log_rows(session, GUILD, limit=2)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert [row[0] for row in rows] == [7, 6]
    assert any("FROM moderation_cases" in s for s in seen)


def test_only_plain_selects_are_accepted():
    with pytest.raises(TypeError, match="SELECT"):
        DirectSelect(delete(ModerationCase))  # type: ignore[arg-type]
    expanding = DirectSelect(
        select(ModerationCase.id).where(ModerationCase.id.in_(bindparam("ids", expanding=True)))
    )
    with pytest.raises(TypeError, match="expanding"):
        expanding._compile(asyncpg_dialect())


async def test_a_page_read_inside_a_transaction_sees_its_uncommitted_writes(session_factory):
    await _seed(session_factory)
    async with session_factory() as session, session.begin():
        await record_case(
            session, guild_id=GUILD, user_id=3, action="warn", reason="uncommitted",
            source="test", source_key="k-new", created_at=T0 + timedelta(hours=1),
        )  # fmt: skip
        rows = await case_log_rows(session, GUILD, limit=2)
        assert [row[LOG_FIELDS.index("reason")] for row in rows] == ["uncommitted", "reason ü 7"]
        await session.rollback()
    async with session_factory() as session:
        assert (await case_log_rows(session, GUILD, limit=1))[0][0] == 7


async def test_errors_come_as_sqlalchemys_and_the_pool_recovers(session_factory):
    await _seed(session_factory)
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("PostgreSQL: the direct path's errors")
    async with session_factory() as session:
        with pytest.raises(DBAPIError):  # asyncpg refuses a guild id past int64
            await case_log_rows(session, 2**64, limit=5)
    async with session_factory() as session:  # every pooled connection's backend is killed
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    for _ in range(3):
        async with session_factory() as session:
            assert len(await case_log_rows(session, GUILD, limit=5)) == 5
