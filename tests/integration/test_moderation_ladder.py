"""The member's workflow climbs the ladder and applies sanctions through the Discord simulator
(its own time-skipping server, real database on both backends, real activities)."""

from datetime import UTC, datetime, timedelta

from moderation_harness import (
    Helpers,
    cases_of,
    configure,
    index_of,
    offence,
    running,
    settled,
)
from support import eventually

from domain.cases import MemberRejoined
from domain.review import ReviewVerdict
from workflows.moderation import ModerationWorkflow

MEMBER = "/guilds/{guild_id}/members/{user_id}"
BAN = "/guilds/{guild_id}/bans/{user_id}"
DM_OPEN = "/users/@me/channels"
MESSAGES = "/channels/{channel_id}/messages"


async def test_a_repeat_offender_climbs_warn_timeout_kick_ban(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    helpers = Helpers()
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(env.client, task_queue, offence(sim, "o1"))
        await eventually(lambda: settled(handle, 1))
        # 1 point: a warning by DM, no sanction case
        assert len(sim.requests("POST", DM_OPEN)) == 1
        assert not sim.requests("PATCH", MEMBER)

        await handle.signal(ModerationWorkflow.report, offence(sim, "o2"))
        await eventually(lambda: settled(handle, 3))  # the offence and its timeout
        [patch] = sim.requests("PATCH", MEMBER, status=200)
        until = datetime.fromisoformat(patch.json["communication_disabled_until"])
        assert timedelta(minutes=9) < until - datetime.now(UTC) <= timedelta(minutes=10)

        await handle.signal(ModerationWorkflow.report, offence(sim, "o3"))
        await eventually(lambda: settled(handle, 5))
        assert [r.status for r in sim.requests("DELETE", MEMBER)] == [204]
        assert alice not in sim.world.guilds[guild].members

        await sim.member_join("alice")  # back, so the ban's DM can reach them
        await handle.signal(ModerationWorkflow.report, offence(sim, "o4"))
        await eventually(lambda: settled(handle, 7))
        standing = await handle.query(ModerationWorkflow.standing)

    assert [r.status for r in sim.requests("PUT", BAN)] == [204]
    assert alice in sim.world.guilds[guild].bans
    # the member was told before the kick and before the ban, not after
    dm_posts = [
        i
        for i, r in enumerate(sim.requests())
        if r.method == "POST"
        and "/channels/" in r.path
        and r.json.get("content", "").startswith("You are being")
    ]
    [kick_at] = index_of(sim, "DELETE", MEMBER)
    [ban_at] = index_of(sim, "PUT", BAN)
    assert len(dm_posts) == 2
    assert dm_posts[0] < kick_at < dm_posts[1] < ban_at
    ban_dm = sim.requests()[dm_posts[1]]
    button = ban_dm.json["components"][0]["components"][0]
    assert button["custom_id"] == f"appeal:{guild}:ban"

    cases = await cases_of(session_factory, guild)
    sanctions = [(c.action, c.source, c.duration_seconds) for c in cases if c.source == "ladder"]
    assert sanctions == [
        ("timeout", "ladder", 600),
        ("kick", "ladder", None),
        ("ban", "ladder", None),
    ]
    assert [c.points for c in cases if c.source == "automod"] == [1, 1, 1, 1]
    assert standing.active_points == 4
    assert standing.banned and standing.ban_until is None


async def test_expired_strikes_stay_on_record_but_stop_counting(
    env, session_factory, sim, task_queue, started
):
    await configure(
        session_factory, sim, escalation={"steps": LADDER_DECAY, "strike_decay_days": 1}
    )
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, offence(sim, "d1"))
        await eventually(lambda: settled(handle, 1))
        await env.sleep(timedelta(days=2))
        later = await env.get_current_time()  # strikes count from when the offence happened
        await handle.signal(ModerationWorkflow.report, offence(sim, "d2", occurred_at=later))
        standing = await eventually(lambda: settled(handle, 2))
    assert standing.active_points == 1
    assert len(standing.strikes) == 2
    assert not sim.requests("PATCH", MEMBER)  # never reached the timeout rung
    assert len(await cases_of(session_factory, sim.world.guild_id)) == 2


LADDER_DECAY = [
    {"points": 1, "action": "warn"},
    {"points": 2, "action": "timeout", "duration_minutes": 10},
]


