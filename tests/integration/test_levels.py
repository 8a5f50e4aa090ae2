"""XP, levels, leaderboard, ranks, counters, CSV and achievements on both backends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from storage.achievements import earned_keys, grant_achievement, list_achievements
from storage.levels import (
    adjust_xp,
    apply_xp_batch,
    bump_counter,
    export_leaderboard_csv,
    get_member_level,
    import_levels_csv,
    leaderboard,
    leaderboard_offset,
    member_rank,
    reset_member,
    set_xp,
    update_streak,
)
from storage.models import Server

GUILD, OTHER = 111_111_111_111_111_111, 222_222_222_222_222_222
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def level_of(xp: int) -> int:
    """A simple curve for the tests: a level every 100 XP."""
    return xp // 100


@dataclass(frozen=True)
class Delta:
    guild_id: int
    user_id: int
    xp: int
    messages: int = 1
    voice_minutes: int = 0
    last_active: datetime | None = T0
    reset: bool = False


async def _apply(factory, *deltas):
    async with factory() as session, session.begin():
        return await apply_xp_batch(session, deltas, level_of=level_of)


async def _member(factory, user_id, guild=GUILD):
    async with factory() as session:
        return await get_member_level(session, guild, user_id)


async def _seed(factory, xp_by_user, guild=GUILD):
    async with factory() as session, session.begin():
        for user_id, xp in xp_by_user.items():
            await set_xp(session, guild, user_id, xp, level_of=level_of)


async def test_batch_creates_members_and_their_server(session_factory):
    """The first flush creates the guild row and the members, with levels from level_of."""
    totals = await _apply(
        session_factory,
        Delta(GUILD, 1, 150, messages=3, voice_minutes=2),
        Delta(GUILD, 2, 20),
        Delta(OTHER, 1, 5),
    )
    assert totals == {(GUILD, 1): 150, (GUILD, 2): 20, (OTHER, 1): 5}
    async with session_factory() as session:
        servers = set(await session.scalars(select(Server.id)))
    assert servers == {GUILD, OTHER}
    alice = await _member(session_factory, 1)
    assert alice is not None
    assert (alice.xp, alice.level, alice.total_messages, alice.voice_minutes) == (150, 1, 3, 2)
    assert alice.last_active == T0 and alice.streak_days == 0 and alice.invites == 0


async def test_batches_increment_and_never_overwrite(session_factory):
    """Two batches for one member add up; an admin's change in between is kept."""
    await _apply(session_factory, Delta(GUILD, 1, 60))
    await _apply(session_factory, Delta(GUILD, 1, 50, last_active=T0 - timedelta(hours=1)))
    async with session_factory() as session, session.begin():
        await adjust_xp(session, GUILD, 1, 1000, level_of=level_of)
    totals = await _apply(session_factory, Delta(GUILD, 1, 5, voice_minutes=4))
    assert totals == {(GUILD, 1): 1115}
    row = await _member(session_factory, 1)
    assert row is not None
    assert (row.xp, row.level, row.total_messages, row.voice_minutes) == (1115, 11, 3, 4)
    assert row.last_active == T0, "last_active only moves forward"


async def test_concurrent_flushes_add_up(session_factory):
    """Flushes racing from several sessions lose no increment."""
    members = range(1, 51)
    batches = [[Delta(GUILD, u, 10) for u in members] for _ in range(8)]
    await asyncio.gather(*(_apply(session_factory, *batch) for batch in batches))
    async with session_factory() as session:
        rows = await leaderboard(session, GUILD, limit=100)
    assert {(r.user_id, r.xp, r.total_messages) for r in rows} == {(u, 80, 8) for u in members}


