"""Automod rule kinds through the real gateway and the simulator: what is deleted, what is
reported to the member's workflow (decoded from Temporal's history), which REST calls the
actions make, conditions, and /automod test. No worker runs: reports wait in Temporal."""

import asyncio
from datetime import timedelta

import pytest
from support import eventually, running_bot
from temporalio.service import RPCError, RPCStatusCode

from dcs.server_config import default_server_config
from domain.cases import Violation
from simulator import DiscordSimulator
from workflows.moderation import moderation_workflow_id


def deleted(sim, message_id):
    return any(r.path.endswith(f"/messages/{message_id}") for r in sim.requests("DELETE"))


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


def automod_config(sim):
    world = sim.world
    config = default_server_config().model_dump(mode="json")
    config["mod_log_channel_id"] = world.channel("mod-log")
    config["automod"]["rules"] = [
        {
            "kind": "regex",
            "name": "shorteners",
            "patterns": [r"bit\.ly/\w+", r"tinyurl\.com/\w+"],
            "actions": ["delete", "warn"],
            "strike_weight": 2,
            "conditions": {"ignore_roles": [world.role("Moderator")]},
        },
        {"kind": "invites", "allowed_codes": ["partner1"]},
        {
            "kind": "mass_mentions",
            "max_mentions": 3,
            "actions": ["delete", {"type": "timeout", "duration_minutes": 15}],
            "strike_weight": 4,
        },
        {
            "kind": "caps",
            "name": "newcomer-caps",
            "conditions": {"min_account_age_days": 30},
            "actions": [
                {"type": "slowmode", "seconds": 30},
                {"type": "add_role", "role_id": world.role("Muted")},
                "alert",
            ],
            "strike_weight": 0,
        },
    ]
    return config


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim:
        async with running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=automod_config(sim)
        ) as bot:
            yield sim, bot, temporal_env.client


async def test_regex_rule_deletes_and_reports_a_warn_with_its_weight(running):
    sim, bot, temporal = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    bad = await sim.post_message("general", "bob", "cheap skins at bit.ly/freeskins")
    await eventually(lambda: deleted(sim, bad.id))
    [report] = await eventually(lambda: reports(temporal, guild, bob))
    assert (report.action, report.points, report.explicit) == ("warn", 2, True)
    assert report.rule == "shorteners"
    assert report.reason == r"Matched pattern (bit\.ly/\w+)"
    assert report.excerpt == "bit.ly/freeskins"
    assert report.source_key == f"automod:{bad.id}"
    assert report.mod_log_channel_id == sim.world.channel("mod-log")

    # the rule's condition: moderators may post short links
    allowed = await sim.post_message("general", "moderator", "rules summary: bit.ly/rules")
    await eventually(lambda: bot.handled >= 2)
    await asyncio.sleep(0.2)
    assert not deleted(sim, allowed.id)


async def test_foreign_invites_go_but_allowed_and_own_invites_stay(running):
    sim, bot, temporal = running
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    [own] = list(sim.world.guilds[guild].invites)
    await eventually(lambda: bot.invites.tracks(guild))
    foreign = await sim.post_message("general", "alice", "join us: https://discord.gg/evil123")
    partner = await sim.post_message("general", "alice", "our partner discord.gg/partner1")
    ours = await sim.post_message("general", "alice", f"invite friends: discord.gg/{own}")
    await eventually(lambda: deleted(sim, foreign.id))
    await eventually(lambda: bot.handled >= 3)
    await asyncio.sleep(0.2)
    assert not deleted(sim, partner.id)
    assert not deleted(sim, ours.id)
    [report] = await eventually(lambda: reports(temporal, guild, alice))
    assert (report.action, report.points, report.rule) == ("delete", 1, "invites")
    assert report.reason == "Invite link (evil123)"


