"""The verification gate end to end: the simulator, the real gateway (discord.py), the guild's
`verification:{guild}` workflow with its real activities on a time-skipping Temporal server.
Each test gets its own time-skipping server; both databases."""

import contextlib
from datetime import UTC, datetime, timedelta

from support import eventually, running_bot
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.temporal import verification_activities
from domain.verification import MemberJoined, VerificationPolicy
from workflows.verification import (
    VerificationInput,
    VerificationWorkflow,
    verification_workflow_id,
)

MEMBER = "/guilds/{guild_id}/members/{user_id}"
ROLE = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"


def gate_config(sim, **verification):
    config = default_server_config().model_dump(mode="json")
    config["mod_log_channel_id"] = sim.world.channel("mod-log")
    # joins in these tests are no raid unless a test says so (the detector would see one)
    config["raid"]["join_threshold"] = 10_000
    config["verification"] = {
        "enabled": True,
        "verified_role_id": sim.world.role("Member"),
        "unverified_role_id": sim.world.role("Muted"),
        "channel_id": sim.world.channel("welcome"),
        "timeout_minutes": 30,
        **verification,
    }
    return config


@contextlib.asynccontextmanager
async def gate_worker(env, task_queue, sim, **options):
    http = DiscordHttp(sim.api_base, "sandbox-token")
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[VerificationWorkflow],
            activities=verification_activities(http),
            **options,
        ) as worker:
            yield worker
    finally:
        await http.aclose()


@contextlib.asynccontextmanager
async def gated(env, task_queue, sessions, sim, config):
    """The bot and a worker; the gate's workflow is terminated before the worker stops (a
    leftover would hold the time-skipping clock)."""
    async with (
        gate_worker(env, task_queue, sim),
        running_bot(sim, env.client, task_queue, sessions, config=config) as bot,
    ):
        try:
            yield bot
        finally:
            await terminate_gate(env, sim)


async def terminate_gate(env, sim):
    handle = env.client.get_workflow_handle(verification_workflow_id(sim.world.guild_id))
    with contextlib.suppress(RPCError):
        await handle.terminate("test over")


async def pending(env, sim):
    """The user ids the gate waits for; None before the workflow exists."""
    handle = env.client.get_workflow_handle(verification_workflow_id(sim.world.guild_id))
    try:
        return [p.user_id for p in await handle.query(VerificationWorkflow.pending)]
    except RPCError:
        return None


def roles(sim, user_id):
    guild = sim.world.guilds[sim.world.guild_id]
    member = guild.members.get(user_id)
    return None if member is None else set(member.roles)


def in_guild(sim, user_id):
    return user_id in sim.world.guilds[sim.world.guild_id].members


def reply_text(sim, record) -> str:
    view = record.describe(sim.world)
    parts = [str(r["data"]) for r in view["responses"]]
    if view["original_message"]:
        parts.append(view["original_message"]["content"])
    parts += [m["content"] for m in view["followups"]]
    return " | ".join(parts)


async def post_panel(sim):
    record = await sim.invoke_slash_command("verification panel", "owner", "general")
    await eventually(lambda: "panel posted" in reply_text(sim, record))
    verify = f"verify:{sim.world.guild_id}"
    [panel] = [m for m in sim.messages("welcome") if verify in str(m.components)]
    return verify, panel.id


async def test_a_joiner_gets_the_unverified_role_and_the_button_lets_them_in(
    env, session_factory, sim, task_queue
):
    verified, unverified = sim.world.role("Member"), sim.world.role("Muted")
    async with gated(env, task_queue, session_factory, sim, gate_config(sim)):
        newbie = (await sim.member_join("newbie")).user_id
        await eventually(lambda: unverified in (roles(sim, newbie) or ()))
        await eventually(lambda: _is(pending(env, sim), [newbie]))
        verify, panel = await post_panel(sim)
        pressed = await sim.click_button(verify, "newbie", panel)
        await eventually(lambda: "is verified" in reply_text(sim, pressed))
        assert roles(sim, newbie) == {verified}
        await eventually(lambda: _is(pending(env, sim), []))
        await env.sleep(timedelta(minutes=31))
        assert in_guild(sim, newbie)
    assert not sim.requests("DELETE", MEMBER)