async def test_duplicates_negative_deltas_and_resets_in_a_batch(session_factory):
    """A batch folds per member; XP is clamped at 0; a reset wipes the stored XP first."""
    await _seed(session_factory, {1: 500, 2: 30, 3: 700})
    totals = await _apply(
        session_factory,
        Delta(GUILD, 1, 10),
        Delta(GUILD, 1, 15, last_active=T0 + timedelta(minutes=1)),
        Delta(GUILD, 2, -100, messages=0, last_active=None),
        Delta(GUILD, 3, 40, reset=True),
        Delta(GUILD, 4, -5, messages=0, last_active=None),
    )
    assert totals == {(GUILD, 1): 525, (GUILD, 2): 0, (GUILD, 3): 40, (GUILD, 4): 0}
    for user_id, xp, level in [(1, 525, 5), (2, 0, 0), (3, 40, 0), (4, 0, 0)]:
        row = await _member(session_factory, user_id)
        assert row is not None and (row.xp, row.level) == (xp, level)
    one = await _member(session_factory, 1)
    assert one is not None and one.last_active == T0 + timedelta(minutes=1)
    with pytest.raises(ValueError, match="messages"):
        await _apply(session_factory, Delta(GUILD, 1, 1, messages=-1))


async def test_a_large_batch_in_one_flush(session_factory):
    """Thousands of members go in a few statements, and every total comes back."""
    deltas = [Delta(GUILD, u, u % 300) for u in range(1, 3001)]
    totals = await _apply(session_factory, *deltas)
    assert totals == {(GUILD, u): u % 300 for u in range(1, 3001)}
    totals = await _apply(session_factory, *deltas)
    assert totals[GUILD, 299] == 598
    assert (await _member(session_factory, 299)).level == 5


async def test_keyset_pages_break_ties_by_user_id(session_factory):
    """Walking the leaderboard with cursors yields xp desc, user id asc, each member once."""
    xp = {u: (u % 4) * 100 for u in range(1, 24)}  # many ties
    await _seed(session_factory, xp)
    await _seed(session_factory, {1: 999}, guild=OTHER)
    expected = sorted(xp, key=lambda u: (-xp[u], u))
    seen, after = [], None
    async with session_factory() as session:
        while True:
            page = await leaderboard(session, GUILD, limit=5, after=after)
            if not page:
                break
            seen += [r.user_id for r in page]
            after = (page[-1].xp, page[-1].user_id)
        assert seen == expected
        by_offset = await leaderboard_offset(session, GUILD, offset=5, limit=5)
        assert [r.user_id for r in by_offset] == expected[5:10]
        with pytest.raises(ValueError):
            await leaderboard(session, GUILD, limit=0)


async def test_rank_matches_the_leaderboard_position(session_factory):
    """Every member's rank is their 1-based position; strangers have none."""
    xp = {u: (u * 37) % 5 * 50 for u in range(1, 30)}
    await _seed(session_factory, xp)
    await _seed(session_factory, {99: 10_000}, guild=OTHER)
    async with session_factory() as session:
        board = await leaderboard(session, GUILD, limit=100)
        for position, row in enumerate(board, start=1):
            assert await member_rank(session, GUILD, row.user_id) == position
        assert await member_rank(session, GUILD, 12345) is None
        assert await member_rank(session, OTHER, 99) == 1


async def test_set_adjust_and_reset_never_go_below_zero(session_factory):
    async with session_factory() as session, session.begin():
        row = await set_xp(session, GUILD, 1, 250, level_of=level_of)
        assert (row.xp, row.level) == (250, 2)
        row = await adjust_xp(session, GUILD, 1, -1000, level_of=level_of)
        assert (row.xp, row.level) == (0, 0)
        row = await adjust_xp(session, GUILD, 2, -5, level_of=level_of)
        assert (row.xp, row.level) == (0, 0)
        row = await adjust_xp(session, GUILD, 2, 305, level_of=level_of)
        assert (row.xp, row.level) == (305, 3)
        with pytest.raises(ValueError):
            await set_xp(session, GUILD, 1, -1, level_of=level_of)
    await _apply(session_factory, Delta(GUILD, 2, 10, messages=4))
    async with session_factory() as session, session.begin():
        assert await reset_member(session, GUILD, 2) is True
        assert await reset_member(session, GUILD, 77) is False
    row = await _member(session_factory, 2)
    assert row is not None and (row.xp, row.level, row.total_messages) == (0, 0, 4)


