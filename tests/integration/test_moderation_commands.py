"""Moderator commands, approval buttons, appeals, manual actions and rejoins through the
simulator with real discord.py, the database and a real Temporal dev server. The member's
workflow is a stand-in (tests/fake_moderation.py) that remembers what it was signalled."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fake_moderation import fake_moderation_worker, seen_by
from sqlalchemy import select
from support import eventually, running_bot

import gateway.commands.moderation as moderation_commands
from dcs.server_config import default_server_config
from simulator import DiscordSimulator
from simulator.permissions import Perm
from storage.cases import list_cases, record_case
from storage.models import Appeal, PendingApproval
from storage.servers import put_server_config
from workflows.moderation import moderation_workflow_id


@pytest.fixture(autouse=True)
def _short_case_wait(monkeypatch):
    """The stand-in never records a case; don't wait the full time for one."""
    monkeypatch.setattr(moderation_commands, "CASE_WAIT_SECONDS", 0.2)


@pytest.fixture
async def running(temporal_env, session_factory, task_queue):
    async with DiscordSimulator() as sim:
        config = default_server_config().model_dump(mode="json")
        config["mod_log_channel_id"] = sim.world.channel("mod-log")
        config["spam"]["enabled"] = False  # the purge tests post floods on purpose
        async with (
            fake_moderation_worker(temporal_env.client, task_queue),
            running_bot(
                sim, temporal_env.client, task_queue, session_factory, config=config
            ) as bot,
        ):
            yield sim, bot


def reply_text(sim, record) -> str:
    """Everything the bot answered to an interaction: responses, original message, follow-ups."""
    view = record.describe(sim.world)
    parts = [str(r["data"]) for r in view["responses"]]
    if view["original_message"]:
        parts.append(view["original_message"]["content"])
    parts += [m["content"] for m in view["followups"]]
    return " | ".join(parts)


async def answered(sim, record, needle: str) -> str:
    return await eventually(lambda: (t := reply_text(sim, record)) and needle in t and t)


def wf(sim, username: str) -> str:
    return moderation_workflow_id(sim.world.guild_id, sim.world.member(username))


async def test_ban_of_a_member_below_reaches_the_workflow_as_an_explicit_command(
    running, temporal_env
):
    sim, _ = running
    record = await sim.invoke_slash_command(
        "ban", "moderator", options={"user": "bob", "reason": "raiding", "minutes": 60}
    )
    text = await answered(sim, record, "waiting for approval")  # bans are sensitive by default
    assert "Ban of <@" in text and "for 1 hour" in text
    seen = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "bob")))
    (violation,) = seen.reports
    assert (violation.action, violation.source, violation.explicit) == ("ban", "command", True)
    assert violation.moderator_id == sim.world.member("moderator")
    assert violation.duration_minutes == 60 and violation.reason == "raiding"
    assert violation.mod_log_channel_id == sim.world.channel("mod-log")
    assert violation.source_key == f"command:{record.id}"


async def test_warn_and_mute_carry_their_points_and_duration(running, temporal_env):
    sim, _ = running
    warned = await sim.invoke_slash_command(
        "warn", "moderator", options={"member": "alice", "reason": "be nice"}
    )
    await answered(sim, warned, "is being applied")
    muted = await sim.invoke_slash_command(
        "mute", "moderator", options={"member": "alice", "minutes": 30, "reason": "cool off"}
    )
    await answered(sim, muted, "for 30 minutes")
    seen = await eventually(lambda: _reports_at_least(temporal_env.client, wf(sim, "alice"), 2))
    assert [(v.action, v.points, v.duration_minutes) for v in seen.reports] == [
        ("warn", 1, None),
        ("timeout", 1, 30),
    ]


async def _reports_at_least(client, workflow_id, n):
    seen = await seen_by(client, workflow_id)
    return seen if seen is not None and len(seen.reports) >= n else None


async def test_nobody_acts_on_the_owner_and_nothing_is_signalled(running, temporal_env):
    sim, _ = running
    record = await sim.invoke_slash_command(
        "ban", "moderator", options={"user": "owner", "reason": "coup"}
    )
    assert "You can't act on the server owner." in await answered(sim, record, "owner")
    self_kick = await sim.invoke_slash_command(
        "kick", "moderator", options={"member": "moderator", "reason": "x"}
    )
    assert "You can't moderate yourself." in await answered(sim, self_kick, "yourself")
    assert await seen_by(temporal_env.client, wf(sim, "owner")) is None
    assert await seen_by(temporal_env.client, wf(sim, "moderator")) is None