async def test_a_moderators_explicit_timeout_bypasses_the_ladder(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    v = offence(
        sim,
        "cmd:1",
        source="command",
        action="timeout",
        explicit=True,
        duration_minutes=30,
        moderator_id=sim.world.owner_id,
        reason="spamming invites",
    )
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, v)
        standing = await eventually(lambda: settled(handle, 1))
        await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
    [case] = await cases_of(session_factory, sim.world.guild_id)
    assert (case.action, case.source, case.duration_seconds) == ("timeout", "command", 1800)
    assert case.expires_at is not None
    assert standing.timeout_until is not None


async def test_a_manual_ban_is_recorded_not_redone_and_a_manual_timeout_is_reapplied_on_rejoin(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    manual_timeout = offence(
        sim,
        "audit:1",
        source="discord",
        action="timeout",
        already_applied=True,
        duration_minutes=60,
        points=0,
        reason="timed out by hand",
    )
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, manual_timeout)
        standing = await eventually(lambda: settled(handle, 1))
        assert standing.timeout_until is not None
        assert not sim.requests("PATCH", MEMBER)  # Discord already has it

        await sim.member_leave("alice")
        await sim.member_join("alice")
        await handle.signal(
            ModerationWorkflow.member_rejoined,
            MemberRejoined(sim.world.guild_id, sim.world.member("alice"), datetime.now(UTC)),
        )
        [patch] = await eventually(lambda: sim.requests("PATCH", MEMBER, status=200))
        until = datetime.fromisoformat(patch.json["communication_disabled_until"])
        assert timedelta(minutes=55) < until - datetime.now(UTC) <= timedelta(minutes=60)

        manual_ban = offence(
            sim, "audit:2", source="discord", action="ban", already_applied=True, points=0
        )
        await handle.signal(ModerationWorkflow.report, manual_ban)
        standing = await eventually(lambda: settled(handle, 2))
        assert standing.banned and standing.ban_until is None
        manual_unban = offence(
            sim, "audit:3", source="discord", action="unban", already_applied=True, points=0
        )
        await handle.signal(ModerationWorkflow.report, manual_unban)
        after_unban = await eventually(lambda: settled(handle, 3))
    assert not sim.requests("PUT", BAN) and not sim.requests("DELETE", BAN)
    assert not after_unban.banned
    cases = await cases_of(session_factory, sim.world.guild_id)
    assert [(c.action, c.source) for c in cases] == [
        ("timeout", "discord"),
        ("ban", "discord"),
        ("unban", "discord"),
    ]


async def test_a_review_of_none_never_cancels_an_automod_rules_strike(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    helpers = Helpers(verdict=ReviewVerdict("none", (), 0.9, "looks harmless", "local"))
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(
            env.client, task_queue, offence(sim, "a1", needs_review=True, content="scamcoin now")
        )
        standing = await eventually(lambda: settled(handle, 1))
    (case,) = await cases_of(session_factory, sim.world.guild_id)
    assert (case.action, case.points, case.source) == ("delete", 1, "automod")
    assert "AI review (local): none" in case.reason
    assert standing.active_points == 1
    assert [r.message for r in helpers.reviews] == ["scamcoin now"]


async def test_an_ai_review_of_none_records_no_action_and_mute_times_out(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim)
    helpers = Helpers(verdict=ReviewVerdict("none", (), 0.9, "banter between friends", "local"))
    async with running(env.client, task_queue, session_factory, sim, helpers, started):
        handle = await started.start(
            env.client,
            task_queue,
            offence(
                sim, "r1", source="report", action="review", needs_review=True, context=("hi",)
            ),
        )
        await eventually(lambda: settled(handle, 1))
        helpers.verdict = ReviewVerdict("mute", ("harassment",), 0.8, "targeted insults", "local")
        await handle.signal(ModerationWorkflow.report, offence(sim, "r2", needs_review=True))
        standing = await eventually(lambda: settled(handle, 3))
    cases = await cases_of(session_factory, sim.world.guild_id)
    first, second, sanction = cases
    assert (first.action, first.points) == ("reviewed_no_action", 0)
    assert "banter" in first.reason
    assert second.points == 1
    assert (sanction.action, sanction.source, sanction.duration_seconds) == (
        "timeout",
        "review",  # harsher than the ladder's warn at 1 point: the verdict's timeout
        600,
    )
    assert [r.context for r in helpers.reviews] == [("hi",), ()]
    assert standing.active_points == 1
    assert len(sim.requests("PATCH", MEMBER, status=200)) == 1
