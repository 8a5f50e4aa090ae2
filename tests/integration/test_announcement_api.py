"""Announcement endpoints through the Temporal dev server, the real workflow and the simulator:
roles, create (cron in a zone, one-off without an offset read in the server's zone), 422 with
every problem and nothing created, read with next runs, replace and pause, delete."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.announcements import AnnouncementActivities
from activities.discord_rest import DiscordHttp
from api.app import create_app
from domain.announcements import schedule_id
from simulator import DiscordSimulator
from storage.servers import put_server_config
from workflows.announcement import AnnouncementWorkflow


@pytest.fixture
async def live(session_factory, temporal_env, task_queue):
    """The API with a Temporal client and a worker, on a guild id of the test's own."""
    client = temporal_env.client
    guild = int(uuid.uuid4().int % 10**17) + 10**17
    async with DiscordSimulator() as sim:
        app = create_app(session_factory, temporal=client, task_queue=task_queue)
        acts = AnnouncementActivities(DiscordHttp(sim.api_base, "sandbox-token"), session_factory)
        try:
            async with (
                Worker(
                    client,
                    task_queue=task_queue,
                    workflows=[AnnouncementWorkflow],
                    activities=[acts.post_announcement],
                ),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://api"
                ) as http,
            ):
                yield sim, http, guild
        finally:
            for n in range(1, 6):  # one dev server serves every test
                with contextlib.suppress(RPCError):
                    await client.get_schedule_handle(schedule_id(guild, n)).delete()


async def test_create_read_replace_pause_delete(live, token, session_factory):
    sim, http, guild = live
    admin = await token("admin", guild=guild)
    viewer = await token("viewer", guild=guild)
    moderator = await token("moderator", guild=guild)
    async with session_factory() as session, session.begin():
        await put_server_config(
            session,
            guild,
            {"events": {"timezone": "America/New_York"}},
            expected_version=None,
            changed_by="test",
        )
    base = f"/api/servers/{guild}/announcements"
    body = {
        "channel_id": sim.world.channel("general"),
        "title": "Standup",
        "body": "Daily standup in the lounge",
        "colour": "#FF8800",
        "role_id": sim.world.role("Member"),
        "cron": "0 9 * * mon-fri",
    }
    assert (await http.post(base, headers=moderator, json=body)).status_code == 403
    made = await http.post(base, headers=admin, json=body)
    assert made.status_code == 201, made.text
    out = made.json()
    assert (out["number"], out["kind"], out["colour"], out["timezone"]) == (
        1,
        "cron",
        0xFF8800,
        "America/New_York",  # the server's events zone when none is given
    )
    assert out["schedule_id"] == f"announce:{guild}:1"

    one = (await http.get(f"{base}/1", headers=viewer)).json()
    new_york = ZoneInfo("America/New_York")
    assert one["next_runs"]
    assert {datetime.fromisoformat(r).astimezone(new_york).hour for r in one["next_runs"]} == {9}

    later = (datetime.now(new_york) + timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    once = {**body, "cron": None, "at": later.isoformat(), "title": "Launch party"}
    second = await http.post(base, headers=admin, json=once)
    assert second.status_code == 201, second.text
    at = datetime.fromisoformat(second.json()["at"])
    assert at == later.replace(tzinfo=new_york).astimezone(UTC)

    replaced = await http.put(
        f"{base}/1",
        headers=admin,
        json={**body, "title": "Standup (moved)", "cron": "30 10 * * *", "paused": True},
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["title"], replaced.json()["paused"]) == ("Standup (moved)", True)
    assert (await http.get(f"{base}/1", headers=viewer)).json()["next_runs"] == []

    listed = (await http.get(base, headers=viewer)).json()["items"]
    assert [(a["number"], a["kind"], a["paused"]) for a in listed] == [
        (1, "cron", True),
        (2, "once", False),
    ]
    assert (await http.delete(f"{base}/2", headers=admin)).status_code == 204
    assert (await http.get(f"{base}/2", headers=viewer)).status_code == 404
    assert (await http.delete(f"{base}/2", headers=admin)).status_code == 404


async def test_every_problem_is_listed_and_nothing_is_created(live, token):
    sim, http, guild = live
    admin = await token("admin", guild=guild)
    base = f"/api/servers/{guild}/announcements"
    refused = await http.post(
        base,
        headers=admin,
        json={
            "channel_id": sim.world.channel("general"),
            "title": " ",
            "cron": "0 25 * * *",
            "timezone": "Moon/Base",
        },
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_announcement"
    joined = " | ".join(error["details"])
    for expected in ("title", "cron hour", "Moon/Base"):
        assert expected in joined
    past = await http.post(
        base,
        headers=admin,
        json={"channel_id": 5, "title": "x", "at": "2020-01-01T10:00:00Z"},
    )
    assert past.status_code == 422 and "in the past" in past.json()["error"]["details"][0]
    garbled = await http.post(
        base, headers=admin, json={"channel_id": 5, "title": "x", "at": "next tuesday"}
    )
    assert garbled.status_code == 422
    assert garbled.json()["error"]["details"] == [
        "at: 'next tuesday' is not an ISO 8601 date and time"
    ]
    assert (await http.get(base, headers=admin)).json()["items"] == []
