"""Analytics on a real database (SQLite and PostgreSQL): the gateway's counters flushed (directly
and through discord.py against the simulator), kept on a failed write and never counted twice;
AI calls counted with their budget; the hourly rollup recomputing cases, tickets and attendance
from the source tables, idempotently; the stats endpoint; the weekly PNG report."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from support import eventually, running_bot
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.analytics import AnalyticsActivities
from dcs.cli import main as cli_main
from dcs.report import render_report, weekly_report_data
from domain.analytics import hour_floor
from gateway.analytics_counters import AnalyticsCounters
from storage.ai_usage import consume_ai_call
from storage.analytics import add_counts, recompute_hour
from storage.cases import record_case
from storage.models import (
    ANALYTICS_WHOLE_DAY,
    AnalyticsPoint,
    EngagementAward,
    ModerationCase,
    Server,
    SupportTicket,
)
from storage.retention import roll_up_days
from storage.servers import ensure_server_exists
from workflows.maintenance import (
    APPROVAL_ALERTS_ID,
    RETENTION_ID,
    ROLLUP_HOURLY_ID,
    ROLLUP_ID,
    HourlyRollupWorkflow,
    ensure_maintenance_schedules,
)

H = datetime(2026, 12, 2, 14, tzinfo=UTC)
"""An hour the seeded rows fall in."""


def _guild() -> int:
    return int(uuid.uuid4().int % 10**17) + 10**17


async def hourly(sessions, guild: int) -> dict[tuple[str, date, int], int]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AnalyticsPoint).where(
                AnalyticsPoint.guild_id == guild, AnalyticsPoint.hour != ANALYTICS_WHOLE_DAY
            )
        )
        return {(r.metric, r.date, r.hour): r.value for r in rows if r.value}


def by_metric(rows: dict[tuple[str, date, int], int]) -> dict[str, int]:
    """Totals per metric, whichever hours they fell in."""
    out: dict[str, int] = {}
    for (metric, _, _), value in rows.items():
        out[metric] = out.get(metric, 0) + value
    return out


# --- gateway counters ---------------------------------------------------------------------


async def test_counters_flush_as_additive_hourly_rows_and_survive_a_failed_write(session_factory):
    guild = _guild()
    counters = AnalyticsCounters(session_factory, clock=lambda: H + timedelta(minutes=5))
    for _ in range(3):
        counters.count(guild, "messages")
    counters.count(guild, "joins")
    counters.count(guild, "messages", at=H + timedelta(hours=1, minutes=59))
    assert await counters.flush() == 3
    assert counters.pending() == {}
    assert await counters.flush() == 0  # nothing twice

    counters.count(guild, "messages", n=2)
    assert await counters.flush() == 1
    d = H.date()
    assert await hourly(session_factory, guild) == {
        ("messages", d, 14): 5,
        ("joins", d, 14): 1,
        ("messages", d, 15): 1,
    }

    # the database refuses the next write: the batch stays, merged with what comes meanwhile
    calls = 0

    def broken():
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    counters._sessions = broken  # type: ignore[assignment]
    counters.count(guild, "leaves")
    assert await counters.flush() == 0
    assert counters.flush_failures == 1 and calls == 1
    counters.count(guild, "leaves")
    assert counters.pending() == {(guild, "leaves", H): 2}
    counters._sessions = session_factory
    assert await counters.flush() == 1
    assert (await hourly(session_factory, guild))[("leaves", d, 14)] == 2
    assert counters.pending() == {}


async def test_the_gateway_counts_messages_joins_and_leaves(
    temporal_env, session_factory, task_queue, sim
):
    guild = sim.world.guild_id
    async with running_bot(sim, temporal_env.client, task_queue, session_factory) as bot:
        await sim.post_message("general", "alice", "good morning")
        await sim.post_message("general", "bob", "morning!")
        await sim.member_join("newcomer")
        await sim.member_join("drifter")
        await sim.member_leave("drifter")
        await eventually(
            lambda: (
                {k[1]: v for k, v in bot.analytics.pending().items()}
                == {"messages": 2, "joins": 2, "leaves": 1}
            )
        )
        channel = bot.get_channel(sim.world.channel("general"))
        await channel.send("the bot's own post is not a member's message")
    # stopping the gateway flushes what is pending
    now = hour_floor(datetime.now(UTC))

    async def written():
        rows = await hourly(session_factory, guild)
        return by_metric(rows) or None

    totals = await eventually(written)
    assert totals == {"messages": 2, "joins": 2, "leaves": 1}
    assert set(await hourly(session_factory, guild)) <= {
        (m, (now + timedelta(hours=h)).date(), (now + timedelta(hours=h)).hour)
        for m in totals
        for h in (0, 1)
    }


async def test_ai_calls_are_counted_with_their_budget(session_factory):
    guild = _guild()
    async with session_factory() as session, session.begin():
        assert await consume_ai_call(session, guild, "2026-12", 2, now=H) == 1
        assert await consume_ai_call(session, guild, "2026-12", 2, now=H + timedelta(hours=1)) == 2
        assert await consume_ai_call(session, guild, "2026-12", 2, now=H) is None  # spent
    assert await hourly(session_factory, guild) == {
        ("ai_calls", H.date(), 14): 1,
        ("ai_calls", H.date(), 15): 1,
    }


# --- the hourly rollup --------------------------------------------------------------------


async def seed_sources(sessions, guild: int) -> None:
    """Cases, tickets and event attendance in hour H (and some just outside it)."""
    async with sessions() as session, session.begin():
        await ensure_server_exists(session, guild)
        for n, (action, rule, at) in enumerate(
            [
                ("delete", "blocked_terms", H + timedelta(minutes=1)),
                ("delete", "blocked_terms", H + timedelta(minutes=20)),
                ("timeout", "spam", H + timedelta(minutes=59)),
                ("ban", None, H + timedelta(minutes=30)),  # by a moderator: no rule
                ("warn", "caps", H + timedelta(hours=1)),  # the next hour
            ]
        ):
            await record_case(
                session,
                guild_id=guild,
                user_id=500 + n,
                action=action,
                reason="r",
                source="automod" if rule else "manual",
                source_key=f"k{n}",
                rule=rule,
                created_at=at,
            )
        session.add_all(
            [
                SupportTicket(
                    guild_id=guild,
                    number=1,
                    user_id=1,
                    subject="a",
                    created_at=H - timedelta(hours=3),
                    closed_at=H + timedelta(minutes=10),
                    status="closed",
                ),
                SupportTicket(
                    guild_id=guild,
                    number=2,
                    user_id=2,
                    subject="b",
                    created_at=H + timedelta(minutes=5),
                    closed_at=H + timedelta(minutes=35),
                    status="closed",
                ),
                SupportTicket(
                    guild_id=guild,
                    number=3,
                    user_id=3,
                    subject="c",
                    created_at=H + timedelta(minutes=50),
                ),
                EngagementAward(guild_id=guild, user_id=1, award_key="event:7", granted_at=H),
                EngagementAward(guild_id=guild, user_id=2, award_key="event:7", granted_at=H),
                EngagementAward(guild_id=guild, user_id=2, award_key="event:8:3", granted_at=H),
                EngagementAward(guild_id=guild, user_id=3, award_key="ticket:1", granted_at=H),
            ]
        )


async def test_the_hourly_rollup_recomputes_from_the_source_tables_idempotently(session_factory):
    guild = _guild()
    await seed_sources(session_factory, guild)
    async with session_factory() as session, session.begin():
        await add_counts(session, {(guild, "messages", H): 12})  # a live counter: left alone
    expected = {
        "actions:delete": 2,
        "actions:timeout": 1,
        "actions:ban": 1,
        "violations:blocked_terms": 2,
        "violations:spam": 1,
        "tickets_opened": 2,
        "tickets_closed": 2,
        "ticket_resolution_seconds": 3 * 3600 + 10 * 60 + 30 * 60,
        "event_attendance": 3,
        "messages": 12,
    }
    for _ in range(2):  # a re-run gives the same numbers
        async with session_factory() as session, session.begin():
            await recompute_hour(session, H + timedelta(minutes=42))
        rows = await hourly(session_factory, guild)
        assert {m: v for (m, d, h), v in rows.items() if h == 14} == expected

    # a member's cases erased (GDPR): the hour's figures follow, the day's total too
    async with session_factory() as session, session.begin():
        await session.execute(
            delete(ModerationCase).where(
                ModerationCase.guild_id == guild, ModerationCase.user_id.in_([500, 501])
            )
        )
        await recompute_hour(session, H)
        await roll_up_days(session, H.date(), H.date())
    rows = await hourly(session_factory, guild)
    assert "actions:delete" not in {m for (m, _, h) in rows if h == 14}
    async with session_factory() as session:
        day = {
            r.metric: r.value
            for r in await session.scalars(
                select(AnalyticsPoint).where(
                    AnalyticsPoint.guild_id == guild, AnalyticsPoint.hour == ANALYTICS_WHOLE_DAY
                )
            )
        }
    assert day["actions:delete"] == 0 and day["violations:blocked_terms"] == 0
    assert day["actions:timeout"] == 1 and day["messages"] == 12


# --- the stats endpoint -------------------------------------------------------------------


async def seed_points(sessions, guild: int) -> None:
    """Dec 1: rolled up (whole-day rows differ from the hours, to show which is read);
    Dec 2: hourly rows only (not rolled up yet)."""
    d1, d2 = date(2026, 12, 1), date(2026, 12, 2)

    def p(metric: str, day: date, hour: int, value: int) -> AnalyticsPoint:
        return AnalyticsPoint(guild_id=guild, metric=metric, date=day, hour=hour, value=value)

    async with sessions() as session, session.begin():
        await ensure_server_exists(session, guild)
        session.add_all(
            [
                p("messages", d1, 9, 30),
                p("messages", d1, ANALYTICS_WHOLE_DAY, 31),
                p("tickets_closed", d1, ANALYTICS_WHOLE_DAY, 2),
                p("ticket_resolution_seconds", d1, ANALYTICS_WHOLE_DAY, 7200),
                p("messages", d2, 0, 4),
                p("messages", d2, 13, 6),
                p("violations:caps", d2, 13, 2),
                p("tickets_closed", d2, 13, 1),
                p("ticket_resolution_seconds", d2, 13, 600),
            ]
        )


async def test_stats_by_day_hour_and_week(api, token, session_factory):
    guild = _guild()
    await seed_points(session_factory, guild)
    viewer = await token(role="viewer", guild=guild)
    url = f"/api/servers/{guild}/stats"

    r = await api.get(url, params={"from": "2026-12-01", "to": "2026-12-03"}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["granularity"] == "day" and body["server_id"] == str(guild)
    assert body["from"].startswith("2026-12-01T00:00:00") and body["to"].startswith("2026-12-03")
    assert len(body["buckets"]) == 2
    assert body["series"]["messages"] == [31, 10]  # the whole-day row; the hours of Dec 2
    assert body["series"]["joins"] == [0, 0]
    assert body["series"]["violations:caps"] == [0, 2]
    assert body["totals"]["messages"] == 41
    assert body["averages"]["ticket_resolution_avg_seconds"] == [3600.0, 600.0]
    assert body["average_totals"]["ticket_resolution_avg_seconds"] == pytest.approx(7800 / 3)

    r = await api.get(
        url,
        params={
            "from": "2026-12-02T12:30:00Z",
            "to": "2026-12-02T15:00:00Z",
            "granularity": "hour",
        },
        headers=viewer,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [b[11:16] for b in body["buckets"]] == ["12:00", "13:00", "14:00"]
    assert body["series"]["messages"] == [0, 6, 0]

    r = await api.get(
        url,
        params={"from": "2026-11-25", "to": "2026-12-07", "granularity": "week"},
        headers=viewer,
    )
    body = r.json()
    assert [b[:10] for b in body["buckets"]] == ["2026-11-23", "2026-11-30"]
    assert body["series"]["messages"] == [0, 41]


async def test_stats_refuses_other_servers_and_unreasonable_ranges(api, token, session_factory):
    guild, other = _guild(), _guild()
    await seed_points(session_factory, guild)
    url = f"/api/servers/{guild}/stats"
    r = await api.get(url, headers=await token(role="admin", guild=other))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert (await api.get(url)).status_code == 401

    viewer = await token(role="viewer", guild=guild)
    r = await api.get(
        url,
        params={"from": "2026-01-01", "to": "2026-03-01", "granularity": "hour"},
        headers=viewer,
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_range" and "at most 744" in error["message"]
    r = await api.get(url, params={"from": "2026-12-03", "to": "2026-12-01"}, headers=viewer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_range"
    r = await api.get(url, params={"granularity": "month"}, headers=viewer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = await api.get(url, params={"from": "yesterday"}, headers=viewer)
    assert r.status_code == 422
    for edge in (
        {"from": "0001-01-01T00:00:00+01:00", "to": "0001-01-02"},  # before year 1 in UTC
        {"from": "9999-12-20", "to": "9999-12-31T12:00:00", "granularity": "week"},
        {"to": "0001-01-01T05:00:00"},  # the default `from` would be before year 1
    ):
        r = await api.get(url, params=edge, headers=viewer)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_range", edge
    r = await api.get(
        url,
        params={"from": "0001-01-01", "to": "0001-01-01T03:00:00", "granularity": "hour"},
        headers=viewer,
    )
    assert r.status_code == 200 and r.json()["series"]["messages"] == [0, 0, 0]
    r = await api.get(url, headers=viewer)  # defaults: the last seven days and today
    assert r.status_code == 200 and len(r.json()["buckets"]) == 8


async def test_stats_is_in_the_openapi_schema(api):
    schema = (await api.get("/openapi.json")).json()
    op = schema["paths"]["/api/servers/{server_id}/stats"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"from", "to", "granularity"}
    assert "StatsOut" in op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"403", "422"} <= set(op["responses"])


# --- the weekly report --------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_weekly_report_draws_the_databases_figures(
    session_factory, tmp_path, monkeypatch
):
    guild = _guild()
    await seed_points(session_factory, guild)
    async with session_factory() as session, session.begin():
        server = await session.get(Server, guild)
        assert server is not None
        server.name = "Sandbox Community"
        await add_counts(
            session,
            {
                (guild, "joins", datetime(2026, 12, 6, 23, tzinfo=UTC)): 3,
                (guild, "actions:ban", datetime(2026, 12, 2, 1, tzinfo=UTC)): 1,
                (guild, "messages", datetime(2026, 12, 7, 0, tzinfo=UTC)): 50,  # next week
            },
        )
    async with session_factory() as session:
        report = await weekly_report_data(session, guild, date(2026, 11, 30), date(2026, 12, 7))
    assert report.week_label == "2026-W49" and report.server_name == "Sandbox Community"
    assert report.days[0] == date(2026, 11, 30) and len(report.days) == 7
    assert report.daily("messages") == [0, 31, 10, 0, 0, 0, 0]
    assert report.daily("joins") == [0, 0, 0, 0, 0, 0, 3]
    assert report.series.with_prefix("violations:") == {"caps": 2}
    assert report.series.with_prefix("actions:") == {"ban": 1}
    assert report.mean_resolution_hours == [None, 1.0, 600 / 3600, None, None, None, None]

    out = tmp_path / "week.png"
    render_report(report, out)
    assert png_size(out.read_bytes()) == (1400, 1000)
    assert out.stat().st_size > 20_000  # drawn, not blank

    # the CLI: same data, from the database DATABASE_URL names
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    cli_out = tmp_path / "cli" / "report.png"
    args = ["report", "--server", str(guild), "--week", "2026-W49", "--out", str(cli_out)]
    assert await asyncio.to_thread(cli_main, args) == 0  # the CLI runs its own event loop
    assert png_size(cli_out.read_bytes()) == (1400, 1000)
    bad = ["report", "--server", str(guild), "--week", "2026-53", "--out", str(tmp_path / "x.png")]
    assert await asyncio.to_thread(cli_main, bad) == 2
    assert not (tmp_path / "x.png").exists()


# --- the schedule -------------------------------------------------------------------------


async def test_the_hourly_rollup_schedule_recomputes_the_current_hours(
    temporal_env, session_factory, task_queue
):
    client = temporal_env.client
    guild = _guild()
    hour = hour_floor(datetime.now(UTC))
    async with session_factory() as session, session.begin():
        await ensure_server_exists(session, guild)
        for n, at in enumerate([hour, hour - timedelta(hours=2), hour - timedelta(hours=9)]):
            await record_case(
                session,
                guild_id=guild,
                user_id=n + 1,
                action="delete",
                reason="r",
                source="automod",
                source_key=f"s{n}",
                rule="invites",
                created_at=at,
            )
    await ensure_maintenance_schedules(client, task_queue)
    try:
        handle = client.get_schedule_handle(ROLLUP_HOURLY_ID)
        spec = (await handle.describe()).schedule.spec
        assert spec.cron_expressions == ["5 * * * *"] or spec.calendars
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[HourlyRollupWorkflow],
            activities=[AnalyticsActivities(session_factory).roll_up_hours],
        ):
            await handle.trigger()

            async def rolled():
                rows = await hourly(session_factory, guild)
                return rows if len(rows) == 4 else None

            rows = await eventually(rolled)
    finally:
        for schedule_id in (RETENTION_ID, ROLLUP_ID, ROLLUP_HOURLY_ID, APPROVAL_ALERTS_ID):
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()
    two_ago = hour - timedelta(hours=2)
    assert rows == {  # the hour nine hours back is outside the window
        ("actions:delete", hour.date(), hour.hour): 1,
        ("violations:invites", hour.date(), hour.hour): 1,
        ("actions:delete", two_ago.date(), two_ago.hour): 1,
        ("violations:invites", two_ago.date(), two_ago.hour): 1,
    }


async def test_faq_answers_are_counted_as_faq_hits(temporal_env, session_factory, sim):
    from test_faq_gateway import _reply_to, faq_bot  # tests/integration is on sys.path

    guild = sim.world.guild_id
    async with faq_bot(temporal_env, session_factory, sim) as bot:
        question = await sim.post_message("general", "alice", "hey when's the next mint happening?")
        await _reply_to(sim, bot, question)
        await eventually(lambda: bot.faq.answered == 1)
        assert await bot.analytics.flush() >= 1
    rows = await hourly(session_factory, guild)
    assert by_metric(rows) == {"messages": 1, "faq_hits": 1}
