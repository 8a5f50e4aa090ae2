"""The AI reviewer under tier limits, against the local AI provider simulator and a real database:
concurrent reviews never spend more than the month's budget, the ones refused are answered by the
local rules with a reason that says so, and a server over its limits asks no provider at all."""

import asyncio
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from test_ai_review import GUILD, req, review, settings_for

from activities.ai_review import AIReviewActivities
from simulator.ai_providers import AIProviderSimulator
from storage.ai_usage import ai_calls_used, set_ai_calls
from storage.tiers import notices_of, record_guild

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)


@pytest.fixture
async def ai():
    async with AIProviderSimulator() as simulator:
        yield simulator


@pytest.fixture
async def acts(ai, session_factory):
    activities = AIReviewActivities(settings_for(ai), session_factory)
    yield activities
    await activities.aclose()


def month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def refused(reason: str) -> float:
    labels = {"purpose": "review", "reason": reason}
    return REGISTRY.get_sample_value("dcs_ai_tier_refusals_total", labels) or 0.0


async def test_concurrent_reviews_spend_exactly_the_budget_left(ai, acts, session_factory):
    async with session_factory() as session, session.begin():
        await set_ai_calls(session, GUILD, month(), 9_998)  # starter: two calls left
    before = refused("budget")
    verdicts = await asyncio.gather(*(review(acts) for _ in range(6)))
    asked = [v for v in verdicts if v.provider != "local"]
    local = [v for v in verdicts if v.provider == "local"]
    assert len(asked) == 2 and len(ai.requests) == 2
    assert len(local) == 4 and all(v.budget_exhausted for v in local)
    assert all(
        v.reason.startswith("AI budget spent (10,000 of 10,000 calls this month, starter tier)")
        for v in local
    )
    assert refused("budget") - before == 4
    async with session_factory() as session:
        assert await ai_calls_used(session, GUILD, month()) == 10_000
        assert [n.key for n in await notices_of(session, GUILD)] == [f"ai:{month()}:100"]


async def test_a_server_over_its_limits_asks_no_provider(ai, acts, session_factory):
    async with session_factory() as session, session.begin():
        await record_guild(session, GUILD, owner_id=1, member_count=5_001)
    before = refused("over_limit")
    verdict = await review(acts, req())
    assert verdict.provider == "local" and verdict.budget_exhausted
    assert verdict.reason.startswith("AI paused: the server is over its starter tier's limits")
    assert ai.requests == []
    assert refused("over_limit") - before == 1
    async with session_factory() as session:
        assert await ai_calls_used(session, GUILD, month()) == 0
