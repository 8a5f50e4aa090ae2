"""The moderator's tools end to end with the real moderation workflow and its activities:
slash command -> workflow -> case in the database; a ban that waits for approval decided with
the mod-log button; a ban made by hand in Discord recorded as a manual case."""

import pytest
from support import eventually, running_bot

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.temporal import build_worker
from simulator import DiscordSimulator
from storage.cases import list_cases


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim:
        config = default_server_config().model_dump(mode="json")
        config["mod_log_channel_id"] = sim.world.channel("mod-log")
        http = DiscordHttp(sim.api_base, "sandbox-token")
        try:
            async with (
                build_worker(temporal_env.client, task_queue, session_factory, http),
                running_bot(
                    sim, temporal_env.client, task_queue, session_factory, config=config
                ) as bot,
            ):
                yield sim, bot
        finally:
            await http.aclose()


def reply_text(sim, record) -> str:
    view = record.describe(sim.world)
    parts = [str(r["data"]) for r in view["responses"]]
    if view["original_message"]:
        parts.append(view["original_message"]["content"])
    parts += [m["content"] for m in view["followups"]]
    return " | ".join(parts)


async def cases_of(sessions, guild, **filters):
    async with sessions() as session:
        return await list_cases(session, guild, **filters)


async def test_warn_becomes_a_numbered_case_named_in_the_reply(running, session_factory):
    sim, _ = running
    record = await sim.invoke_slash_command(
        "warn", "moderator", options={"member": "alice", "reason": "be kind"}
    )
    text = await eventually(lambda: "Case #" in (t := reply_text(sim, record)) and t)
    (case,) = await eventually(lambda: cases_of(session_factory, sim.world.guild_id))
    assert f"Case #{case.case_number}: warning of" in text
    assert (case.action, case.source, case.reason) == ("warn", "command", "be kind")
    assert case.moderator_id == sim.world.member("moderator")
    assert case.user_id == sim.world.member("alice")


async def test_a_ban_waits_for_approval_and_the_mod_log_button_decides_it(running, session_factory):
    sim, _ = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    record = await sim.invoke_slash_command(
        "ban", "moderator", options={"user": "bob", "reason": "raid"}
    )
    await eventually(lambda: "waiting for approval" in reply_text(sim, record))
    request = await eventually(
        lambda: [
            m for m in sim.messages("mod-log") if any("approval:" in str(c) for c in m.components)
        ]
    )
    custom_ids = [
        b["custom_id"] for row in request[-1].components for b in row.get("components", [])
    ]
    approve = next(c for c in custom_ids if c.endswith(":approve"))
    refused = await sim.click_button(approve, "alice", request[-1].id)
    await eventually(lambda: "Only approvers" in reply_text(sim, refused))
    assert bob in sim.world.guilds[guild].members
    clicked = await sim.click_button(approve, "moderator", request[-1].id)
    await eventually(lambda: "Approved: ban of" in reply_text(sim, clicked))
    await eventually(lambda: bob in sim.world.guilds[guild].bans)


async def test_a_ban_by_hand_in_discord_is_recorded_as_a_manual_case(running, session_factory):
    sim, _ = running
    guild = sim.world.guilds[sim.world.guild_id]
    mod, carol = sim.world.member("moderator"), sim.world.member("carol")
    sim.engine.ban(guild, carol, actor_id=mod, reason="posting gore")
    (case,) = await eventually(lambda: cases_of(session_factory, guild.id, source="manual"))
    assert (case.action, case.user_id, case.moderator_id, case.reason) == (
        "ban",
        carol,
        mod,
        "posting gore",
    )
    # the suite did not ban again: one ban in Discord's audit log, by the moderator
    bans = [e for e in guild.audit_log if e.action_type == 22 and e.target_id == carol]
    assert [e.user_id for e in bans] == [mod]
