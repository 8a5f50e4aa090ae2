"""A moderator reports a message; the AI reviewer (Anthropic's SDK against the local provider
server) judges it with the server's rules and the conversation, and its verdict becomes the
sanction: the whole path through the gateway, Temporal, the database and the simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support import eventually, running_bot

from activities.ai_review import AIReviewActivities
from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.settings import load_settings
from dcs.temporal import build_worker
from simulator import DiscordSimulator
from simulator.ai_providers import AIProviderSimulator
from storage.models import ModerationCase

pytestmark = pytest.mark.slow

MUTE = {
    "action": "mute",
    "categories": ["harassment"],
    "confidence": 0.93,
    "reason": "targets another member with insults",
}


@pytest.fixture
async def suite(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim, AIProviderSimulator() as ai:
        settings = load_settings(
            _env_file=None,
            ai_provider="anthropic",
            anthropic_api_key="sk-ant-test-0001",
            anthropic_base_url=ai.anthropic_base_url,
            ai_timeout_seconds=5,
        )
        review = AIReviewActivities(settings, session_factory)
        config = default_server_config().model_dump(mode="json")
        config["mod_log_channel_id"] = sim.world.channel("mod-log")
        config["rules"] = "Be kind. No personal attacks."
        config["culture"] = "A friendly study group for beginners."
        http = DiscordHttp(sim.api_base, "sandbox-token")
        try:
            async with (
                build_worker(
                    temporal_env.client, task_queue, session_factory, http, ai_review=review
                ),
                running_bot(sim, temporal_env.client, task_queue, session_factory, config=config),
            ):
                yield sim, ai
        finally:
            await review.aclose()
            await http.aclose()


async def reported_cases(sessions, user_id):
    async with sessions() as session:
        rows = await session.scalars(
            select(ModerationCase)
            .where(ModerationCase.user_id == user_id)
            .order_by(ModerationCase.case_number)
        )
        return rows.all()


async def test_a_reported_message_is_judged_in_context_and_the_verdict_applied(
    suite, session_factory
):
    sim, ai = suite
    ai.reply_with("anthropic", MUTE)
    await sim.post_message("general", "alice", "anyone finished chapter 3?")
    target = await sim.post_message("general", "bob", "only an idiot would ask that, alice")
    record = await sim.invoke_message_command("Report to moderators", "moderator", target.id)
    bob = sim.world.member("bob")

    cases = await eventually(lambda: reported_cases(session_factory, bob), timeout=30)
    report = cases[0]
    assert (report.source, report.action) == ("report", "review")
    assert "AI review (anthropic): mute" in report.reason
    # The verdict 'mute' became a timeout in Discord.
    patched = await eventually(
        lambda: [
            r
            for r in sim.requests("PATCH", "/guilds/{guild_id}/members/{user_id}")
            if r.path.endswith(f"/{bob}") and (r.json or {}).get("communication_disabled_until")
        ],
        timeout=30,
    )
    assert patched
    # The reviewer saw the server's rules, its culture, the conversation, and the message as data.
    (request,) = ai.requests_to("anthropic")
    prompt = request.system + request.user
    assert "No personal attacks" in prompt and "friendly study group" in prompt
    assert "anyone finished chapter 3?" in prompt
    assert "only an idiot would ask that, alice" in prompt
    view = record.describe(sim.world)
    assert "Reported" in str(view)


async def test_a_report_the_reviewer_clears_records_no_strike(suite, session_factory):
    sim, ai = suite
    ai.reply_with(
        "anthropic",
        {"action": "none", "categories": [], "confidence": 0.9, "reason": "friendly banter"},
    )
    target = await sim.post_message("general", "carol", "you absolute legend")
    await sim.invoke_message_command("Report to moderators", "moderator", target.id)
    carol = sim.world.member("carol")
    cases = await eventually(lambda: reported_cases(session_factory, carol), timeout=30)
    assert (cases[0].action, cases[0].points) == ("reviewed_no_action", 0)
    assert not [
        r
        for r in sim.requests("PATCH", "/guilds/{guild_id}/members/{user_id}")
        if r.path.endswith(f"/{carol}")
    ]
