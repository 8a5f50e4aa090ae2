"""Ticket endpoints through the Temporal dev server, the real ticket workflow and activities, and
the simulator: open (and the per-member limit as 409), read live, claim, close with a reason,
the transcript, the rating, reopen, lists with filters and cursor pages, roles. Both databases."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from support import eventually
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from api.app import create_app
from dcs.temporal import ticket_activities
from simulator import DiscordSimulator
from storage.servers import put_server_config
from workflows.ticket import TicketWorkflow, ticket_workflow_id


@pytest.fixture
async def live(session_factory, temporal_env, task_queue):
    """The API with a Temporal client, a worker running the ticket workflow, and the simulator."""
    client = temporal_env.client
    async with DiscordSimulator() as sim:
        app = create_app(session_factory, temporal=client, task_queue=task_queue)
        acts = ticket_activities(session_factory, DiscordHttp(sim.api_base, "sandbox-token"))
        try:
            async with (
                Worker(client, task_queue=task_queue, workflows=[TicketWorkflow], activities=acts),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://api"
                ) as http,
            ):
                yield sim, http
        finally:
            for number in range(1, 4):  # one dev server serves every test
                with contextlib.suppress(Exception):
                    handle = client.get_workflow_handle(
                        ticket_workflow_id(sim.world.guild_id, number)
                    )
                    await handle.terminate()


async def test_tickets_through_the_api(live, session_factory, token):
    sim, http = live
    guild = sim.world.guild_id
    async with session_factory() as session, session.begin():
        tickets = {
            "parent_channel_id": sim.world.channel("support"),
            "support_role_ids": [sim.world.role("Moderator")],
            "categories": [{"name": "billing"}],
        }
        await put_server_config(
            session, guild, {"tickets": tickets}, expected_version=None, changed_by="test"
        )
    mod = await token("moderator", guild=guild)
    viewer = await token("viewer", guild=guild)
    base = f"/api/servers/{guild}/tickets"
    alice, bob = str(sim.world.member("alice")), str(sim.world.member("bob"))
    moderator = sim.world.member("moderator")

    assert (await http.post(base, headers=viewer, json={"member_id": alice})).status_code == 403
    made = await http.post(base, headers=mod, json={"member_id": alice, "subject": "Lost access"})
    assert made.status_code == 201, made.text
    assert made.json()["id"] == 1 and made.json()["source"] == "api"
    again = await http.post(base, headers=mod, json={"member_id": alice})
    assert again.status_code == 409 and "already have 1 open" in again.json()["error"]["message"]
    bad = await http.post(base, headers=mod, json={"member_id": bob, "category": "nope"})
    assert bad.status_code == 422 and "unknown 'nope'" in bad.json()["error"]["message"]
    second = await http.post(
        base, headers=mod, json={"member_id": bob, "subject": "Refund", "category": "billing"}
    )
    assert second.json()["id"] == 2

    async def opened():
        body = (await http.get(f"{base}/1", headers=viewer)).json()
        return body if body["channel_id"] else None

    one = await eventually(opened, timeout=20)
    assert one["live"] is True and one["status"] == "open" and one["member_id"] == alice

    claim = await http.put(
        f"{base}/1", headers=mod, json={"action": "claim", "actor_id": moderator}
    )
    assert claim.status_code == 200 and claim.json()["claimed_by"] == str(moderator)
    rate_open = await http.put(f"{base}/1", headers=mod, json={"action": "rate", "rating": 3})
    assert rate_open.status_code == 422  # not closed yet
    await sim.post_message(int(one["channel_id"]), "alice", "Password reset mail never came")
    assert (await http.get(f"{base}/1/transcript", headers=viewer)).status_code == 404
    closed = await http.put(
        f"{base}/1",
        headers=mod,
        json={"action": "close", "actor_id": moderator, "reason": "Mail resent"},
    )
    assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "Mail resent"

    async def transcript():
        response = await http.get(f"{base}/1/transcript", headers=viewer)
        return response if response.status_code == 200 else None

    markdown = (await eventually(transcript, timeout=20)).text
    assert "Password reset mail never came" in markdown and "Mail resent" in markdown
    rated = await http.put(f"{base}/1", headers=mod, json={"action": "rate", "rating": 4})
    assert rated.json()["rating"] == 4

    closed_list = (await http.get(base, headers=viewer, params={"status": "closed"})).json()
    assert [t["id"] for t in closed_list["items"]] == [1]
    by_member = (await http.get(base, headers=viewer, params={"member": bob})).json()
    assert [t["id"] for t in by_member["items"]] == [2]
    billing = (await http.get(base, headers=viewer, params={"category": "billing"})).json()
    assert [t["id"] for t in billing["items"]] == [2]
    first = (await http.get(base, headers=viewer, params={"limit": 1})).json()
    assert [t["id"] for t in first["items"]] == [2] and first["next_cursor"]
    rest = (await http.get(base, headers=viewer, params={"cursor": first["next_cursor"]})).json()
    assert [t["id"] for t in rest["items"]] == [1] and rest["next_cursor"] is None

    reopened = await http.put(
        f"{base}/1", headers=mod, json={"action": "reopen", "actor_id": moderator}
    )
    assert reopened.json()["status"] == "open" and reopened.json()["reopen_count"] == 1
    assert (await http.get(f"{base}/9", headers=viewer)).status_code == 404
