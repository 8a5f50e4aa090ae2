"""Announcements as real Temporal Schedules on the dev server, posting to the simulator: the post
(embed, one role pinged and nothing else), "now", pause, a one-off firing at its instant, cron
read in the schedule's zone, edits, deletion, and refusals that create nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support import eventually
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.announcements import AnnouncementActivities, PostInput
from activities.discord_rest import DiscordHttp
from domain.announcements import AnnouncementSpec, schedule_id
from simulator import DiscordSimulator
from storage.announcements import get_announcement, list_announcements
from workflows.announcement import AnnouncementWorkflow
from workflows.announcement_control import (
    AnnouncementRejected,
    build_schedule,
    create_announcement,
    delete_announcement,
    post_now,
    set_paused,
    timing,
    update_announcement,
)


@contextlib.asynccontextmanager
async def worker(
    client: Client, queue: str, sessions, sim: DiscordSimulator
) -> AsyncIterator[None]:
    acts = AnnouncementActivities(DiscordHttp(sim.api_base, "sandbox-token"), sessions)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[AnnouncementWorkflow],
        activities=[acts.post_announcement],
    ):
        yield


@pytest.fixture
def guild() -> int:
    """A guild id of the test's own: schedules on the shared dev server outlive a test."""
    return int(uuid.uuid4().int % 10**17) + 10**17


def _messages(sim: DiscordSimulator, channel: str):
    return sim.world.channel_messages(sim.world.channel(channel))


async def _cleanup(client: Client, guild: int, numbers: list[int]) -> None:
    for n in numbers:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(schedule_id(guild, n)).delete()


async def test_post_now_pings_only_the_role_and_records_it(
    temporal_env, session_factory, sim, task_queue, guild
):
    client = temporal_env.client
    role = sim.world.role("Moderator")
    spec = AnnouncementSpec(
        channel_id=sim.world.channel("general"),
        title="Weekly digest",
        body="Read the rules @everyone",
        colour=0x00FF00,
        role_id=role,
        interval_seconds=7 * 24 * 3600,
    )
    async with worker(client, task_queue, session_factory, sim):
        n = await create_announcement(
            client, session_factory, task_queue, guild, spec, "test", datetime.now(UTC)
        )
        try:
            assert n == 1
            await post_now(client, session_factory, guild, n)
            posts = await eventually(lambda: _messages(sim, "general"))
            post = posts[-1]
            assert post.embeds[0]["title"] == "Weekly digest"
            assert post.embeds[0]["color"] == 0x00FF00
            assert post.content == f"<@&{role}>"
            assert post.mention_role_ids == [role]
            assert post.mention_everyone is False

            async def recorded():
                async with session_factory() as session:
                    row = await get_announcement(session, guild, n)
                    return row if row is not None and row.post_count == 1 else None

            row = await eventually(recorded)
            assert row.last_message_id == post.id
        finally:
            await _cleanup(client, guild, [n])


async def test_one_off_fires_at_its_instant_and_paused_does_not(
    temporal_env, session_factory, sim, task_queue, guild
):
    client = temporal_env.client
    channel = sim.world.channel("events")
    now = datetime.now(UTC)
    at = (now + timedelta(seconds=3)).replace(microsecond=0)
    once = AnnouncementSpec(channel_id=channel, title="Doors open", at=at)
    paused = AnnouncementSpec(channel_id=channel, title="Not on time", at=at)
    async with worker(client, task_queue, session_factory, sim):
        n1 = await create_announcement(client, session_factory, task_queue, guild, once, "t", now)
        n2 = await create_announcement(client, session_factory, task_queue, guild, paused, "t", now)
        try:
            await set_paused(client, session_factory, guild, n2, True, "test")
            posts = await eventually(lambda: _messages(sim, "events"), timeout=20)
            assert [p.embeds[0]["title"] for p in posts] == ["Doors open"]
            assert posts[0].timestamp >= at - timedelta(seconds=1)
            seen = await timing(client, guild, n2)
            assert seen is not None and seen.paused and seen.runs == 0
            async with session_factory() as session:
                assert [r.paused for r in await list_announcements(session, guild)] == [
                    False,
                    True,
                ]
            await post_now(client, session_factory, guild, n2)  # "now" works while paused
            await eventually(lambda: len(_messages(sim, "events")) == 2)
            assert _messages(sim, "events")[-1].embeds[0]["title"] == "Not on time"
        finally:
            await _cleanup(client, guild, [n1, n2])