async def test_counters_and_streaks(session_factory):
    async with session_factory() as session, session.begin():
        assert await bump_counter(session, GUILD, 1, "reactions_received") == 1
        assert await bump_counter(session, GUILD, 1, "reactions_received", by=4) == 5
        assert await bump_counter(session, GUILD, 1, "reactions_received", by=-9) == 0
        assert await bump_counter(session, GUILD, 1, "invites", by=2) == 2
        assert await bump_counter(session, GUILD, 3, "events_attended", by=-1) == 0
        await bump_counter(session, GUILD, 1, "tickets_helped")
        await update_streak(session, GUILD, 1, 6, date(2026, 11, 24))
        await update_streak(session, GUILD, 1, 7, date(2026, 11, 25))
        for bad in ("xp", "level", "total_messages", "nope; DROP TABLE servers"):
            with pytest.raises(ValueError):
                await bump_counter(session, GUILD, 1, bad)
    row = await _member(session_factory, 1)
    assert row is not None
    assert (row.reactions_received, row.invites, row.tickets_helped, row.events_attended) == (
        0,
        2,
        1,
        0,
    )
    assert (row.streak_days, row.streak_last_day, row.xp) == (7, date(2026, 11, 25), 0)


GOOD_CSV = """User ID,Username,XP,Level,Messages
10,alice,1200,5,80
11,bob,300,2,
12,carol,0,0,0
"""


async def _import(factory, text_, mode="replace", guild=GUILD):
    async with factory() as session, session.begin():
        return await import_levels_csv(session, guild, text_, level_of=level_of, mode=mode)


async def test_csv_import_good_rows(session_factory):
    """Liberal headers, levels recomputed, messages kept where the file has none."""
    await _apply(session_factory, Delta(GUILD, 11, 5000, messages=9))
    report = await _import(session_factory, GOOD_CSV)
    assert (report.imported, report.skipped, report.errors) == (3, 0, [])
    rows = {u: await _member(session_factory, u) for u in (10, 11, 12)}
    assert [(r.xp, r.level, r.total_messages) for r in rows.values()] == [
        (1200, 12, 80),
        (300, 3, 9),
        (0, 0, 0),
    ]


async def test_csv_import_max_mode_keeps_the_larger(session_factory):
    await _seed(session_factory, {10: 5000, 11: 100})
    report = await _import(session_factory, "id;exp;msgs\n10;1200;3\n11;300;7\n", mode="max")
    assert report.imported == 2
    ten, eleven = await _member(session_factory, 10), await _member(session_factory, 11)
    assert (ten.xp, ten.level, ten.total_messages) == (5000, 50, 3)
    assert (eleven.xp, eleven.level, eleven.total_messages) == (300, 3, 7)


async def test_csv_import_reports_bad_lines_and_skips_them(session_factory):
    bad = (
        "user_id,xp,level\n1,100,1\n2,-5,0\nx3,10,0\n4,1.5,0\n5,10\n\n6,10,lots\n1,999,9\n7,70,0\n"
    )
    report = await _import(session_factory, bad)
    assert (report.imported, report.skipped) == (2, 6)
    assert [e.split(":")[0] for e in report.errors] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 8",
        "line 9",
    ]
    assert "first on line 2" in report.errors[-1]
    assert (await _member(session_factory, 1)).xp == 100
    assert await _member(session_factory, 2) is None


@pytest.mark.parametrize(
    "text_",
    ["", "   \n", "name,score\nalice,3\n", "user_id,xp,exp\n1,2,3\n", 'user_id,xp\n1,"2\n'],
)
async def test_csv_import_of_an_unusable_file_writes_nothing(session_factory, text_):
    report = await _import(session_factory, text_)
    assert report.imported == 0 and report.errors and report.errors[0].startswith("line ")
    async with session_factory() as session:
        assert await leaderboard(session, GUILD) == []


