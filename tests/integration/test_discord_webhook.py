"""POST /discord/webhook: Discord's signed HTTP interactions, refused with 401 unless genuine."""

import contextlib
import json
import socket
import time

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from storage.models import Base

URL = "/discord/webhook"


@pytest.fixture
def private_key(api):
    key = Ed25519PrivateKey.generate()
    app = api._transport.app
    app.state.discord_public_key = (
        key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    )
    return key


def signed(key, payload, *, timestamp=None):
    body = json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "X-Signature-Ed25519": key.sign(ts.encode() + body).hex(),
        "X-Signature-Timestamp": ts,
        "Content-Type": "application/json",
    }
    return body, headers


async def row_counts(session_factory):
    async with session_factory() as session:
        return {
            t.name: await session.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


async def test_signed_ping_gets_pong(api, private_key):
    body, headers = signed(private_key, {"id": "1", "type": 1})
    resp = await api.post(URL, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"type": 1}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relayed(outcome):
    value = REGISTRY.get_sample_value("dcs_http_interactions_total", {"outcome": outcome})
    return value or 0.0


async def test_gateway_down_is_an_ephemeral_message_not_a_5xx(api, private_key):
    api._transport.app.state.interactions_relay_url = f"http://127.0.0.1:{closed_port()}"
    before = relayed("gateway_down")
    body, headers = signed(private_key, {"id": "2", "type": 2, "data": {"name": "warn"}})
    resp = await api.post(URL, content=body, headers=headers)
    assert resp.status_code == 200
    answer = resp.json()
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert "gateway process is not connected" in answer["data"]["content"]
    # autocomplete cannot show a message: no suggestions instead
    body, headers = signed(private_key, {"id": "5", "type": 4, "data": {"name": "event"}})
    resp = await api.post(URL, content=body, headers=headers)
    assert resp.json() == {"type": 8, "data": {"choices": []}}
    assert relayed("gateway_down") == before + 2


async def test_with_the_relay_turned_off_commands_get_a_pointer(api, private_key):
    api._transport.app.state.interactions_relay_url = None  # INTERACTIONS_RELAY_PORT=0
    body, headers = signed(private_key, {"id": "6", "type": 3, "data": {"custom_id": "x"}})
    resp = await api.post(URL, content=body, headers=headers)
    answer = resp.json()
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert "INTERACTIONS_RELAY_PORT" in answer["data"]["content"]


async def test_rejections_are_401_and_change_nothing(api, private_key, session_factory):
    before = await row_counts(session_factory)
    ping = {"id": "3", "type": 1}
    body, good = signed(private_key, ping)
    forged_body, forged = signed(Ed25519PrivateKey.generate(), ping)
    stale_body, stale = signed(private_key, ping, timestamp=int(time.time()) - 600)
    future_body, future = signed(private_key, ping, timestamp=int(time.time()) + 600)
    tampered = body.replace(b'"3"', b'"4"')
    cases = [
        ("missing headers", body, {"Content-Type": "application/json"}),
        ("forged signature", forged_body, forged),
        ("tampered body", tampered, good),
        ("stale timestamp", stale_body, stale),
        ("future timestamp", future_body, future),
    ]
    for what, content, headers in cases:
        resp = await api.post(URL, content=content, headers=headers)
        assert resp.status_code == 401, what
        error = resp.json()["error"]
        assert error["code"] == "unauthorized", what
        assert error["message"].startswith("Discord interaction refused"), what
    assert (await api.post(URL, content=body, headers=good)).status_code == 200
    replay = await api.post(URL, content=body, headers=good)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["error"]["message"]
    # the same interaction id signed again (a fresh signature) is a replay too
    again_body, again = signed(private_key, ping, timestamp=int(time.time()) - 1)
    assert (await api.post(URL, content=again_body, headers=again)).status_code == 401
    assert await row_counts(session_factory) == before


async def test_without_public_key_the_endpoint_is_unavailable(api, monkeypatch):
    monkeypatch.delenv("DISCORD_PUBLIC_KEY", raising=False)
    monkeypatch.chdir("/")  # no .env with a key
    resp = await api.post(URL, content=b"{}", headers={"X-Signature-Timestamp": "1"})
    assert resp.status_code == 503


async def test_a_malformed_public_key_is_503_not_a_crash(api):
    api._transport.app.state.discord_public_key = "not-hex"
    resp = await api.post(URL, content=b"{}", headers={"X-Signature-Timestamp": "1"})
    assert resp.status_code == 503
    assert "64 hex" in resp.json()["error"]["message"]


def test_where_the_api_finds_the_gateway_relay(monkeypatch, tmp_path):
    from dcs.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("HOST", "PORT", "URL"):
        monkeypatch.delenv(f"INTERACTIONS_RELAY_{name}", raising=False)
    assert load_settings().interactions_relay_base == "http://127.0.0.1:8767"
    anywhere = load_settings(interactions_relay_host="0.0.0.0", interactions_relay_port=9)
    assert anywhere.interactions_relay_base == "http://127.0.0.1:9"
    assert load_settings(interactions_relay_port=0).interactions_relay_base is None
    remote = load_settings(interactions_relay_url="http://gateway:8767/")
    assert remote.interactions_relay_base == "http://gateway:8767"


@contextlib.asynccontextmanager
async def fake_relay(name):
    """A gateway relay that records what reaches it and answers with its own name."""
    seen: list[tuple[bytes, str]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((await request.read(), request.headers.get("X-Signature-Ed25519", "")))
        return web.json_response({"type": 4, "data": {"content": f"answered by {name}"}})

    app = web.Application()
    app.router.add_post("/interactions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", seen
    finally:
        await runner.cleanup()


def guild_on_shard(shard: int, count: int = 4) -> int:
    """A guild id whose events Discord sends on `shard` of `count`: (id >> 22) % count."""
    guild_id = (1_700_000_000_000 << 22) | 4242
    while (guild_id >> 22) % count != shard:
        guild_id += 1 << 22
    return guild_id


async def test_interactions_are_relayed_to_the_shard_group_of_their_guild(
    api, private_key, monkeypatch, tmp_path
):
    """INTERACTIONS_RELAY_URLS with DISCORD_SHARD_COUNT=4: shards 0-1 in group 0, 2-3 in group 1."""
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("INTERACTIONS_RELAY_URL", raising=False)
    async with fake_relay("group 0") as (url0, group0), fake_relay("group 1") as (url1, group1):
        monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
        monkeypatch.setenv("INTERACTIONS_RELAY_URLS", f"0-1={url0},2-3={url1}")
        state = api._transport.app.state
        assert not hasattr(state, "interactions_relay_url")  # read from the settings on first use

        async def send(interaction_id, guild_id=None):
            payload = {"id": interaction_id, "type": 2, "data": {"name": "rank"}}
            if guild_id is not None:
                payload["guild_id"] = str(guild_id)
            body, headers = signed(private_key, payload)
            resp = await api.post(URL, content=body, headers=headers)
            assert resp.status_code == 200, resp.text
            return body, headers, resp.json()["data"]["content"]

        before = relayed("answered")
        # a guild of shard 3 reaches group 1's relay, byte for byte with Discord's signature
        body, headers, answer = await send("31", guild_on_shard(3))
        assert answer == "answered by group 1"
        assert group1 == [(body, headers["X-Signature-Ed25519"])] and group0 == []
        # shard 2: group 1 too; shards 0 and 1: group 0
        assert (await send("32", guild_on_shard(2)))[2] == "answered by group 1"
        assert (await send("33", guild_on_shard(1)))[2] == "answered by group 0"
        assert (await send("34", guild_on_shard(0)))[2] == "answered by group 0"
        # a direct message (no guild_id) arrives on shard 0: group 0
        body, _, answer = await send("35")
        assert answer == "answered by group 0" and group0[-1][0] == body
        assert len(group0) == 3 and len(group1) == 2
        assert relayed("answered") == before + 5
        assert (
            state.interactions_relay_routes.urls
            == (url0.rstrip("/"),) * 2 + (url1.rstrip("/"),) * 2
        )


async def test_a_dead_shard_group_answers_its_guilds_with_the_gateway_down_message(
    api, private_key
):
    from dcs.settings import parse_relay_urls

    async with fake_relay("group 0") as (url0, group0):
        state = api._transport.app.state
        state.interactions_relay_url = None
        dead = f"http://127.0.0.1:{closed_port()}"
        state.interactions_relay_routes = parse_relay_urls(f"0-1={url0},2-3={dead}", 4)
        before = relayed("gateway_down")
        payload = {"id": "41", "type": 2, "guild_id": str(guild_on_shard(2)), "data": {}}
        body, headers = signed(private_key, payload)
        answer = (await api.post(URL, content=body, headers=headers)).json()
        assert "gateway process is not connected" in answer["data"]["content"]
        assert relayed("gateway_down") == before + 1
        payload = {"id": "42", "type": 2, "guild_id": str(guild_on_shard(1)), "data": {}}
        body, headers = signed(private_key, payload)
        answer = (await api.post(URL, content=body, headers=headers)).json()
        assert answer["data"]["content"] == "answered by group 0" and len(group0) == 1
