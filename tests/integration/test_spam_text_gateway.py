"""The spam text model on the gateway's fast path, through discord.py and the simulator.

As in test_spam_guard.py: Temporal is real but no worker runs, so reports are read from the
member's workflow history."""

import asyncio
from datetime import timedelta

import pytest
from support import eventually, running_bot
from temporalio.service import RPCError, RPCStatusCode

from dcs.spam_model import shipped_model
from domain.cases import Violation
from simulator import DiscordSimulator
from workflows.moderation import moderation_workflow_id

LURE = "free nitro giveaway, dm me to claim"
LURE_LINK = "hey bro free nitro giveaway, claim here https://promo.example/gift"
QUESTION = "hi everyone, just joined! how do i get the verified role?"


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim:
        config = {"mod_log_channel_id": sim.world.channel("mod-log")}
        async with running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=config
        ) as bot:
            yield sim, bot, temporal_env.client


async def reports(temporal, guild_id, user_id):
    """Violations signalled to the member's moderation workflow (none: no workflow yet)."""
    handle = temporal.get_workflow_handle(moderation_workflow_id(guild_id, user_id))
    found = []
    try:
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_execution_signaled_event_attributes"):
                payloads = event.workflow_execution_signaled_event_attributes.input.payloads
                found += await temporal.data_converter.decode(payloads, [Violation])
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    return found


def present(sim, message):
    return any(m.id == message.id for m in sim.messages("general"))


async def test_a_new_members_lure_is_deleted_and_reported_but_their_question_is_not(running):
    sim, bot, temporal = running
    spammer = await sim.member_join("fresh_spammer", account_age=timedelta(hours=1))
    newbie = await sim.member_join("fresh_newbie", account_age=timedelta(hours=1))
    question = await sim.post_message("general", "fresh_newbie", QUESTION)
    lure = await sim.post_message("general", "fresh_spammer", LURE)

    await eventually(lambda: not present(sim, lure), timeout=10)
    [report] = await eventually(lambda: reports(temporal, sim.world.guild_id, spammer.user_id), 10)
    assert report.rule == "spam_text"
    assert report.reason.startswith("Spam: spam_text (a newcomer's text scores")
    assert (report.action, report.points) == ("delete", 1)
    await asyncio.sleep(0.3)
    assert present(sim, question)
    assert await reports(temporal, sim.world.guild_id, newbie.user_id) == []
    tracker = bot.spam_guard._guilds[sim.world.guild_id].tracker
    assert tracker._model is shipped_model()  # one model per process, shared by guilds


async def test_a_regulars_lure_with_a_link_only_alerts_the_mods(running):
    sim, _bot, temporal = running
    carol = sim.world.member("carol")
    lure = await sim.post_message("general", "carol", LURE_LINK)

    def spam_alerts():
        return [
            m for m in sim.messages("mod-log") if m.embeds and "spam_text_link" in str(m.embeds)
        ]

    [alert] = await eventually(spam_alerts, timeout=10)
    assert alert.embeds[0]["title"] == "Spam alert"
    assert present(sim, lure)
    assert await reports(temporal, sim.world.guild_id, carol) == []