async def test_mass_mentions_delete_and_report_a_timeout_with_weight(running):
    sim, _bot, temporal = running
    world = sim.world
    guild, carol = world.guild_id, world.member("carol")
    pings = " ".join(f"<@{world.member(n)}>" for n in ("alice", "bob", "owner", "moderator"))
    spam = await sim.post_message("general", "carol", f"look at this {pings}")
    await eventually(lambda: deleted(sim, spam.id))
    [report] = await eventually(lambda: reports(temporal, guild, carol))
    assert (report.action, report.duration_minutes, report.points) == ("timeout", 15, 4)
    assert report.explicit and report.reason == "Mass mentions (4 mentions)"


async def test_account_age_condition_and_slowmode_role_and_alert_actions(running):
    sim, bot, temporal = running
    world = sim.world
    guild, general = world.guild_id, world.channel("general")
    shout = "WHY DOES NOBODY ANSWER MY QUESTIONS HERE"
    old_timer = await sim.post_message("general", "alice", shout)  # a 2-year-old account
    newbie = await sim.member_join("newbie", account_age=timedelta(days=2))
    fresh = await sim.post_message("general", "newbie", shout)

    slowmode = await eventually(
        lambda: [
            r
            for r in sim.requests("PATCH")
            if r.path.endswith(f"/channels/{general}") and r.json.get("rate_limit_per_user")
        ]
    )
    assert slowmode[0].json["rate_limit_per_user"] == 30
    muted = world.role("Muted")
    await eventually(lambda: muted in world.guilds[guild].members[newbie.user_id].roles)
    role_calls = [r for r in sim.requests("PUT") if r.path.endswith(f"/roles/{muted}")]
    assert len(role_calls) == 1
    alert = await eventually(lambda: [m for m in sim.messages("mod-log") if m.embeds])
    embed = alert[0].embeds[0]
    assert embed["title"] == "Automod alert"
    assert "Excessive caps" in embed["description"]

    # no delete action and weight 0: the message stays, nothing is reported
    assert not deleted(sim, fresh.id)
    assert await reports(temporal, guild, newbie.user_id) == []
    # the old account is not judged by this rule at all
    assert not deleted(sim, old_timer.id)
    assert await reports(temporal, guild, world.member("alice")) == []
    assert bot.handled >= 2


async def test_automod_test_command_judges_without_acting(running):
    sim, _bot, _temporal = running
    before = len(sim.requests("DELETE"))
    record = await sim.invoke_slash_command(
        "automod test", "owner", options={"text": "free skins bit.ly/x1 and discord.gg/evil9"}
    )
    await record.wait_response()

    def answered():
        original = record.describe(sim.world)["original_message"]
        return original if original and original["content"] else None

    message = await eventually(answered, timeout=20)
    content = message["content"]
    assert content.startswith("**warn**")
    assert "`shorteners` (regex)" in content
    assert "`invites` (invites): evil9" in content
    assert "offensive-language score" in content
    assert message["flags"] & 64  # ephemeral
    assert len(sim.requests("DELETE")) == before

    denied = await sim.invoke_slash_command("automod test", "alice", options={"text": "hi"})
    assert "Manage Server" in str(await denied.wait_response())


async def test_a_newer_stored_scam_list_is_used_without_a_restart(
    temporal_env, session_factory, task_queue
):
    """The feed workflow stores a snapshot; the gateway's next refresh recompiles with it."""
    from storage.scam_domains import save_if_changed

    config = default_server_config().model_dump(mode="json")
    assert any(r["kind"] == "scam_links" for r in config["automod"]["rules"])  # on by default
    text = "prices at https://quiet-garden-supplies.com/sale today"
    async with (
        DiscordSimulator() as sim,
        running_bot(sim, temporal_env.client, task_queue, session_factory, config=config) as bot,
    ):
        before = await sim.post_message("general", "alice", text)
        await asyncio.sleep(0.5)
        assert not deleted(sim, before.id)  # on no list, and nothing about it looks like a scam
        async with session_factory() as session, session.begin():
            await save_if_changed(
                session,
                source="https://feed.example/list.json",
                domains=["quiet-garden-supplies.com"],
            )
        assert await bot.rules.refresh() == [sim.world.guild_id]
        after = await sim.post_message("general", "alice", text)
        await eventually(lambda: deleted(sim, after.id))
