"""Sensitive actions wait for a person: approve, reject, modify, time out (with fallback and the
one-hour alert), and appeals through the same path. Own time-skipping server, both databases."""

from datetime import UTC, datetime, timedelta

from moderation_harness import (
    Helpers,
    approvals_of,
    cases_of,
    configure,
    index_of,
    offence,
    running,
    settled,
)
from sqlalchemy import select, update
from support import eventually

from approvals.decisions import submit_decision
from domain.approvals import ApprovalDecision
from domain.cases import AppealRequest
from storage.models import Appeal, PendingApproval
from workflows.moderation import ModerationWorkflow

MEMBER = "/guilds/{guild_id}/members/{user_id}"
BAN = "/guilds/{guild_id}/bans/{user_id}"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"
APPROVALS = {"sensitive_actions": ["kick", "ban"], "timeout_minutes": 180}


def explicit_ban(sim, key="cmd:ban", **kw):
    return offence(
        sim,
        key,
        source="command",
        action="ban",
        explicit=True,
        moderator_id=sim.world.owner_id,
        reason="raiding",
        points=0,
        **kw,
    )


async def pending_row(sessions, handle, n=1):
    rows = await approvals_of(sessions, handle.id)
    return rows[n - 1] if len(rows) >= n and rows[n - 1].discord_message_id else None


async def decide(sessions, client, approval_id, decision, **kw):
    return await submit_decision(
        sessions,
        client,
        ApprovalDecision(approval_id, decision, "discord:42", "discord", **kw),
    )


async def test_a_ban_waits_for_approval_and_is_executed_after_it(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim, approvals=APPROVALS)
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        row = await eventually(lambda: pending_row(session_factory, handle))
        standing = await handle.query(ModerationWorkflow.standing)
        assert not sim.requests("PUT", BAN)  # nothing happens before a person decides
        assert [a.approval_id for a in standing.pending_approvals] == [row.id]
        # a report meanwhile is still recorded
        await handle.signal(ModerationWorkflow.report, offence(sim, "meanwhile"))
        await eventually(lambda: settled(handle, 2))
        assert not sim.requests("PUT", BAN)

        await decide(session_factory, env.client, row.id, "approve")
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        await eventually(lambda: sim.requests("PATCH", MESSAGE, status=200))
        await eventually(lambda: helpers.outcomes)
        standing = await eventually(lambda: settled(handle, 3))

    # the approval message: buttons with the agreed custom ids, then edited to the outcome
    post = next(
        r
        for r in sim.requests("POST", "/channels/{channel_id}/messages")
        if r.json.get("components") and r.path.endswith(f"/{row.discord_channel_id}/messages")
    )
    ids = [b["custom_id"] for b in post.json["components"][0]["components"]]
    assert ids == [f"approval:{row.id}:{c}" for c in ("approve", "reject", "modify")]
    [edit] = sim.requests("PATCH", MESSAGE, status=200)
    assert edit.json["components"] == []
    assert "approved by discord:42" in edit.json["embeds"][0]["description"]
    [request] = helpers.sent
    assert (request.action, request.approval_id) == ("ban", row.id)
    [outcome] = helpers.outcomes
    assert (outcome.status, outcome.final_action, outcome.telegram_message_id) == (
        "approved",
        "ban",
        7001,
    )
    # DM before the ban
    dm = index_of(sim, "POST", "/users/@me/channels")
    [ban_at] = index_of(sim, "PUT", BAN)
    assert dm and dm[-1] < ban_at
    cases = await cases_of(session_factory, sim.world.guild_id)
    assert [(c.action, c.source) for c in cases] == [
        ("ban", "command"),
        ("delete", "automod"),
        ("ban", "approval"),
    ]
    assert standing.banned and not standing.pending_approvals
    [row] = await approvals_of(session_factory, handle.id)
    assert (row.status, row.final_action, row.telegram_message_id) == ("approved", "ban", 7001)


async def test_reject_bans_nobody(env, session_factory, sim, task_queue, started):
    await configure(session_factory, sim, approvals=APPROVALS)
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        row = await eventually(lambda: pending_row(session_factory, handle))
        await decide(session_factory, env.client, row.id, "reject")
        await eventually(lambda: helpers.outcomes)
        standing = await eventually(lambda: settled(handle, 1))
    assert not sim.requests("PUT", BAN)
    assert not standing.banned and not standing.pending_approvals
    assert [c.source for c in await cases_of(session_factory, sim.world.guild_id)] == ["command"]
    assert helpers.outcomes[0].status == "rejected"


async def test_modify_times_out_instead(env, session_factory, sim, task_queue, started):
    await configure(session_factory, sim, approvals=APPROVALS)
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        row = await eventually(lambda: pending_row(session_factory, handle))
        await decide(
            session_factory, env.client, row.id, "modify", action="timeout", duration_minutes=45
        )
        [patch] = await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
        standing = await eventually(lambda: settled(handle, 2))
    assert not sim.requests("PUT", BAN)
    until = datetime.fromisoformat(patch.json["communication_disabled_until"])
    assert timedelta(minutes=40) < until - datetime.now(UTC) <= timedelta(minutes=45)
    cases = await cases_of(session_factory, sim.world.guild_id)
    assert (cases[-1].action, cases[-1].source, cases[-1].duration_seconds) == (
        "timeout",
        "approval",
        45 * 60,
    )
    assert standing.timeout_until is not None and not standing.banned


