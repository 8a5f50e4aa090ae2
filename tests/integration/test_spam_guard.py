"""Spam and raid detection on the gateway's fast path, through discord.py and the simulator.

Temporal is real but no worker runs: reports wait in the member's workflow history, where
they are decoded (as in test_automod_gateway.py)."""

import asyncio

import pytest
from support import eventually, running_bot
from temporalio.service import RPCError, RPCStatusCode

from dcs.server_config import RaidConfig, default_server_config
from domain.cases import Violation
from domain.raid import RaidRules
from domain.spam import SpamRules
from gateway.spam_guard import raid_rules, spam_rules
from simulator import DiscordSimulator
from workflows.moderation import moderation_workflow_id

FLOOD = "come watch my stream right now everyone"


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with (
        DiscordSimulator() as sim,
        running_bot(sim, temporal_env.client, task_queue, session_factory) as bot,
    ):
        yield sim, bot, temporal_env.client


async def reports(temporal, guild_id, user_id):
    """Violations signalled to the member's moderation workflow, oldest first."""
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
        return []  # no report yet: the workflow was never started
    return found


def remaining(sim, channel, ids):
    """Which of ``ids`` are still in the channel."""
    present = {m.id for m in sim.messages(channel)}
    return [i for i in ids if i in present]


async def test_a_flood_of_identical_messages_is_deleted_and_reported(running):
    sim, _bot, temporal = running
    guild, carol = sim.world.guild_id, sim.world.member("carol")
    posted = [await sim.post_message("general", "carol", FLOOD) for _ in range(15)]
    ids = [m.id for m in posted]

    await eventually(lambda: not remaining(sim, "general", ids), timeout=10)

    async def three_reports():
        found = await reports(temporal, guild, carol)
        return found if len(found) >= 3 else None

    # standard preset: the 3rd copy is a first offence (delete, 1 point); the burst going on
    # past max_messages is a new offence each time (10-minute, then 60-minute timeout)
    # each message is its own discord.py task: reports may reach Temporal in any order
    found = sorted(await eventually(three_reports, timeout=10), key=lambda r: r.message_id)
    assert [(r.action, r.points, r.duration_minutes, r.explicit) for r in found] == [
        ("delete", 1, None, False),
        ("timeout", 1, 10, True),
        ("timeout", 1, 60, True),
    ]
    assert all(r.source == "spam" for r in found)
    assert [int(r.source_key.removeprefix("spam:")) for r in found] == [r.message_id for r in found]
    assert {r.message_id for r in found} <= set(ids)
    assert found[0].reason == "Spam: duplicates (3 copies)"
    assert found[0].mod_log_channel_id == sim.world.channel("mod-log")

    # the third offence reaches the preset's alert level: one spam alert in the mod-log
    [alert] = await eventually(lambda: [m for m in sim.messages("mod-log") if m.embeds], timeout=10)
    assert alert.embeds[0]["title"] == "Spam alert"
    assert f"<@{carol}>" in alert.embeds[0]["fields"][0]["value"]


async def test_a_normal_conversation_is_never_touched(running):
    sim, bot, temporal = running
    guild = sim.world.guild_id
    lines = [
        ("alice", "morning! anyone tried the new patch?"),
        ("bob", "yes, the boss fight is way harder now"),
        ("alice", "ugh, I died three times last night"),
        ("bob", "try the shield build, it helped me"),
        ("alice", "good idea, thanks"),
        ("bob", "np, see you in voice later"),
        ("alice", "ok"),
        ("bob", "ok"),
    ]
    posted = []
    for author, text in lines:
        posted.append(await sim.post_message("general", author, text))
        await asyncio.sleep(0.05)
    await eventually(lambda: bot.handled >= len(lines))
    await asyncio.sleep(0.3)
    assert remaining(sim, "general", [m.id for m in posted]) == [m.id for m in posted]
    assert bot.spam_guard.verdicts == 0
    for name in ("alice", "bob"):
        assert await reports(temporal, guild, sim.world.member(name)) == []


async def test_moderators_may_post_fast(running):
    sim, bot, _temporal = running
    posted = [await sim.post_message("general", "moderator", FLOOD) for _ in range(10)]
    await eventually(lambda: bot.handled >= len(posted))
    await asyncio.sleep(0.3)
    assert len(remaining(sim, "general", [m.id for m in posted])) == len(posted)
    assert bot.spam_guard.verdicts == 0


async def test_with_automatic_lockdown_off_a_mass_join_raises_one_raid_alert(
    temporal_env, session_factory, task_queue
):
    async with DiscordSimulator() as sim:
        config = {
            "mod_log_channel_id": sim.world.channel("mod-log"),
            "raid": {"lockdown": {"auto": False}},
        }
        async with running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=config
        ) as bot:
            await _one_raid_alert(sim, bot)
    assert not bot.spam_guard.lockdowns  # nothing was locked down


async def _one_raid_alert(sim, bot):
    await sim.mass_join(60, within=3.0, young_share=0.8)

    def raid_alerts():
        return [
            m
            for m in sim.messages("mod-log")
            if m.embeds and m.embeds[0].get("title", "").startswith("Raid alert")
        ]

    [alert] = await eventually(raid_alerts, timeout=10)
    embed = alert.embeds[0]
    assert embed["title"] == "Raid alert: level raid"
    assert "joins in" in embed["description"]
    assert "younger than" in embed["description"]
    suspects = {f["name"]: f["value"] for f in embed["fields"]}["Suspects"]
    assert int(suspects) >= 5
    await asyncio.sleep(0.5)
    assert len(raid_alerts()) == 1  # once per episode, not per join
    assert bot.spam_guard.raid_signals[-1].level == "raid"


def test_raid_rules_keep_the_presets_numbers_unless_the_server_changed_them():
    config = default_server_config()
    strict = config.model_copy(update={"raid": RaidConfig(preset="strict")})
    assert raid_rules(strict).join_threshold == 5  # RaidConfig's default 10 is not forced on it
    assert spam_rules(strict) == SpamRules.preset("strict")
    changed = config.model_copy(
        update={"raid": RaidConfig(preset="strict", join_threshold=20, new_account_hours=48)}
    )
    rules = raid_rules(changed)
    assert (rules.join_threshold, rules.new_account_hours) == (20, 48)
    assert rules.window_seconds == RaidRules.from_preset("strict").window_seconds


async def test_spam_detection_can_be_turned_off(temporal_env, session_factory, task_queue):
    config = default_server_config().model_dump(mode="json")
    config["spam"]["enabled"] = False
    async with (
        DiscordSimulator() as sim,
        running_bot(sim, temporal_env.client, task_queue, session_factory, config=config),
    ):
        posted = [await sim.post_message("general", "carol", FLOOD) for _ in range(15)]
        await asyncio.sleep(1.0)
        ids = [m.id for m in posted]
        assert len(remaining(sim, "general", ids)) == len(ids)
