"""Gateway WebSocket: HELLO/IDENTIFY/heartbeat/RESUME, intent-filtered dispatch, replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads
from .config import SimulatorConfig
from .intents import (
    ALL_INTENTS,
    MESSAGE_EVENTS,
    Intent,
    content_visible,
    required_intent,
    strip_content,
)
from .permissions import Perm
from .world import World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11
KNOWN_OPS = {HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME, REQUEST_MEMBERS}
CHUNK_SIZE = 1000


@dataclass
class ReceivedOp:
    """One payload a client sent us (kept so tests can assert e.g. a RESUME happened)."""

    op: int
    data: Any
    session_id: str | None
    at: float


@dataclass
class DispatchedEvent:
    """One dispatch the world produced (before per-session intent filtering)."""

    event: str
    data: dict[str, Any]
    at: float


@dataclass
class _Close:
    code: int
    reason: str


@dataclass
class GatewaySession:
    """A resumable gateway session created by IDENTIFY."""

    session_id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=deque)
    connection: GatewayConnection | None = None
    disconnected_at: float | None = None
    resumes: int = 0
    presence: dict[str, Any] | None = None
    sharded: bool = False

    def has(self, intent: int) -> bool:
        """Whether this session asked for ``intent``."""
        return bool(self.intents & intent)


class GatewayConnection:
    """One WebSocket; a writer task drains its queue so dispatch stays synchronous."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self.last_heartbeat = time.monotonic()
        self.compressor = zlib.compressobj() if compress else None
        self.server_closed = False
        self.writer = asyncio.create_task(self._write())

    def send(self, payload: dict[str, Any] | str) -> None:
        """Queue a payload for sending (serialising dicts)."""
        self.queue.put_nowait(payload if isinstance(payload, str) else json.dumps(payload))

    def close(self, code: int, reason: str = "") -> None:
        """Queue a close frame after everything already queued."""
        self.queue.put_nowait(_Close(code, reason))

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, _Close):
                    self.server_closed = True
                    await self.ws.close(code=item.code, message=item.reason.encode())
                    return
                if self.compressor is not None:
                    raw = self.compressor.compress(item.encode()) + self.compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await self.ws.send_bytes(raw)
                else:
                    await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return
            finally:
                self.queue.task_done()