async def test_a_ladder_kick_waits_alerts_after_an_hour_and_falls_back_on_timeout(
    env, session_factory, sim, task_queue, started
):
    await configure(
        session_factory,
        sim,
        escalation={"steps": [{"points": 1, "action": "kick"}]},
        approvals={
            **APPROVALS,
            "timeout_policy": "fallback",
            "fallback_action": "timeout",
            "fallback_duration_minutes": 30,
        },
    )
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, offence(sim, "k1"))
        row = await eventually(lambda: pending_row(session_factory, handle))
        assert row.action == "kick"
        await env.sleep(timedelta(minutes=61))
        await eventually(lambda: helpers.alerts)
        alerts = await eventually(
            lambda: [
                r
                for r in sim.requests("POST", "/channels/{channel_id}/messages")
                if "Approval pending" in (r.json.get("content") or "")
            ]
        )
        [row] = await approvals_of(session_factory, handle.id)
        assert row.alerted_at is not None and row.status == "pending"
        await env.sleep(timedelta(minutes=120))
        await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
        await eventually(lambda: helpers.outcomes)
        await eventually(lambda: settled(handle, 2))
    assert len(helpers.alerts) == 1 and len(alerts) == 1
    assert not sim.requests("DELETE", MEMBER)  # never kicked
    [row] = await approvals_of(session_factory, handle.id)
    assert (row.status, row.final_action) == ("expired", "timeout")
    assert helpers.outcomes[0].status == "expired"
    cases = await cases_of(session_factory, sim.world.guild_id)
    assert (cases[-1].action, cases[-1].source, cases[-1].duration_seconds) == (
        "timeout",
        "approval",
        1800,
    )


async def test_with_the_reject_policy_an_unanswered_ban_does_nothing(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim, approvals={**APPROVALS, "timeout_minutes": 30})
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        await eventually(lambda: pending_row(session_factory, handle))
        await env.sleep(timedelta(minutes=31))
        await eventually(lambda: helpers.outcomes)
        standing = await eventually(lambda: settled(handle, 1))
    assert not sim.requests("PUT", BAN) and not helpers.alerts  # expired before the alert
    [row] = await approvals_of(session_factory, handle.id)
    assert row.status == "expired" and row.final_action is None
    assert not standing.pending_approvals


async def test_a_granted_appeal_lifts_the_ban(env, session_factory, sim, task_queue, started):
    await configure(session_factory, sim)  # bans need no approval here
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        appeal = AppealRequest(guild, alice, "appeal-1", "ban", "I am sorry", datetime.now(UTC))
        await handle.signal(ModerationWorkflow.appeal, appeal)
        row = await eventually(lambda: pending_row(session_factory, handle))
        assert row.action == "unban"
        post = next(
            r
            for r in sim.requests("POST", "/channels/{channel_id}/messages")
            if r.json.get("components") and "appeal" not in str(r.json["components"])
        )
        choices = [
            b["custom_id"].rsplit(":", 1)[1] for b in post.json["components"][0]["components"]
        ]
        assert choices == ["approve", "reject"]  # no Modify for an appeal
        await decide(session_factory, env.client, row.id, "approve")
        await eventually(lambda: sim.requests("DELETE", BAN, status=204))
        standing = await eventually(lambda: settled(handle, 2))
        async with session_factory() as session:
            stored = await session.scalar(select(Appeal).where(Appeal.id == "appeal-1"))
    assert alice not in sim.world.guilds[guild].bans
    assert not standing.banned
    assert (stored.status, stored.approval_id) == ("granted", row.id)
    cases = await cases_of(session_factory, guild)
    assert (cases[-1].action, cases[-1].source) == ("unban", "appeal")


async def test_a_denied_appeal_keeps_the_ban(env, session_factory, sim, task_queue, started):
    await configure(session_factory, sim)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        appeal = AppealRequest(guild, alice, "appeal-2", "ban", "let me back", datetime.now(UTC))
        await handle.signal(ModerationWorkflow.appeal, appeal)
        row = await eventually(lambda: pending_row(session_factory, handle))
        await decide(session_factory, env.client, row.id, "reject")

        async def denied():
            async with session_factory() as session:
                stored = await session.get(Appeal, "appeal-2")
                return stored if stored is not None and stored.status == "denied" else None

        await eventually(denied)
        standing = await eventually(lambda: settled(handle, 1))
    assert not sim.requests("DELETE", BAN)
    assert standing.banned


async def test_a_decision_claimed_at_the_deadline_is_honoured_even_without_its_signal(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim, approvals={**APPROVALS, "timeout_minutes": 30})
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, explicit_ban(sim))
        row = await eventually(lambda: pending_row(session_factory, handle))
        # someone's click claimed the row, but its `decide` signal never arrives
        async with session_factory() as session, session.begin():
            await session.execute(
                update(PendingApproval)
                .where(PendingApproval.id == row.id)
                .values(status="approved", decided_by="telegram:9", final_action="ban")
            )
        await env.sleep(timedelta(minutes=31))
        assert not sim.requests("PUT", BAN)  # the deadline found it claimed: it waits a little
        await env.sleep(timedelta(minutes=3))
        await eventually(lambda: sim.requests("PUT", BAN, status=204))
        await eventually(lambda: helpers.outcomes)
        standing = await eventually(lambda: settled(handle, 2))
    [row] = await approvals_of(session_factory, handle.id)
    assert row.status == "approved"  # never overwritten as expired
    assert helpers.outcomes[0].decided_by == "telegram:9"
    assert standing.banned
