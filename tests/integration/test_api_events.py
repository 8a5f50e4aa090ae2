"""Event endpoints on a real database: reads from rows the repository wrote, calendars and their
key; create, edit, RSVP and cancel through the Temporal dev server, the real event workflow and
activities, and the simulator."""

import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from icalendar import Calendar
from support import eventually
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from api.app import create_app
from dcs.temporal import event_activities
from domain.events import GOING, WAITLIST, EventSpec, RsvpCounts
from simulator import DiscordSimulator
from storage.events import EventState, RsvpRow, apply_rsvp_changes, insert_event, save_event_state
from storage.servers import put_server_config
from workflows.event import EventWorkflow
from workflows.event_control import event_workflow_id

GUILD = 4242
START = datetime(2030, 6, 7, 18, 0, tzinfo=UTC)


async def _seed(session_factory, guild=GUILD, n=3) -> list[int]:
    """Events one day apart, the first with RSVPs and a post."""
    ids = []
    async with session_factory() as session, session.begin():
        for i in range(n):
            spec = EventSpec(f"Event {i}", START + timedelta(days=i), "Europe/Berlin", capacity=2)
            ids.append(await insert_event(session, guild, spec, created_by=7))
        rows = [RsvpRow(u, GOING if u <= 2 else WAITLIST, GOING, u, "reaction") for u in (1, 2, 3)]
        await apply_rsvp_changes(session, guild, ids[0], 0, rows, [])
        first = EventSpec("Event 0", START, "Europe/Berlin", capacity=2, location="Hall")
        state = EventState(first, "scheduled", 0, RsvpCounts(2, 0, 0, 1), 555, None)
        await save_event_state(session, ids[0], state)
    return ids


