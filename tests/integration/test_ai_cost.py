"""AI cost, end to end on SQLite and PostgreSQL: each official SDK returns the tokens the local
provider simulator billed, the AI review and the support answer record them and their price for
the server's month and hour, and the stats endpoint, `GET /usage`, `dcs usage report` and the
weekly PNG report show them. Unknown models are counted at cost 0; AI_PRICES prices them."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment
from test_ai_review import GUILD, KEYS, review, settings_for

from activities.ai_review import (
    AIReviewActivities,
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
)
from activities.discord_rest import DiscordHttp
from activities.support_ai import SupportAIActivities
from dcs.cli import main as cli_main
from dcs.report import render_report, weekly_report_data
from domain.ai_cost import PRICES, Completion, cost_micro_usd
from domain.support_ai import SupportRequest
from simulator.ai_providers import AIProviderSimulator, RecordedAIRequest
from simulator.ai_providers import _tokens as sim_tokens
from storage.ai_usage import record_ai_tokens, set_ai_calls
from storage.models import ANALYTICS_WHOLE_DAY, AIUsage, AnalyticsPoint
from storage.servers import ensure_server

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

NOW = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
MONTH = "2026-12"
MODELS = {
    "anthropic": "claude-3-5-haiku-latest",
    "openai": "gpt-4o-mini",
    "gemini": "gemini-2.0-flash",
}
COST_METRICS = ("ai_input_tokens", "ai_output_tokens", "ai_cost_micro_usd")


@pytest.fixture
async def sim():
    async with AIProviderSimulator() as simulator:
        yield simulator


def billed(rec: RecordedAIRequest) -> tuple[int, int]:
    """The usage the simulator put in its answer for one request (prompt, reply)."""
    assert rec.reply is not None
    return sim_tokens(rec.system + rec.user), sim_tokens(rec.reply)


async def usage_row(sessions, guild=GUILD, month=MONTH) -> tuple[int, int, int, int]:
    async with sessions() as session:
        row = await session.get(AIUsage, (guild, month))
        assert row is not None
        return row.calls, row.input_tokens, row.output_tokens, row.cost_micro_usd


async def hour_metrics(sessions, guild=GUILD) -> dict[tuple[str, date, int], int]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AnalyticsPoint).where(
                AnalyticsPoint.guild_id == guild,
                AnalyticsPoint.hour != ANALYTICS_WHOLE_DAY,
                AnalyticsPoint.metric.in_(COST_METRICS),
            )
        )
        return {(r.metric, r.date, r.hour): r.value for r in rows}


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (AnthropicProvider, "anthropic_base_url"),
        (OpenAIProvider, "openai_base_url"),
        (GeminiProvider, "gemini_base_url"),
    ],
)
async def test_each_sdk_returns_the_usage_the_provider_billed(sim, cls, base):
    model = MODELS[cls.name]
    provider = cls(KEYS[cls.name], model, base_url=getattr(sim, base), timeout=3, retries=0)
    try:
        completion = await provider.complete("You judge messages. Reply in JSON.", "hello there")
    finally:
        await provider.aclose()
    [rec] = sim.requests
    tokens_in, tokens_out = billed(rec)
    assert tokens_in > 1 and tokens_out > 1
    assert completion == Completion(rec.reply or "", tokens_in, tokens_out, cls.name, model)


@pytest.mark.parametrize("primary", ["anthropic", "openai", "gemini"])
async def test_a_review_records_tokens_and_cost_and_every_report_shows_them(
    sim, session_factory, api, token, primary
):
    acts = AIReviewActivities(settings_for(sim, primary), session_factory, clock=lambda: NOW)
    try:
        verdict = await review(acts)
    finally:
        await acts.aclose()
    assert verdict.provider == primary
    [rec] = sim.requests
    tokens_in, tokens_out = billed(rec)
    cost = cost_micro_usd(MODELS[primary], tokens_in, tokens_out, PRICES)
    assert cost is not None and cost > 0
    assert await usage_row(session_factory) == (1, tokens_in, tokens_out, cost)
    assert await hour_metrics(session_factory) == {
        ("ai_input_tokens", NOW.date(), 14): tokens_in,
        ("ai_output_tokens", NOW.date(), 14): tokens_out,
        ("ai_cost_micro_usd", NOW.date(), 14): cost,
    }

    viewer = await token("viewer", guild=GUILD)
    r = await api.get(
        f"/api/servers/{GUILD}/stats",
        params={"from": "2026-12-02T00:00:00", "to": "2026-12-03T00:00:00", "granularity": "hour"},
        headers=viewer,
    )
    assert r.status_code == 200, r.text
    stats = r.json()
    assert stats["totals"]["ai_cost_micro_usd"] == cost
    assert stats["totals"]["ai_calls"] == 1
    assert (stats["totals"]["ai_input_tokens"], stats["totals"]["ai_output_tokens"]) == (
        tokens_in,
        tokens_out,
    )
    assert stats["series"]["ai_cost_micro_usd"][14] == cost
    assert sum(stats["series"]["ai_cost_micro_usd"]) == cost

    r = await api.get(f"/api/servers/{GUILD}/usage", params={"month": MONTH}, headers=viewer)
    assert r.status_code == 200, r.text
    usage = r.json()
    assert (usage["ai_calls"], usage["ai_input_tokens"], usage["ai_output_tokens"]) == (
        1,
        tokens_in,
        tokens_out,
    )
    assert usage["ai_cost_micro_usd"] == cost
    assert usage["ai_cost_usd"] == f"0.{cost:06d}"


async def test_an_invalid_reply_is_billed_too_and_each_model_at_its_price(sim, session_factory):
    sim.reply_with("anthropic", "I cannot answer in JSON today.")
    acts = AIReviewActivities(settings_for(sim), session_factory, clock=lambda: NOW)
    try:
        verdict = await review(acts)
    finally:
        await acts.aclose()
    assert verdict.provider == "openai"  # the next provider answered
    first, second = sim.requests
    (in1, out1), (in2, out2) = billed(first), billed(second)
    cost1 = cost_micro_usd(MODELS["anthropic"], in1, out1, PRICES)
    cost2 = cost_micro_usd(MODELS["openai"], in2, out2, PRICES)
    assert cost1 is not None and cost2 is not None
    assert await usage_row(session_factory) == (1, in1 + in2, out1 + out2, cost1 + cost2)


async def test_an_unknown_model_counts_tokens_at_cost_0_until_ai_prices_names_it(
    sim, session_factory, caplog
):
    model = f"claude-from-the-future-{uuid.uuid4().hex[:8]}"  # unpriced models are logged once
    base = settings_for(sim, keys=("anthropic",))
    unknown = base.model_copy(update={"anthropic_model": model})
    acts = AIReviewActivities(unknown, session_factory, clock=lambda: NOW)
    try:
        await review(acts)
        assert f"{model!r} (anthropic) has no price" in caplog.text
        assert KEYS["anthropic"] not in caplog.text
    finally:
        await acts.aclose()
    tokens_in, tokens_out = billed(sim.requests[0])
    assert await usage_row(session_factory) == (1, tokens_in, tokens_out, 0)

    priced = unknown.model_copy(update={"ai_prices": {model: (2.0, 10.0)}})
    acts = AIReviewActivities(priced, session_factory, clock=lambda: NOW)
    try:
        await review(acts)
    finally:
        await acts.aclose()
    in2, out2 = billed(sim.requests[1])
    assert await usage_row(session_factory) == (
        2,
        tokens_in + in2,
        tokens_out + out2,
        in2 * 2 + out2 * 10,
    )


async def test_a_support_answer_records_its_cost(sim, session_factory):
    http = DiscordHttp("http://127.0.0.1:9", "sandbox-token")
    acts = SupportAIActivities(
        settings_for(sim, "gemini", keys=("gemini",)), session_factory, http, clock=lambda: NOW
    )
    try:
        await ActivityEnvironment().run(
            acts.answer, SupportRequest(GUILD, 11, 12, 13, "when is the next meetup?", "en")
        )
    finally:
        await acts.aclose()
        await http.aclose()
    [rec] = sim.requests
    tokens_in, tokens_out = billed(rec)
    cost = cost_micro_usd(MODELS["gemini"], tokens_in, tokens_out, PRICES)
    assert await usage_row(session_factory) == (1, tokens_in, tokens_out, cost)


async def test_tokens_arriving_in_a_new_month_start_its_row_without_a_call(session_factory):
    async with session_factory() as session, session.begin():
        await record_ai_tokens(session, GUILD, "2027-01", 100, 20, 160, now=NOW)
        await record_ai_tokens(session, GUILD, "2027-01", 50, 5, 60, now=NOW)
    assert await usage_row(session_factory, month="2027-01") == (0, 150, 25, 220)


@pytest.fixture
async def seeded(session_factory, migrated_db, monkeypatch):
    async with session_factory() as session, session.begin():
        await ensure_server(session, GUILD, "Cost Club")
        await set_ai_calls(session, GUILD, MONTH, 3, now=NOW)
        await record_ai_tokens(session, GUILD, MONTH, 3_000, 300, 1_234_567, now=NOW)
        await record_ai_tokens(session, GUILD, MONTH, 10, 1, 8, now=NOW + timedelta(days=1))
    monkeypatch.setenv("DATABASE_URL", migrated_db)


def test_the_usage_report_has_tokens_and_cost_columns(seeded, capsys):
    assert cli_main(["usage", "report", "--month", MONTH]) == 0
    header, *_ = capsys.readouterr().out.splitlines()
    assert header.endswith(",ai_input_tokens,ai_output_tokens,ai_cost_usd")
    assert cli_main(["usage", "report", "--month", MONTH]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["ai_calls"], row["ai_input_tokens"], row["ai_output_tokens"]) == (
        "3",
        "3010",
        "301",
    )
    assert row["ai_cost_usd"] == "1.234575"
    assert cli_main(["usage", "report", "--month", MONTH, "--format", "json"]) == 0
    [data] = json.loads(capsys.readouterr().out)
    assert (data["ai_cost_micro_usd"], data["ai_cost_usd"]) == (1_234_575, "1.234575")


async def test_the_weekly_report_draws_the_cost(seeded, session_factory, tmp_path):
    async with session_factory() as session:
        report = await weekly_report_data(session, GUILD, date(2026, 11, 30), date(2026, 12, 7))
    assert report.daily("ai_cost_micro_usd") == [0, 0, 1_234_567, 8, 0, 0, 0]
    out = tmp_path / "week.png"
    render_report(report, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