async def test_csv_import_refuses_an_unknown_mode(session_factory):
    with pytest.raises(ValueError):
        await _import(session_factory, GOOD_CSV, mode="sum")


async def test_csv_export_round_trips(session_factory):
    """Export, import into another guild, export again: the same ranks, XP and messages."""
    await _apply(session_factory, *[Delta(GUILD, u, u * 7 % 400, messages=u) for u in range(1, 40)])
    async with session_factory() as session:
        exported = await export_leaderboard_csv(session, GUILD)
    lines = exported.splitlines()
    assert lines[0] == "rank,user_id,xp,level,messages,voice_minutes"
    assert len(lines) == 40 and lines[1].startswith("1,")
    report = await _import(session_factory, exported, guild=OTHER)
    assert (report.imported, report.errors) == (39, [])
    async with session_factory() as session:
        again = await export_leaderboard_csv(session, OTHER)
        ranks = [await member_rank(session, OTHER, int(line.split(",")[1])) for line in lines[1:]]
    assert again == exported
    assert ranks == list(range(1, 40))


async def test_achievements_are_granted_once(session_factory):
    async with session_factory() as session, session.begin():
        assert await grant_achievement(session, GUILD, 1, "first_message", granted_at=T0)
        later = T0 + timedelta(days=1)
        assert not await grant_achievement(session, GUILD, 1, "first_message", granted_at=later)
        assert await grant_achievement(session, GUILD, 1, "chatterbox", granted_at=later)
        assert await grant_achievement(session, OTHER, 1, "first_message", granted_at=later)
        with pytest.raises(ValueError):
            await grant_achievement(session, GUILD, 1, "x" * 65, granted_at=T0)
    async with session_factory() as session:
        listed = await list_achievements(session, GUILD, 1)
        assert listed == [("first_message", T0), ("chatterbox", T0 + timedelta(days=1))]
        assert listed[0].key == "first_message" and listed[0].granted_at.tzinfo is not None
        assert await earned_keys(session, GUILD, 1) == frozenset({"first_message", "chatterbox"})
        assert await earned_keys(session, GUILD, 2) == frozenset()


async def _statements_of(session, call):
    """The SQL (and driver parameters) that `call` sends, captured at the cursor."""
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return [(sql, params) for sql, params in sent if sql.lstrip().upper().startswith("SELECT")]


async def _plan(session, sql, params):
    conn = await session.connection()
    if conn.dialect.name == "sqlite":
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(r[-1]) for r in rows)
    # A few dozen rows: make the planner show what the index can do (the bench checks 1M rows).
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        await conn.exec_driver_sql(f"SET LOCAL {setting} = off")
    rows = await conn.exec_driver_sql(f"EXPLAIN {sql}", params)
    return "\n".join(r[0] for r in rows)


async def test_leaderboard_queries_read_the_leaderboard_index(session_factory):
    """Pages need no sort step and ranks count inside the (guild_id, xp DESC, user_id) index."""
    await _seed(session_factory, {u: u % 7 * 10 for u in range(1, 50)})
    async with session_factory() as session, session.begin():
        calls = [
            lambda: leaderboard(session, GUILD, limit=10),
            lambda: leaderboard(session, GUILD, limit=10, after=(30, 17)),
            lambda: member_rank(session, GUILD, 17),
        ]
        for call in calls:
            statements = await _statements_of(session, call)
            assert statements
            for sql, params in statements:
                plan = await _plan(session, sql, params)
                assert "ix_user_levels_leaderboard" in plan, plan
                assert "SCAN user_levels" not in plan and "Seq Scan" not in plan, plan
                assert "TEMP B-TREE FOR ORDER BY" not in plan or "UNION" in sql, plan
                if "UNION" not in sql:
                    assert "Sort" not in plan, plan
        if session.get_bind().dialect.name == "sqlite":
            ddl = await session.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_user_levels_leaderboard'")
            )
            assert "xp DESC" in ddl