async def test_a_joiner_who_never_verifies_is_kicked_at_the_deadline(
    env, session_factory, sim, task_queue
):
    async with gated(env, task_queue, session_factory, sim, gate_config(sim)):
        lurker = (await sim.member_join("lurker")).user_id
        await eventually(lambda: _is(pending(env, sim), [lurker]))
        await env.sleep(timedelta(minutes=29))
        assert in_guild(sim, lurker)
        await env.sleep(timedelta(minutes=2))
        await eventually(lambda: not in_guild(sim, lurker))
        await eventually(lambda: _is(pending(env, sim), []))
    [kick] = sim.requests("DELETE", MEMBER, status=204)
    assert kick.path.endswith(f"/members/{lurker}")


async def test_with_quarantine_configured_the_member_stays_with_the_quarantine_role(
    env, session_factory, sim, task_queue
):
    muted = sim.world.role("Muted")
    config = gate_config(
        sim, unverified_role_id=None, quarantine_role_id=muted, on_timeout="quarantine"
    )
    async with gated(env, task_queue, session_factory, sim, config):
        lurker = (await sim.member_join("lurker")).user_id
        await eventually(lambda: _is(pending(env, sim), [lurker]))
        assert roles(sim, lurker) == set()
        await env.sleep(timedelta(minutes=31))
        await eventually(lambda: muted in (roles(sim, lurker) or ()))
        await eventually(lambda: _is(pending(env, sim), []))
    assert in_guild(sim, lurker)
    assert not sim.requests("DELETE", MEMBER)


async def test_during_a_raid_the_deadline_is_shorter_and_ends_in_a_kick(
    env, session_factory, sim, task_queue
):
    guild, muted = sim.world.guild_id, sim.world.role("Muted")
    config = gate_config(
        sim, unverified_role_id=None, quarantine_role_id=muted, on_timeout="quarantine"
    )
    async with gated(env, task_queue, session_factory, sim, config) as bot:
        bot.spam_guard.lockdowns.add(guild)  # the guild is under a raid
        raider = (await sim.member_join("raider")).user_id
        await eventually(lambda: _is(pending(env, sim), [raider]))
        bot.spam_guard.lockdowns.discard(guild)  # the raid is over
        calm = (await sim.member_join("calm")).user_id
        await eventually(lambda: _is(pending(env, sim), [raider, calm]))
        await env.sleep(timedelta(minutes=11))  # the raid timeout (10 min) has passed
        await eventually(lambda: not in_guild(sim, raider))
        assert roles(sim, calm) == set()
        await env.sleep(timedelta(minutes=20))
        await eventually(lambda: muted in (roles(sim, calm) or ()))
    assert in_guild(sim, calm)


async def test_the_deadline_fires_after_the_worker_was_replaced_mid_wait(
    env, session_factory, sim, task_queue
):
    config = gate_config(sim)
    async with running_bot(sim, env.client, task_queue, session_factory, config=config):
        # no workflow cache: the test server would keep routing to a dead worker's sticky queue
        async with gate_worker(env, task_queue, sim, max_cached_workflows=0):
            lurker = (await sim.member_join("lurker")).user_id
            await eventually(lambda: _is(pending(env, sim), [lurker]))
        await env.sleep(timedelta(minutes=20))  # no worker at all for a while
        assert in_guild(sim, lurker)
        async with gate_worker(env, task_queue, sim):
            # a new worker with no memory of the old one: only Temporal's history
            await env.sleep(timedelta(minutes=11))
            await eventually(lambda: not in_guild(sim, lurker))
            await terminate_gate(env, sim)


async def test_a_wrong_challenge_answer_changes_nothing_and_the_right_one_verifies(
    env, session_factory, sim, task_queue
):
    verified, unverified = sim.world.role("Member"), sim.world.role("Muted")
    async with gated(env, task_queue, session_factory, sim, gate_config(sim, mode="challenge")):
        newbie = (await sim.member_join("newbie")).user_id
        await eventually(lambda: _is(pending(env, sim), [newbie]))
        verify, panel = await post_panel(sim)
        form = await open_form(sim, verify, panel)
        wrong = await sim.submit_modal(form["custom_id"], "newbie", "welcome", {"answer": "nope"})
        await eventually(lambda: "not the answer" in reply_text(sim, wrong))
        assert roles(sim, newbie) == {unverified}
        assert await pending(env, sim) == [newbie]
        form = await open_form(sim, verify, panel)
        right = await sim.submit_modal(
            form["custom_id"], "newbie", "welcome", {"answer": answer_to(form["label"])}
        )
        await eventually(lambda: "is verified" in reply_text(sim, right))
        assert roles(sim, newbie) == {verified}
        await eventually(lambda: _is(pending(env, sim), []))