async def test_a_member_without_the_permission_is_refused(running, temporal_env):
    sim, _ = running
    record = await sim.invoke_slash_command(
        "warn", "alice", options={"member": "bob", "reason": "I don't like him"}
    )
    assert "Timeout Members permission" in await answered(sim, record, "permission")
    assert await seen_by(temporal_env.client, wf(sim, "bob")) is None


async def test_unban_signals_a_lift_only_for_a_banned_user(running, temporal_env):
    sim, _ = running
    guild = sim.world.guilds[sim.world.guild_id]
    not_banned = await sim.invoke_slash_command(
        "unban", "moderator", options={"user": "carol", "reason": "fine"}
    )
    await answered(sim, not_banned, "is not banned here")
    sim.engine.ban(guild, sim.world.member("carol"), actor_id=sim.world.bot_id, reason="t")
    record = await sim.invoke_slash_command(
        "unban", "moderator", options={"user": "carol", "reason": "served her time"}
    )
    await answered(sim, record, "Unban of")
    seen = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "carol")))
    (lift,) = seen.lifts
    assert (lift.sanction, lift.reason) == ("ban", "served her time")
    assert lift.moderator_id == sim.world.member("moderator")


async def test_note_case_and_cases_read_the_record(running, session_factory, temporal_env):
    sim, _ = running
    noted = await sim.invoke_slash_command(
        "note", "moderator", options={"member": "bob", "text": "asked about rules"}
    )
    await answered(sim, noted, "recorded")
    seen = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "bob")))
    assert [(v.action, v.already_applied, v.points) for v in seen.reports] == [("note", True, 0)]
    # the stand-in records nothing: put a case on record as the real workflow would
    async with session_factory() as session, session.begin():
        stored = await record_case(
            session,
            guild_id=sim.world.guild_id,
            user_id=sim.world.member("bob"),
            moderator_id=sim.world.member("moderator"),
            action="warn",
            reason="spamming links",
            source="command",
            source_key="t:1",
            created_at=datetime.now(UTC),
        )
    one = await sim.invoke_slash_command(
        "case", "moderator", options={"number": stored.case_number}
    )
    text = await answered(sim, one, f"Case #{stored.case_number}")
    assert "spamming links" in text
    missing = await sim.invoke_slash_command("case", "moderator", options={"number": 999})
    await answered(sim, missing, "There is no case #999")
    history = await sim.invoke_slash_command("cases", "moderator", options={"member": "bob"})
    assert "spamming links" in await answered(sim, history, f"#{stored.case_number}")
    clean = await sim.invoke_slash_command("cases", "moderator", options={"member": "carol"})
    await answered(sim, clean, "has no cases here")


async def test_purge_deletes_messages_and_records_one_case(running, session_factory):
    sim, _ = running
    for i in range(4):
        await sim.post_message("general", "alice", f"alice {i}")
        await sim.post_message("general", "bob", f"bob {i}")
    record = await sim.invoke_slash_command(
        "purge", "moderator", "general", options={"count": 3, "member": "bob"}
    )
    await answered(sim, record, "deleted 3 messages")
    contents = [m.content for m in sim.messages("general")]
    assert [c for c in contents if c.startswith("bob")] == ["bob 0"]
    assert len([c for c in contents if c.startswith("alice")]) == 4
    async with session_factory() as session:
        (case,) = await list_cases(session, sim.world.guild_id, action="purge")
    assert case.user_id == sim.world.member("bob")
    assert case.evidence is not None and case.evidence["deleted"] == 3
    await eventually(
        lambda: [m for m in sim.messages("mod-log") if f"Case #{case.case_number}" in m.content]
    )


async def test_a_big_purge_is_a_mass_delete_for_approvers_only(running):
    sim, _ = running
    guild = sim.world.guilds[sim.world.guild_id]
    # members get Manage Messages, so alice may purge, but she is no approver
    guild.roles[sim.world.role("Member")].permissions = int(Perm.MANAGE_MESSAGES)
    for i in range(25):
        await sim.post_message("general", "carol", f"flood {i}")
    record = await sim.invoke_slash_command("purge", "alice", "general", options={"count": 25})
    assert "mass delete" in await answered(sim, record, "mass delete")
    small = await sim.invoke_slash_command("purge", "alice", "general", options={"count": 5})
    await answered(sim, small, "deleted 5 messages")
    # the moderator may decide approvals (ban/timeout permission), so may purge the rest
    big = await sim.invoke_slash_command("purge", "moderator", "general", options={"count": 25})
    await answered(sim, big, "deleted 20 messages")
    assert not [m for m in sim.messages("general") if m.content.startswith("flood")]


