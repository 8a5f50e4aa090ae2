"""Gateway protocol details over a raw WebSocket, plus discord.py reconnect paths."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest_asyncio

from simulator import DiscordSimulator, Intent, SimulatorConfig
from simulator.testing import RecordingClient, connected_client, default_intents

HELLO, HEARTBEAT, IDENTIFY, RESUME, REQUEST_MEMBERS = 10, 1, 2, 6, 8
INVALID_SESSION, HEARTBEAT_ACK = 9, 11


class RawGateway:
    """A bare-bones gateway client for protocol-level assertions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj()

    async def recv(self, timeout: float = 2.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.BINARY:
            raw = self.inflater.decompress(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            raw = msg.data
        else:
            raise ConnectionError(f"closed: {msg.type} {self.ws.close_code}")
        payload: dict[str, Any] = json.loads(raw)
        return payload

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def identify(self, intents: int, token: str = "raw-token") -> dict[str, Any]:
        await self.send(IDENTIFY, {"token": token, "intents": intents, "properties": {}})
        return await self.recv()

    async def next_dispatch(self, name: str, timeout: float = 2.0) -> dict[str, Any]:
        while True:
            payload = await self.recv(timeout)
            if payload.get("t") == name:
                return payload

    async def expect_close(self, timeout: float = 2.0) -> int | None:
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code


@pytest_asyncio.fixture(scope="module")
async def sim() -> AsyncIterator[DiscordSimulator]:
    async with DiscordSimulator() as simulator:
        yield simulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def connect(
    http: aiohttp.ClientSession, sim: DiscordSimulator, query: str = ""
) -> RawGateway:
    ws = await http.ws_connect(f"{sim.gateway_url}?v=10&encoding=json{query}")
    return RawGateway(ws)


async def test_hello_heartbeat_identify_and_guild_create(
    sim: DiscordSimulator, http: aiohttp.ClientSession
) -> None:
    gw = await connect(http, sim)
    hello = await gw.recv()
    assert hello["op"] == HELLO and hello["d"]["heartbeat_interval"] == 41_250
    await gw.send(HEARTBEAT, None)
    assert (await gw.recv())["op"] == HEARTBEAT_ACK
    ready = await gw.identify(int(Intent.GUILDS | Intent.GUILD_MESSAGES))
    assert ready["t"] == "READY" and ready["s"] == 1
    d = ready["d"]
    assert d["v"] == 10 and d["user"]["id"] == str(sim.world.bot_id)
    assert d["guilds"] == [{"id": str(sim.world.guild_id), "unavailable": True}]
    assert d["resume_gateway_url"] == sim.gateway_url and d["session_id"]
    assert d["application"] == {"id": str(sim.world.application_id), "flags": 0}
    create = await gw.recv()
    assert create["t"] == "GUILD_CREATE" and create["s"] == 2
    guild = create["d"]
    assert guild["member_count"] == len(sim.world.guilds[sim.world.guild_id].members)
    assert [m["user"]["id"] for m in guild["members"]] == [str(sim.world.bot_id)]
    assert {c["name"] for c in guild["channels"]} >= {"general", "mod-log"}
    await gw.ws.close()


async def test_intents_filter_events_and_content(
    sim: DiscordSimulator, http: aiohttp.ClientSession
) -> None:
    gw = await connect(http, sim)
    await gw.recv()
    await gw.identify(int(Intent.GUILDS | Intent.GUILD_MESSAGES))
    await gw.next_dispatch("GUILD_CREATE")
    await sim.member_join("filtered-joiner")
    target = await sim.post_message("general", "alice", "first")
    await sim.add_reaction("general", target.id, "bob", "🔥")
    await sim.post_message("general", "alice", "second words")
    first = await gw.recv()
    second = await gw.recv()
    assert [first["t"], second["t"]] == ["MESSAGE_CREATE", "MESSAGE_CREATE"]
    assert first["d"]["content"] == "" and second["d"]["content"] == ""
    assert second["s"] == first["s"] + 1
    await gw.ws.close()

    gw = await connect(http, sim)
    await gw.recv()
    everything = int(Intent.GUILDS | Intent.GUILD_MEMBERS | Intent.GUILD_MESSAGE_REACTIONS)
    await gw.identify(everything | int(Intent.GUILD_MESSAGES | Intent.MESSAGE_CONTENT))
    await gw.next_dispatch("GUILD_CREATE")
    await sim.member_join("seen-joiner")
    assert (await gw.recv())["t"] == "GUILD_MEMBER_ADD"
    await sim.add_reaction("general", target.id, "carol", "🔥")
    assert (await gw.recv())["t"] == "MESSAGE_REACTION_ADD"
    await sim.post_message("general", "alice", "visible")
    assert (await gw.recv())["d"]["content"] == "visible"
    await sim.post_message("mod-log", "moderator", "staff only")
    await gw.send(
        REQUEST_MEMBERS,
        {"guild_id": str(sim.world.guild_id), "query": "ali", "limit": 5, "nonce": "n1"},
    )
    chunk = await gw.recv()
    assert chunk["t"] == "MESSAGE_CREATE" and chunk["d"]["content"] == "staff only"
    chunk = await gw.recv()
    assert chunk["t"] == "GUILD_MEMBERS_CHUNK" and chunk["d"]["nonce"] == "n1"
    assert [m["user"]["username"] for m in chunk["d"]["members"]] == ["alice"]
    await gw.ws.close()


async def test_hidden_channel_events_are_not_delivered(
    sim: DiscordSimulator, http: aiohttp.ClientSession
) -> None:
    gw = await connect(http, sim)
    await gw.recv()
    await gw.identify(int(Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.MESSAGE_CONTENT))
    await gw.next_dispatch("GUILD_CREATE")
    events = sim.world.channels[sim.world.channel("events")]
    bot_role = sim.world.bot_role_id
    from simulator.models import Overwrite

    sim.engine.set_overwrite(events, Overwrite(bot_role, 0, 0, 1 << 10), actor_id=None, reason=None)
    assert (await gw.recv())["t"] == "CHANNEL_UPDATE"
    await sim.post_message("events", "alice", "you cannot see this")
    await sim.post_message("general", "alice", "but this")
    assert (await gw.recv())["d"]["content"] == "but this"
    sim.engine.delete_overwrite(events, bot_role, actor_id=None, reason=None)
    await gw.ws.close()


async def test_resume_replays_and_invalid_session(
    sim: DiscordSimulator, http: aiohttp.ClientSession
) -> None:
    gw = await connect(http, sim)
    await gw.recv()
    ready = await gw.identify(int(Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.MESSAGE_CONTENT))
    session_id = ready["d"]["session_id"]
    create = await gw.next_dispatch("GUILD_CREATE")
    await gw.ws.close(code=4000)  # a 1000/1001 close would end the session
    await asyncio.sleep(0.05)
    missed = await sim.post_message("general", "bob", "while offline")

    gw = await connect(http, sim)
    await gw.recv()
    await gw.send(RESUME, {"token": "raw", "session_id": session_id, "seq": create["s"]})
    replayed = await gw.recv()
    assert replayed["t"] == "MESSAGE_CREATE" and replayed["d"]["id"] == str(missed.id)
    assert replayed["s"] == create["s"] + 1
    resumed = await gw.recv()
    assert resumed["t"] == "RESUMED" and resumed["s"] == replayed["s"] + 1
    await gw.ws.close()

    gw = await connect(http, sim)
    await gw.recv()
    await gw.send(RESUME, {"token": "raw", "session_id": "nope", "seq": 3})
    invalid = await gw.recv()
    assert invalid["op"] == INVALID_SESSION and invalid["d"] is False
    await gw.ws.close()


async def test_protocol_errors_close_with_discord_codes(http: aiohttp.ClientSession) -> None:
    config = SimulatorConfig(token="only-this", privileged_intents=0, heartbeat_interval_ms=100)
    async with DiscordSimulator(config) as strict:
        gw = await connect(http, strict)
        await gw.recv()
        await gw.send(IDENTIFY, {"token": "wrong", "intents": 1, "properties": {}})
        assert await gw.expect_close() == 4004

        gw = await connect(http, strict)
        await gw.recv()
        await gw.send(IDENTIFY, {"token": "only-this", "intents": int(Intent.MESSAGE_CONTENT)})
        assert await gw.expect_close() == 4014

        gw = await connect(http, strict)
        await gw.recv()
        await gw.send(REQUEST_MEMBERS, {"guild_id": "1"})
        assert await gw.expect_close() == 4003

        gw = await connect(http, strict)
        await gw.recv()
        await gw.send(42, {})
        assert await gw.expect_close() == 4001

        gw = await connect(http, strict)
        await gw.recv()
        assert await gw.expect_close(timeout=2.0) == 4009


async def test_zlib_stream_compression(http: aiohttp.ClientSession) -> None:
    async with DiscordSimulator(SimulatorConfig(gateway_compression=True)) as compressing:
        gw = await connect(http, compressing, "&compress=zlib-stream")
        msg = await gw.ws.receive(timeout=2)
        assert msg.type == aiohttp.WSMsgType.BINARY and msg.data.endswith(b"\x00\x00\xff\xff")
        assert json.loads(gw.inflater.decompress(msg.data))["op"] == HELLO
        await gw.ws.close()
        async with connected_client(compressing) as client:
            mark = client.mark()
            await compressing.post_message("general", "alice", "squeezed")
            message: discord.Message = await client.next_event("message", since=mark)
            assert message.content == "squeezed"


class NoIdentifyDelayClient(RecordingClient):
    """discord.py sleeps 5 s before every re-IDENTIFY by default; skip that in tests."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_discord_py_follows_reconnect_and_invalid_session(sim: DiscordSimulator) -> None:
    client = NoIdentifyDelayClient(intents=default_intents(), guild_ready_timeout=0.05)
    async with connected_client(sim, client=client):
        resumes = len(sim.gateway_ops(RESUME))
        mark = client.mark()
        assert sim.gateway.request_reconnect() >= 1
        await client.next_event("resumed", since=mark, timeout=5)
        assert len(sim.gateway_ops(RESUME)) == resumes + 1

        identifies = len(sim.gateway_ops(IDENTIFY))
        mark = client.mark()
        assert sim.gateway.invalidate(resumable=False) >= 1
        await client.next_event("ready", since=mark, timeout=10)
        assert len(sim.gateway_ops(IDENTIFY)) == identifies + 1
        mark = client.mark()
        await sim.post_message("general", "carol", "new session works")
        message: discord.Message = await client.next_event("message", since=mark)
        assert message.content == "new session works"


async def test_discord_py_file_upload_becomes_attachment(
    sim: DiscordSimulator, http: aiohttp.ClientSession
) -> None:
    import io

    async with connected_client(sim) as client:
        channel = client.get_channel(sim.world.channel("mod-log"))
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("evidence", file=discord.File(io.BytesIO(b"log data"), "log.txt"))
        assert sent.attachments[0].filename == "log.txt"
        async with http.get(sent.attachments[0].url) as resp:
            assert await resp.read() == b"log data"
        stored = sim.world.get_message(channel.id, sent.id)
        assert stored.content == "evidence" and stored.attachments[0].data == b"log data"


async def test_standalone_process_serves_and_prints_url(http: aiohttp.ClientSession) -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert line.startswith("Discord simulator listening on http://127.0.0.1:")
        base = line.split()[-1]
        async with http.get(f"{base}/_sim/health") as resp:
            assert resp.status == 200 and (await resp.json())["ok"] is True
        async with http.get(
            f"{base}/api/v10/gateway/bot", headers={"Authorization": "Bot x"}
        ) as resp:
            data = await resp.json()
            assert data["url"].startswith("ws://127.0.0.1:") and data["shards"] == 1
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) is not None


async def test_multiple_clients_share_one_world(sim: DiscordSimulator) -> None:
    async with connected_client(sim) as first, connected_client(sim) as second:
        marks = (first.mark(), second.mark())
        await sim.post_message("general", "alice", "broadcast")
        for client, mark in zip((first, second), marks, strict=True):
            message: discord.Message = await client.next_event("message", since=mark)
            assert message.content == "broadcast"
        assert len([s for s in sim.gateway.sessions.values() if s.connection]) >= 2


class QuickShardedClient(discord.AutoShardedClient):
    """Skip discord.py's 5 s pause between shard IDENTIFYs."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_auto_sharded_client_routes_guild_to_its_shard(sim: DiscordSimulator) -> None:
    client = QuickShardedClient(intents=default_intents(), shard_count=2, guild_ready_timeout=0.05)
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def on_message(message: discord.Message) -> None:
        seen.put_nowait(message)

    client.event(on_message)
    restore = sim.patch_discord_py()
    runner = asyncio.create_task(client.start("sharded"))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        guild = client.get_guild(sim.world.guild_id)
        assert guild is not None and guild.shard_id == (sim.world.guild_id >> 22) % 2
        shards = {s.shard for s in sim.gateway.sessions.values() if s.connection}
        assert {(0, 2), (1, 2)} <= shards
        await sim.post_message("general", "alice", "to the right shard")
        message = await asyncio.wait_for(seen.get(), 5)
        assert message.content == "to the right shard"
    finally:
        await client.close()
        await asyncio.wait_for(runner, 5)
        restore()
    assert not any(s.shard[1] == 2 for s in sim.gateway.sessions.values())
