"""Raid endpoints through the API on a real database, the Temporal dev server, the real lockdown
workflow and activities, and the simulator: status, lockdown, unlock, history, scopes."""

import contextlib

import httpx
import pytest
from moderation_harness import Helpers
from raid_harness import configure_raid, make_worker, server_state
from support import eventually

from api.app import create_app
from simulator import DiscordSimulator
from workflows.raid import raid_workflow_id


@pytest.fixture
async def setup(session_factory, temporal_env, task_queue):
    client = temporal_env.client
    async with DiscordSimulator() as sim:
        app = create_app(session_factory, temporal=client, task_queue=task_queue)
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                make_worker(client, task_queue, session_factory, sim, Helpers()),
                httpx.AsyncClient(transport=transport, base_url="http://api") as http,
            ):
                yield sim, http
        finally:
            with contextlib.suppress(Exception):  # one dev server serves every test
                await client.get_workflow_handle(raid_workflow_id(sim.world.guild_id)).terminate()


async def test_lockdown_and_unlock_through_the_api(setup, session_factory, token):
    sim, http = setup
    guild = sim.world.guild_id
    await configure_raid(session_factory, sim, quiet_minutes=600)
    before = server_state(sim)
    base = f"/api/servers/{guild}/raid"
    viewer = await token("viewer", guild=guild)
    moderator = await token("moderator", guild=guild)

    idle = await http.get(base, headers=viewer)
    assert idle.status_code == 200 and idle.json() == {"active": False, "lockdown": None}
    refused = await http.post(f"{base}/lockdown", headers=viewer, json={"reason": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = await http.post(f"{base}/lockdown", headers=moderator, json={"duration_minutes": 0})
    assert bad.status_code == 422 and "error" in bad.json()
    assert (await http.post(f"{base}/unlock", headers=moderator, json={})).status_code == 409

    started = await http.post(f"{base}/lockdown", headers=moderator, json={"reason": "drill"})
    assert started.status_code == 202 and started.json()["workflow_id"] == f"raid:{guild}"
    live = await eventually(lambda: _active(http, base, viewer))
    assert live["lockdown"]["trigger"] == "api" and live["lockdown"]["reason"] == "drill"
    assert live["lockdown"]["channels_locked"] == 4
    assert server_state(sim)["verification_level"] == 3

    lifted = await http.post(f"{base}/unlock", headers=moderator, json={"reason": "over"})
    assert lifted.status_code == 202
    await eventually(lambda: server_state(sim) == before)
    page = await eventually(lambda: _lifted_page(http, base, viewer))
    (item,) = page["items"]
    assert item["incident_number"] == 1 and item["lifted_by"].startswith("api:token:")
    detail = (await http.get(f"{base}/incidents/1", headers=viewer)).json()
    assert len(detail["snapshot"]["channels"]) == 4
    assert any("lifted" in line["what"] for line in detail["log"])
    missing = await http.get(f"{base}/incidents/99", headers=viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def _active(http, base, headers):
    body = (await http.get(base, headers=headers)).json()
    locked = body["active"] and body["lockdown"]["incident_number"] is not None
    return body if locked else None


async def _lifted_page(http, base, headers):
    body = (await http.get(f"{base}/incidents", headers=headers)).json()
    return body if body["items"] and body["items"][0]["status"] == "lifted" else None


async def test_a_token_for_another_server_sees_nothing(setup, token):
    sim, http = setup
    other = await token("admin", guild=sim.world.guild_id + 1)
    base = f"/api/servers/{sim.world.guild_id}/raid"
    for method, path in (("GET", ""), ("GET", "/incidents"), ("POST", "/lockdown")):
        resp = await http.request(method, base + path, headers=other, json={})
        assert resp.status_code == 403, (method, path, resp.text)