async def _pending(sessions, guild_id, user_id, *, action="ban") -> str:
    approval_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        session.add(
            PendingApproval(
                id=approval_id,
                guild_id=guild_id,
                workflow_id=moderation_workflow_id(guild_id, user_id),
                action=action,
                target_user_id=user_id,
                reason="raid",
                requested_by="command:1",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    return approval_id


async def _status(sessions, approval_id):
    async with sessions() as session:
        return await session.scalar(
            select(PendingApproval).where(PendingApproval.id == approval_id)
        )


async def test_approval_buttons_only_for_approvers_and_only_once(
    running, session_factory, temporal_env
):
    sim, _ = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    warned = await sim.invoke_slash_command(
        "warn", "moderator", options={"member": "bob", "reason": "start the workflow"}
    )
    await answered(sim, warned, "is being applied")
    approval_id = await _pending(session_factory, guild, bob)
    request = await sim.post_message("mod-log", "moderator", "approval request")

    refused = await sim.click_button(f"approval:{approval_id}:approve", "alice", request.id)
    assert "Only approvers can decide this" in await answered(sim, refused, "approvers")
    assert (await _status(session_factory, approval_id)).status == "pending"

    approved = await sim.click_button(f"approval:{approval_id}:approve", "moderator", request.id)
    await answered(sim, approved, "Approved: ban of")
    row = await _status(session_factory, approval_id)
    assert (row.status, row.decided_by, row.decision_channel) == (
        "approved",
        f"discord:{sim.world.member('moderator')}",
        "discord",
    )
    seen = await eventually(
        lambda: _decisions(temporal_env.client, moderation_workflow_id(guild, bob))
    )
    assert [(d.approval_id, d.decision) for d in seen] == [(approval_id, "approve")]

    again = await sim.click_button(f"approval:{approval_id}:reject", "owner", request.id)
    text = await answered(sim, again, "already approved")
    assert "nothing changed" in text


async def _decisions(client, workflow_id):
    seen = await seen_by(client, workflow_id)
    return seen.decisions if seen is not None and seen.decisions else None


async def test_modify_offers_milder_actions_and_submits_the_choice(
    running, session_factory, temporal_env
):
    sim, _ = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    warned = await sim.invoke_slash_command(
        "warn", "moderator", options={"member": "bob", "reason": "start the workflow"}
    )
    await answered(sim, warned, "is being applied")
    approval_id = await _pending(session_factory, guild, bob, action="kick")
    request = await sim.post_message("mod-log", "moderator", "approval request")
    offered = await sim.click_button(f"approval:{approval_id}:modify", "moderator", request.id)
    response = await offered.wait_response()
    select_menu = response.data["components"][0]["components"][0]
    assert select_menu["custom_id"] == f"approval-modify:{approval_id}"
    values = [o["value"] for o in select_menu["options"]]
    assert values == ["warn", "timeout:10", "timeout:60", "timeout:1440", "timeout:10080"]

    chosen = await sim.click_component(
        f"approval-modify:{approval_id}",
        "moderator",
        request.id,
        component_type=3,
        values=["timeout:60"],
    )
    await answered(sim, chosen, "Modified: timeout of")
    row = await _status(session_factory, approval_id)
    assert (row.status, row.final_action, row.decision_channel) == (
        "modified",
        "timeout",
        "discord",
    )
    seen = await eventually(
        lambda: _decisions(temporal_env.client, moderation_workflow_id(guild, bob))
    )
    assert [(d.decision, d.action, d.duration_minutes) for d in seen] == [("modify", "timeout", 60)]


async def test_approve_and_reject_commands_respect_configured_approver_roles(
    running, session_factory, temporal_env
):
    sim, bot = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    warned = await sim.invoke_slash_command(
        "warn", "moderator", options={"member": "bob", "reason": "start the workflow"}
    )
    await answered(sim, warned, "is being applied")
    first = await _pending(session_factory, guild, bob)
    rejected = await sim.invoke_slash_command("reject", "moderator", options={"approval_id": first})
    await answered(sim, rejected, "Rejected: no ban for")
    assert (await _status(session_factory, first)).decision_channel == "command"
    unknown = await sim.invoke_slash_command(
        "approve", "moderator", options={"approval_id": "nope"}
    )
    await answered(sim, unknown, "No approval nope")

    # once approver roles are configured, the moderator (without the role) may no longer decide
    config = bot.guild_config(guild).model_dump(mode="json")
    config["approvals"]["approver_role_ids"] = [sim.world.role("Muted")]
    async with session_factory() as session, session.begin():
        await put_server_config(session, guild, config, expected_version=None, changed_by="t")
    await bot.rules.refresh()
    assert bot.guild_config(guild).approvals.approver_role_ids == [sim.world.role("Muted")]
    second = await _pending(session_factory, guild, bob)
    refused = await sim.invoke_slash_command(
        "approve", "moderator", options={"approval_id": second}
    )
    assert "<@&" in await answered(sim, refused, "Only approvers")
    assert (await _status(session_factory, second)).status == "pending"


async def test_appeal_from_a_dm_button_opens_a_form_and_signals_once(
    running, session_factory, temporal_env
):
    sim, _ = running
    guild, bob = sim.world.guild_id, sim.world.member("bob")
    dm = sim.world.dm_channel(bob)
    notice = sim.engine.create_message(dm, sim.world.bot_id, content="You were banned")
    clicked = await sim.click_button(f"appeal:{guild}:ban", "bob", notice.id)
    response = await clicked.wait_response()
    assert response.type == 9  # a modal
    assert response.data["custom_id"] == f"appeal-form:{guild}:ban"

    form = f"appeal-form:{guild}:ban"
    sent = await sim.submit_modal(form, "bob", dm.id, {"text": "It was my brother, sorry."})
    await answered(sim, sent, "was sent to the moderators")
    seen = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "bob")))
    (appeal,) = seen.appeals
    assert (appeal.sanction, appeal.text, appeal.user_id) == (
        "ban",
        "It was my brother, sorry.",
        bob,
    )
    async with session_factory() as session:
        row = await session.get(Appeal, appeal.appeal_id)
    assert row is not None and row.status == "pending"

    twice = await sim.submit_modal(form, "bob", dm.id, {"text": "Please, really."})
    await answered(sim, twice, "already have an appeal")
    seen = await seen_by(temporal_env.client, wf(sim, "bob"))
    assert seen is not None and len(seen.appeals) == 1