async def test_cron_runs_in_the_schedules_zone_and_edits_replace_it(
    temporal_env, session_factory, sim, task_queue, guild
):
    client = temporal_env.client
    berlin = ZoneInfo("Europe/Berlin")
    spec = AnnouncementSpec(
        channel_id=sim.world.channel("general"),
        title="Good morning",
        cron="30 9 * * mon-fri",
        timezone="Europe/Berlin",
    )
    now = datetime.now(UTC)
    n = await create_announcement(client, session_factory, task_queue, guild, spec, "t", now)
    try:
        seen = await timing(client, guild, n)
        assert seen is not None and len(seen.next_runs) >= 3
        for run in seen.next_runs:
            local = run.astimezone(berlin)
            assert (local.hour, local.minute, local.weekday() < 5) == (9, 30, True)

        edited = AnnouncementSpec(
            channel_id=spec.channel_id, title="Evening", cron="0 18 * * *", timezone="Asia/Tokyo"
        )
        await update_announcement(client, session_factory, task_queue, guild, n, edited, now)
        seen = await timing(client, guild, n)
        assert seen is not None
        assert {r.astimezone(ZoneInfo("Asia/Tokyo")).hour for r in seen.next_runs} == {18}
        async with session_factory() as session:
            row = await get_announcement(session, guild, n)
            assert row is not None and (row.title, row.timezone) == ("Evening", "Asia/Tokyo")

        await delete_announcement(client, session_factory, guild, n)
        assert await timing(client, guild, n) is None
        async with session_factory() as session:
            assert await get_announcement(session, guild, n) is None
    finally:
        await _cleanup(client, guild, [n])


async def test_refusal_lists_every_problem_and_creates_nothing(
    temporal_env, session_factory, sim, task_queue, guild
):
    client = temporal_env.client
    now = datetime.now(UTC)
    bad = AnnouncementSpec(
        channel_id=sim.world.channel("general"),
        title="x",
        cron="61 25 * * *",
        timezone="Mars/Olympus",
    )
    with pytest.raises(AnnouncementRejected) as caught:
        await create_announcement(client, session_factory, task_queue, guild, bad, "t", now)
    text = " | ".join(caught.value.problems)
    assert "cron minute" in text and "cron hour" in text and "Mars/Olympus" in text
    past = AnnouncementSpec(channel_id=1, title="late", at=now - timedelta(minutes=1))
    with pytest.raises(AnnouncementRejected, match="in the past"):
        await create_announcement(client, session_factory, task_queue, guild, past, "t", now)
    async with session_factory() as session:
        assert await list_announcements(session, guild) == []
    assert await timing(client, guild, 1) is None


async def test_a_retry_reuses_the_nonce_and_what_is_gone_posts_nothing(session_factory, sim, guild):
    """A retried attempt carries the same nonce; a deleted row or a vanished channel posts
    nothing and is not retried."""
    from storage.announcements import add_announcement, delete_announcement

    acts = AnnouncementActivities(DiscordHttp(sim.api_base, "sandbox-token"), session_factory)
    general = sim.world.channel("general")
    async with session_factory() as session, session.begin():
        row = await add_announcement(
            session, guild, AnnouncementSpec(channel_id=general, title="Once", cron="@daily"), "t"
        )
        gone = await add_announcement(
            session, guild, AnnouncementSpec(channel_id=999, title="Nowhere", cron="@daily"), "t"
        )
    first = await acts.post_announcement(PostInput(guild, row.number, "run-1"))
    assert first.message_id is not None
    await acts.post_announcement(PostInput(guild, row.number, "run-1"))  # a retried attempt
    await acts.post_announcement(PostInput(guild, row.number, "run-2"))  # the next run
    posts = [r.json for r in sim.requests("POST") if r.path == f"/channels/{general}/messages"]
    # Discord drops a repeated nonce with enforce_nonce (the simulator does not model that)
    assert [p["enforce_nonce"] for p in posts] == [True, True, True]
    assert posts[0]["nonce"] == posts[1]["nonce"] != posts[2]["nonce"]
    async with session_factory() as session:
        stored = await get_announcement(session, guild, row.number)
        assert stored is not None and stored.post_count == 3
    refused = await acts.post_announcement(PostInput(guild, gone.number, "run-2"))
    assert refused.message_id is None and refused.skipped and "404" in refused.skipped
    async with session_factory() as session, session.begin():
        await delete_announcement(session, guild, row.number)
    assert (
        await acts.post_announcement(PostInput(guild, row.number, "run-3"))
    ).skipped == "deleted"


async def test_an_orphaned_schedule_is_taken_over(
    temporal_env, session_factory, sim, task_queue, guild
):
    """A schedule left behind without its row (the number is free again) becomes the new one."""
    client = temporal_env.client
    old = AnnouncementSpec(channel_id=1, title="old", cron="0 1 * * *")
    await client.create_schedule(schedule_id(guild, 1), build_schedule(guild, 1, old, task_queue))
    new = AnnouncementSpec(
        channel_id=sim.world.channel("general"), title="new", interval_seconds=3600
    )
    try:
        n = await create_announcement(
            client, session_factory, task_queue, guild, new, "t", datetime.now(UTC)
        )
        assert n == 1
        described = await client.get_schedule_handle(schedule_id(guild, 1)).describe()
        assert described.schedule.spec.intervals[0].every == timedelta(hours=1)
        assert (
            not described.schedule.spec.cron_expressions and not described.schedule.spec.calendars
        )
    finally:
        await _cleanup(client, guild, [1])