async def test_the_last_allowed_wrong_answer_ends_the_wait_at_once(
    env, session_factory, sim, task_queue
):
    config = gate_config(sim, mode="challenge", max_attempts=2)
    async with gated(env, task_queue, session_factory, sim, config):
        guesser = (await sim.member_join("guesser")).user_id
        await eventually(lambda: _is(pending(env, sim), [guesser]))
        verify, panel = await post_panel(sim)
        for _ in range(2):
            form = await open_form(sim, verify, panel, user="guesser")
            sent = await sim.submit_modal(form["custom_id"], "guesser", "welcome", {"answer": "x"})
            await eventually(lambda s=sent: "not the answer" in reply_text(sim, s))
        await eventually(lambda: not in_guild(sim, guesser))


async def test_two_hundred_joins_make_one_workflow_holding_every_deadline(
    env, session_factory, sim, task_queue
):
    config = gate_config(sim, unverified_role_id=None)
    async with gated(env, task_queue, session_factory, sim, config):
        joined = [(await sim.member_join(f"wave{i:03d}")).user_id for i in range(200)]
        waiting = await eventually(lambda: _has(pending(env, sim), 200), timeout=60, interval=0.5)
        assert sorted(waiting) == sorted(joined)
        handle = env.client.get_workflow_handle(verification_workflow_id(sim.world.guild_id))
        events = [e.event_type async for e in handle.fetch_history_events()]
        # every join is a signal to this one workflow (and none started another)
        assert events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 200
        assert events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == 1
        await env.sleep(timedelta(minutes=31))
        await eventually(
            lambda: not any(in_guild(sim, u) for u in joined), timeout=90, interval=0.5
        )
    assert len(sim.requests("DELETE", MEMBER, status=204)) == 200


async def open_form(sim, verify, panel, user="newbie"):
    """Press Verify in challenge mode: the answer is a form whose label is the question."""
    pressed = await sim.click_button(verify, user, panel)
    modal = await eventually(
        lambda: next(
            (r["data"] for r in pressed.describe(sim.world)["responses"] if r["type"] == 9), None
        )
    )
    [row] = modal["components"]
    [field] = row["components"]
    return {"custom_id": modal["custom_id"], "label": field["label"]}


def answer_to(question: str) -> str:
    if question.startswith("What is"):
        a, b = question.removeprefix("What is ").removesuffix("?").split(" + ")
        return str(int(a) + int(b))
    return question.removeprefix("Type this word: ").lower()


async def _is(probe, expected):
    value = await probe
    return value is not None and sorted(value) == sorted(expected)


async def _has(probe, count):
    value = await probe
    return value if value is not None and len(value) >= count else None


async def test_pending_deadlines_survive_continue_as_new(env, sim, task_queue):
    """Straight to the workflow (no gateway): 120 joins with continue-as-new every 50 events."""
    guild = sim.world.guild_id
    policy = VerificationPolicy(timeout_minutes=30, verified_role_id=sim.world.role("Member"))
    joined = [(await sim.member_join(f"can{i:03d}")).user_id for i in range(120)]
    wid = verification_workflow_id(guild)
    async with gate_worker(env, task_queue, sim):
        try:
            first = None
            for user in joined:
                handle = await env.client.start_workflow(
                    VerificationWorkflow.run,
                    VerificationInput(guild, continue_after=50),
                    id=wid,
                    task_queue=task_queue,
                    start_signal="member_joined",
                    start_signal_args=[MemberJoined(user, datetime.now(UTC), False, policy)],
                )
                first = first or handle.first_execution_run_id
            # no query until the newest run sleeps on its timer (a query racing continue-as-new
            # can hang the time-skipping server)
            handle = env.client.get_workflow_handle(wid)
            await eventually(lambda: _settled_new_run(handle, first), timeout=60, interval=0.2)
            assert sorted(p.user_id for p in await handle.query(VerificationWorkflow.pending)) == (
                sorted(joined)
            )
            await env.sleep(timedelta(minutes=31))
            await eventually(lambda: not any(in_guild(sim, u) for u in joined), timeout=60)
        finally:
            await terminate_gate(env, sim)


async def _settled_new_run(handle, first_run):
    """The workflow continued as new and its newest run waits on its timer."""
    if (await handle.describe()).run_id == first_run:
        return False
    events = [e.event_type async for e in handle.fetch_history_events()]
    return bool(events) and events[-1] == EventType.EVENT_TYPE_TIMER_STARTED