async def test_list_and_read_events_from_rows(api, session_factory, token):
    """Lists page in start order; one event and its RSVPs read from the saved rows."""
    ids = await _seed(session_factory)
    viewer = await token("viewer", guild=GUILD)
    base = f"/api/servers/{GUILD}/events"
    first = await api.get(base, headers=viewer, params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [e["id"] for e in body["items"]] == ids[:2] and body["next_cursor"]
    rest = (await api.get(base, headers=viewer, params={"cursor": body["next_cursor"]})).json()
    assert [e["id"] for e in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    window = await api.get(
        base, headers=viewer, params={"from": "2030-06-08T00:00:00Z", "to": "2030-06-09T00:00Z"}
    )
    assert [e["id"] for e in window.json()["items"]] == [ids[1]]
    assert (await api.get(base, headers=viewer, params={"status": "cancelled"})).json()[
        "items"
    ] == []
    bad = await api.get(base, headers=viewer, params={"cursor": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

    one = (await api.get(f"{base}/{ids[0]}", headers=viewer)).json()
    assert one["location"] == "Hall" and one["message_id"] == "555" and one["live"] is False
    assert one["counts"] == {"going": 2, "maybe": 0, "declined": 0, "waitlist": 1}
    assert one["start"].startswith("2030-06-07T18:00:00") and one["timezone"] == "Europe/Berlin"
    missing = await api.get(f"{base}/999999", headers=viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    rsvps = (await api.get(f"{base}/{ids[0]}/rsvps", headers=viewer, params={"limit": 2})).json()
    assert [(r["user_id"], r["status"]) for r in rsvps["items"]] == [("1", GOING), ("2", GOING)]
    more = await api.get(
        f"{base}/{ids[0]}/rsvps", headers=viewer, params={"cursor": rsvps["next_cursor"]}
    )
    assert [r["user_id"] for r in more.json()["items"]] == ["3"]
    waiting = await api.get(f"{base}/{ids[0]}/rsvps", headers=viewer, params={"status": WAITLIST})
    assert [r["user_id"] for r in waiting.json()["items"]] == ["3"]


async def test_scopes_are_enforced(api, session_factory, token):
    """Viewers cannot change events; another server's token sees nothing."""
    ids = await _seed(session_factory)
    viewer = await token("viewer", guild=GUILD)
    other = await token("admin", guild=GUILD + 1)
    base = f"/api/servers/{GUILD}/events"
    assert (await api.get(base)).status_code == 401
    assert (await api.get(base, headers=other)).status_code == 403
    assert (await api.post(f"{base}/feed-key", headers=viewer)).status_code == 403
    created = await api.post(
        base, headers=viewer, json={"title": "x", "start": "2030-01-01T10:00Z"}
    )
    assert created.status_code == 403
    rsvp = await api.put(f"{base}/{ids[0]}/rsvps/5", headers=viewer, json={"choice": "going"})
    assert rsvp.status_code == 403


async def test_calendars_one_event_and_the_feed_by_key(api, session_factory, token):
    """A single .ics; the feed by token or by key, and a new key retires the old one."""
    ids = await _seed(session_factory)
    viewer = await token("viewer", guild=GUILD)
    admin = await token("admin", guild=GUILD)
    base = f"/api/servers/{GUILD}/events"
    one = await api.get(f"{base}/{ids[1]}.ics", headers=viewer)
    assert one.status_code == 200 and one.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(one.content).walk("VEVENT")
    assert str(event["UID"]) == f"event-{ids[1]}@{GUILD}.dcs"
    assert event.decoded("DTSTART") == START + timedelta(days=1)

    assert (await api.get(f"/api/servers/{GUILD}/events.ics")).status_code == 401
    by_token = await api.get(f"/api/servers/{GUILD}/events.ics", headers=viewer)
    assert len(Calendar.from_ical(by_token.content).walk("VEVENT")) == 3
    made = await api.post(f"{base}/feed-key", headers=admin)
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith(f"http://api/api/servers/{GUILD}/events.ics?key=")
    feed = await api.get(url)
    assert feed.status_code == 200
    assert sorted(str(e["UID"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")) == sorted(
        f"event-{i}@{GUILD}.dcs" for i in ids
    )
    newer = (await api.post(f"{base}/feed-key", headers=admin)).json()["url"]
    assert (await api.get(url)).status_code == 401
    assert (await api.get(newer)).status_code == 200
    wrong_server = newer.replace(f"/servers/{GUILD}/", f"/servers/{GUILD + 1}/")
    assert (await api.get(wrong_server)).status_code == 401


# --- through the workflow ---------------------------------------------------------------------


@pytest.fixture
async def live(session_factory, temporal_env, task_queue):
    """The API with a Temporal client, a worker running the event workflow, and the simulator."""
    client = temporal_env.client
    async with DiscordSimulator() as sim:
        app = create_app(session_factory, temporal=client, task_queue=task_queue)
        acts = event_activities(session_factory, DiscordHttp(sim.api_base, "sandbox-token"))
        started: list[str] = []
        try:
            async with (
                Worker(client, task_queue=task_queue, workflows=[EventWorkflow], activities=acts),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://api"
                ) as http,
            ):
                yield sim, http, started
        finally:
            for workflow_id in started:
                with contextlib.suppress(Exception):  # one dev server serves every test
                    await client.get_workflow_handle(workflow_id).terminate()


async def _configure(session_factory, guild: int, **events) -> None:
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, guild, {"events": events}, expected_version=None, changed_by="test"
        )


async def test_create_needs_a_zone_for_a_time_without_offset(live, session_factory, token):
    """No offset and no zone anywhere is refused; the server's zone then reads it as local."""
    sim, http, started = live
    guild = sim.world.guild_id
    mod = await token("moderator", guild=guild)
    base = f"/api/servers/{guild}/events"
    channel = sim.world.channel("events")
    body = {"title": "Quiz", "start": "2030-03-30T20:00", "channel_id": channel}
    refused = await http.post(base, headers=mod, json=body)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "start has no UTC offset and no time zone is known "
        "(give timezone or set the server's events.timezone)"
    )
    bad_zone = await http.post(base, headers=mod, json=body | {"timezone": "Mars/Base"})
    assert (
        bad_zone.status_code == 422 and "unknown time zone" in bad_zone.json()["error"]["message"]
    )
    past = await http.post(base, headers=mod, json=body | {"start": "2001-01-01T10:00Z"})
    assert past.status_code == 422 and past.json()["error"]["code"] == "invalid_event"
    assert "start: must be in the future" in past.json()["error"]["details"]

    await _configure(session_factory, guild, timezone="Europe/Berlin", xp_reward=120)
    created = await http.post(base, headers=mod, json=body)
    assert created.status_code == 201, created.text
    event = created.json()
    started.append(event_workflow_id(guild, event["id"]))
    assert event["start"].startswith("2030-03-30T19:00:00")  # 20:00 CET
    assert event["timezone"] == "Europe/Berlin" and event["xp_reward"] == 120
    assert [r["minutes_before"] for r in event["reminders"]] == [1440, 60, 0]
    explicit = await http.post(
        base, headers=mod, json=body | {"start": "2030-07-01T20:00", "timezone": "Asia/Tokyo"}
    )
    assert explicit.status_code == 201
    started.append(event_workflow_id(guild, explicit.json()["id"]))
    assert explicit.json()["start"].startswith("2030-07-01T11:00:00")


async def test_create_edit_rsvp_cancel(live, session_factory, token):
    """The whole life through the API: announce, RSVP with a waitlist, edit, cancel, then 409."""
    sim, http, started = live
    guild = sim.world.guild_id
    mod = await token("moderator", guild=guild)
    base = f"/api/servers/{guild}/events"
    body = {
        "title": "Raid night",
        "start": "2030-05-01T18:00:00+00:00",
        "channel_id": sim.world.channel("events"),
        "capacity": 1,
        "reminders": [{"minutes_before": 30, "message": "warm up"}],
    }
    created = await http.post(base, headers=mod, json=body)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    started.append(event_workflow_id(guild, event_id))
    url = f"{base}/{event_id}"
    posted = await eventually(lambda: _live_with_post(http, url, mod))
    assert posted["timezone"] == "UTC" and posted["reminders"] == [
        {"minutes_before": 30, "message": "warm up"}
    ]

    alice, bob = sim.world.member("alice"), sim.world.member("bob")
    first = await http.put(f"{url}/rsvps/{alice}", headers=mod, json={"choice": "going"})
    assert first.status_code == 200 and first.json()["status"] == GOING
    second = (await http.put(f"{url}/rsvps/{bob}", headers=mod, json={"choice": "going"})).json()
    assert second["status"] == WAITLIST and second["position"] == 1
    left = (await http.put(f"{url}/rsvps/{alice}", headers=mod, json={"choice": None})).json()
    assert left["status"] is None and left["promoted"] == [str(bob)]
    expected = [(str(bob), GOING)]
    assert await eventually(lambda: _rsvps(http, url, mod, expected))

    edited = await http.patch(url, headers=mod, json={"title": "Raid night (moved)", "capacity": 3})
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Raid night (moved)" and edited.json()["capacity"] == 3
    assert edited.json()["start"].startswith("2030-05-01T18:00:00")
    bad_edit = await http.patch(url, headers=mod, json={"end": "2030-04-01T00:00Z"})
    assert bad_edit.status_code == 422 and bad_edit.json()["error"]["code"] == "invalid_event"

    cancelled = await http.post(f"{url}/cancel", headers=mod, json={"reason": "server maintenance"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    row = await eventually(lambda: _saved_cancel(http, url, mod))
    assert row["cancel_reason"] == "server maintenance" and row["live"] is False
    again = await http.post(f"{url}/cancel", headers=mod, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "event_over"
    late = await http.put(f"{url}/rsvps/{alice}", headers=mod, json={"choice": "going"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "event_over"
    late_edit = await http.patch(url, headers=mod, json={"title": "x"})
    assert late_edit.status_code == 409


async def _live_with_post(http, url, headers):
    body = (await http.get(url, headers=headers)).json()
    return body if body["live"] and body["message_id"] else None


async def _rsvps(http, url, headers, expected):
    items = (await http.get(f"{url}/rsvps", headers=headers)).json()["items"]
    return [(r["user_id"], r["status"]) for r in items] == expected or None


async def _saved_cancel(http, url, headers):
    body = (await http.get(url, headers=headers)).json()
    return body if body["status"] == "cancelled" and body["cancel_reason"] else None