async def test_manual_ban_kick_and_timeout_become_manual_cases_but_the_bots_own_do_not(
    running, temporal_env
):
    sim, bot = running
    guild = sim.world.guilds[sim.world.guild_id]
    mod = sim.world.member("moderator")
    sim.engine.ban(guild, sim.world.member("bob"), actor_id=mod, reason="spamming invites")
    sim.engine.kick(guild, sim.world.member("carol"), actor_id=mod, reason=None)
    alice = guild.members[sim.world.member("alice")]
    until = datetime.now(UTC) + timedelta(minutes=10)
    sim.engine.update_member(guild, alice, actor_id=mod, reason="cool down", timeout_until=until)
    sim.engine.ban(guild, sim.world.member("alice"), actor_id=sim.world.bot_id, reason="suite")

    bob = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "bob")))
    (ban,) = bob.reports
    assert (ban.action, ban.source, ban.already_applied, ban.moderator_id) == (
        "ban",
        "manual",
        True,
        mod,
    )
    assert ban.reason == "spamming invites" and ban.source_key.startswith("audit:")
    carol = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "carol")))
    assert [(v.action, v.reason) for v in carol.reports] == [
        ("kick", "kick made by hand in Discord")
    ]
    alice_seen = await eventually(lambda: seen_by(temporal_env.client, wf(sim, "alice")))
    (timeout,) = alice_seen.reports
    assert timeout.action == "timeout" and timeout.duration_minutes in (10, 11)
    # the suite's own ban of alice (audit user = the bot) is not reported again
    await sim.post_message("general", "moderator", "after the bans")  # an event to wait on
    await eventually(lambda: bot.handled >= 1)
    alice_after = await seen_by(temporal_env.client, wf(sim, "alice"))
    assert alice_after is not None and len(alice_after.reports) == 1


async def test_a_rejoin_is_signalled_only_to_a_running_workflow(running, temporal_env):
    sim, _ = running
    guild = sim.world.guilds[sim.world.guild_id]
    mod = sim.world.member("moderator")
    sim.engine.kick(guild, sim.world.member("carol"), actor_id=mod, reason="cool off")
    await eventually(lambda: seen_by(temporal_env.client, wf(sim, "carol")))
    await sim.member_join("carol")
    seen = await eventually(lambda: _rejoined(temporal_env.client, wf(sim, "carol")))
    assert seen[0].user_id == sim.world.member("carol")
    # someone with no workflow joins: nothing is started for them
    await sim.member_leave("alice")
    await sim.member_join("alice")
    await sim.post_message("general", "bob", "hello")  # something after the join to wait on
    assert await seen_by(temporal_env.client, wf(sim, "alice")) is None


async def _rejoined(client, workflow_id):
    seen = await seen_by(client, workflow_id)
    return seen.rejoins if seen is not None and seen.rejoins else None