class GatewayHub:
    """All gateway sessions; the simulator calls ``dispatch`` whenever the world changes."""

    def __init__(self, world: World, config: SimulatorConfig) -> None:
        self.world = world
        self.config = config
        self.gateway_url = ""
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.received: deque[ReceivedOp] = deque(maxlen=50_000)
        self.dispatched: deque[DispatchedEvent] = deque(maxlen=100_000)
        self._identified = asyncio.Event()

    # ----------------------------------------------------------------- dispatch
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every session whose intents, shard and permissions allow it."""
        self.dispatched.append(DispatchedEvent(event, data, time.time()))
        self._expire_sessions()
        for session in list(self.sessions.values()):
            payload = self._filter_for(session, event, data)
            if payload is not None:
                self._send_dispatch(session, event, payload)

    def _filter_for(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        need = required_intent(event, data)
        if need and not session.has(need):
            return None
        guild_id = int(data.get("guild_id") or 0)
        shard_id, shard_count = session.shard
        if guild_id and (guild_id >> 22) % shard_count != shard_id:
            return None
        if not guild_id and shard_id != 0:  # Discord sends DMs, and their interactions, on shard 0
            return None
        channel_id = data.get("channel_id")
        if guild_id and channel_id and event != "INTERACTION_CREATE":
            channel = self.world.channels.get(int(channel_id))
            if channel is not None and not (
                self.world.channel_permissions(channel, self.world.bot_id) & Perm.VIEW_CHANNEL
            ):
                return None
        if event in MESSAGE_EVENTS and not session.has(Intent.MESSAGE_CONTENT):
            if not content_visible(data, self.world.bot_id):
                return strip_content(data)
        return data

    def _send_dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        raw = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.buffer.append((session.seq, raw))
        while len(session.buffer) > self.config.replay_buffer:
            session.buffer.popleft()
        if session.connection is not None:
            session.connection.send(raw)

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for sid, session in list(self.sessions.items()):
            gone = session.disconnected_at
            if session.connection is None and gone and now - gone > self.config.resume_window:
                del self.sessions[sid]

    # ----------------------------------------------------------------- control hooks
    def _targets(self, session_id: str | None) -> list[GatewaySession]:
        return [
            s
            for s in self.sessions.values()
            if s.connection is not None and (session_id is None or s.session_id == session_id)
        ]

    def disconnect(self, session_id: str | None = None, code: int = 4000) -> int:
        """Force-close live connections (resumable unless the code says otherwise)."""
        targets = self._targets(session_id)
        for session in targets:
            if session.connection is not None:
                session.connection.close(code, "Simulator forced disconnect")
        return len(targets)

    def request_reconnect(self, session_id: str | None = None) -> int:
        """Send op 7 RECONNECT, asking clients to reconnect and resume."""
        targets = self._targets(session_id)
        for session in targets:
            if session.connection is not None:
                session.connection.send({"op": RECONNECT, "d": None, "s": None, "t": None})
        return len(targets)

    def invalidate(self, session_id: str | None = None, resumable: bool = False) -> int:
        """Send op 9 INVALID_SESSION; non-resumable sessions are forgotten."""
        targets = self._targets(session_id)
        for session in targets:
            if session.connection is not None:
                session.connection.send(
                    {"op": INVALID_SESSION, "d": resumable, "s": None, "t": None}
                )
            if not resumable:
                self.sessions.pop(session.session_id, None)
        return len(targets)

    def received_ops(self, op: int | None = None) -> list[ReceivedOp]:
        """Payloads clients sent, optionally only one opcode."""
        return [r for r in self.received if op is None or r.op == op]

    def events(self, event: str | None = None) -> list[DispatchedEvent]:
        """Dispatches the world produced, optionally only one event name."""
        return [d for d in self.dispatched if event is None or d.event == event]

    async def wait_identified(self, timeout: float = 10.0) -> None:
        """Wait until at least one client has identified."""
        await asyncio.wait_for(self._identified.wait(), timeout)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued payload has been written to its socket."""
        async with asyncio.timeout(timeout):
            for conn in list(self.connections):
                if not conn.writer.done():
                    await conn.queue.join()

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections):
            conn.close(1001, "Simulator shutting down")
        for conn in list(self.connections):
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(conn.writer), 2.0)
            conn.writer.cancel()

    # ----------------------------------------------------------------- socket handler
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Aiohttp handler for ``/gateway``."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        compress = (
            self.config.gateway_compression and request.query.get("compress") == "zlib-stream"
        )
        conn = GatewayConnection(ws, compress)
        self.connections.add(conn)
        watchdog = asyncio.create_task(self._watchdog(conn))
        conn.send(
            {
                "op": HELLO,
                "d": {
                    "heartbeat_interval": self.config.heartbeat_interval_ms,
                    "_trace": ["discord-simulator"],
                },
                "s": None,
                "t": None,
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.close(4002, "Decode error")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            watchdog.cancel()
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                session.disconnected_at = time.monotonic()
                if not conn.server_closed and ws.close_code in (1000, 1001):
                    # A clean client-side close ends the session, as on Discord.
                    self.sessions.pop(session.session_id, None)
            if not conn.writer.done():
                conn.close(1000, "")
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(conn.writer), 1.0)
                conn.writer.cancel()
        return ws

    async def _watchdog(self, conn: GatewayConnection) -> None:
        interval = self.config.heartbeat_interval_ms / 1000
        limit = interval * self.config.heartbeat_timeout_factor
        while True:
            await asyncio.sleep(interval / 2)
            if time.monotonic() - conn.last_heartbeat > limit:
                conn.close(4009, "Session timed out")
                return

    async def _on_text(self, conn: GatewayConnection, text: str) -> None:
        try:
            payload = json.loads(text)
            op = int(payload["op"])
        except (ValueError, KeyError, TypeError):
            conn.close(4002, "Error while decoding payload.")
            return
        data = payload.get("d")
        sid = conn.session.session_id if conn.session else None
        self.received.append(ReceivedOp(op, data, sid, time.time()))
        if op not in KNOWN_OPS:
            conn.close(4001, "Unknown opcode.")
        elif op == HEARTBEAT:
            conn.last_heartbeat = time.monotonic()
            conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            self._identify(conn, data or {})
        elif op == RESUME:
            self._resume(conn, data or {})
        elif conn.session is None:
            conn.close(4003, "Not authenticated.")
        elif op == REQUEST_MEMBERS:
            self._request_members(conn.session, data or {})
        elif op == PRESENCE:
            conn.session.presence = data

    def _token_ok(self, token: Any) -> bool:
        if not isinstance(token, str) or not token:
            return False
        token = token.removeprefix("Bot ")
        return self.config.token is None or secrets.compare_digest(token, self.config.token)

    def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return
        if not self._token_ok(data.get("token")):
            conn.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            conn.close(4013, "Invalid intent(s).")
            return
        privileged = int(Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT)
        if intents & privileged & ~self.config.privileged_intents:
            conn.close(4014, "Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        if len(shard) != 2 or not 0 <= int(shard[0]) < int(shard[1]):
            conn.close(4010, "Invalid shard.")
            return
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            intents=intents,
            shard=(int(shard[0]), int(shard[1])),
            connection=conn,
            presence=data.get("presence"),
            sharded="shard" in data,
        )
        conn.session = session
        self.sessions[session.session_id] = session
        self._send_dispatch(session, "READY", self._ready(session))
        if session.has(Intent.GUILDS):
            for guild in self.world.guilds.values():
                if self.world.bot_id not in guild.members:
                    continue
                if (guild.id >> 22) % session.shard[1] != session.shard[0]:
                    continue
                payload = payloads.guild_create(
                    self.world,
                    guild,
                    include_members=session.has(Intent.GUILD_PRESENCES),
                    bot_id=self.world.bot_id,
                )
                self._send_dispatch(session, "GUILD_CREATE", payload)
        self._identified.set()

    def _ready(self, session: GatewaySession) -> dict[str, Any]:
        world = self.world
        guilds = [
            {"id": str(g.id), "unavailable": True}
            for g in world.guilds.values()
            if world.bot_id in g.members and (g.id >> 22) % session.shard[1] == session.shard[0]
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": payloads.bot_user(world.users[world.bot_id]),
            "guilds": guilds,
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(world.application_id), "flags": 0},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["discord-simulator"],
        }
        if session.sharded:
            ready["shard"] = list(session.shard)
        return ready

    def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return
        if not self._token_ok(data.get("token")):
            conn.close(4004, "Authentication failed.")
            return
        self._expire_sessions()
        session = self.sessions.get(str(data.get("session_id")))
        raw_seq = data.get("seq")
        seq = raw_seq if isinstance(raw_seq, int) else -1
        oldest = session.buffer[0][0] if session and session.buffer else None
        if (
            session is None
            or not 0 <= seq <= session.seq
            or (oldest is not None and seq < oldest - 1)
        ):
            conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.connection is not None and session.connection is not conn:
            session.connection.close(4000, "Session resumed elsewhere")
        session.connection = conn
        session.disconnected_at = None
        session.resumes += 1
        conn.session = session
        for number, raw in session.buffer:
            if number > seq:
                conn.send(raw)
        self._send_dispatch(session, "RESUMED", {"_trace": ["discord-simulator"]})

    def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        query = data.get("query")
        limit = int(data.get("limit") or 0)
        user_ids = [int(u) for u in data.get("user_ids") or []]
        members = list(guild.members.values())
        not_found: list[str] = []
        if user_ids:
            not_found = [str(u) for u in user_ids if u not in guild.members]
            members = [m for m in members if m.user_id in set(user_ids)]
        elif query:
            needle = str(query).lower()
            members = [
                m
                for m in members
                if self.world.users[m.user_id].username.lower().startswith(needle)
                or (m.nick or "").lower().startswith(needle)
            ]
        if limit and (query or user_ids):
            members = members[:limit]
        chunks = [members[i : i + CHUNK_SIZE] for i in range(0, len(members), CHUNK_SIZE)] or [[]]
        for index, chunk in enumerate(chunks):
            payload: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [payloads.member(self.world, m) for m in chunk],
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if not_found and index == 0:
                payload["not_found"] = not_found
            if data.get("nonce") is not None:
                payload["nonce"] = data["nonce"]
            self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", payload)
