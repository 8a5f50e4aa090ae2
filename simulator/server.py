"""``DiscordSimulator``: one local Discord (REST + gateway + control API) on aiohttp."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from . import payloads
from .app import build_app
from .config import SimulatorConfig
from .discordpy import point_discord_py_at
from .engine import Engine
from .faults import FaultInjector, FaultRule
from .gateway import DispatchedEvent, GatewayHub, ReceivedOp
from .interactions import InteractionRecord, InteractionRegistry
from .models import Attachment, Message
from .ratelimit import RateLimiter
from .recorder import RecordedRequest, RequestLog
from .scripting import ChannelRef, ScriptingMixin
from .scripting_admin import StaffScriptingMixin
from .snowflake import iso
from .world import World


class DiscordSimulator(ScriptingMixin, StaffScriptingMixin):
    """A self-contained fake Discord that the real discord.py client can talk to."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.world = World(self.config)
        self.gateway = GatewayHub(self.world, self.config)
        self.engine = Engine(self.world, self.gateway, self.config)
        self.interactions = InteractionRegistry()
        self.faults = FaultInjector()
        self.limiter = RateLimiter(self.config.ratelimits)
        self.request_log = RequestLog(self.config.max_recorded_requests)
        self.attachments: dict[int, Attachment] = {}
        self._last_post: dict[tuple[int, int], float] = {}
        self.background: set[asyncio.Future[Any]] = set()
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running simulator."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """REST base to assign to ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """WebSocket URL returned by ``/gateway/bot`` and used for RESUME."""
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> DiscordSimulator:
        """Bind and serve (port 0 picks a free port; see ``port``/``base_url``)."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.host, self.port = host, sock.getsockname()[1]
        self.gateway.gateway_url = self.gateway_url
        runner = web.AppRunner(build_app(self), shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Close every gateway connection and stop serving."""
        if self._runner is None:
            return
        for task in list(self.background):
            task.cancel()
        await self.gateway.close_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> DiscordSimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def patch_discord_py(self) -> Callable[[], None]:
        """Point discord.py (process-wide) at this simulator; returns an undo function."""
        return point_discord_py_at(self.base_url)

    # ----------------------------------------------------------------- inspection
    def requests(
        self, method: str | None = None, route: str | None = None, status: int | None = None
    ) -> list[RecordedRequest]:
        """Recorded REST requests, filtered by method and/or route template."""
        return self.request_log.filter(method, route, status)

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        self.request_log.clear()

    def inject_fault(
        self,
        path: str,
        status: int,
        *,
        method: str | None = None,
        count: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
        code: int | None = None,
        message: str | None = None,
    ) -> FaultRule:
        """Answer the next ``count`` requests matching method + path regex with ``status``."""
        return self.faults.add(
            path,
            status,
            method=method,
            count=count,
            retry_after=retry_after,
            is_global=is_global,
            code=code,
            message=message,
        )

    def clear_faults(self) -> None:
        """Disarm all injected faults."""
        self.faults.clear()

    def gateway_ops(self, op: int | None = None) -> list[ReceivedOp]:
        """Gateway payloads clients sent (e.g. ``op=6`` for RESUME)."""
        return self.gateway.received_ops(op)

    def dispatched(self, event: str | None = None) -> list[DispatchedEvent]:
        """Gateway events the world produced, e.g. ``dispatched("GUILD_BAN_ADD")``."""
        return self.gateway.events(event)

    def disconnect_gateway(self, session_id: str | None = None, code: int = 4000) -> int:
        """Force-close gateway connections (4000 = resumable); returns how many."""
        return self.gateway.disconnect(session_id, code)

    async def wait_for_identify(self, timeout: float = 10.0) -> None:
        """Wait until some client has identified on the gateway."""
        await self.gateway.wait_identified(timeout)

    def messages(self, channel: ChannelRef) -> list[Message]:
        """Messages currently in a channel (by name or id), oldest first."""
        return self.world.channel_messages(self.world.resolve_channel(channel).id)

    def dm_messages(self, user: str | int) -> list[Message]:
        """Messages in the DM channel between the bot and a user."""
        user_id = self.world.resolve_user(user).id
        channel_id = self.world.dm_channels.get(user_id)
        return self.world.channel_messages(channel_id) if channel_id else []

    def interaction(self, interaction_id: int) -> InteractionRecord:
        """A scripted interaction by id."""
        return self.interactions.by_id[int(interaction_id)]

    def state(self) -> dict[str, Any]:
        """Summary of the world (guilds, channels, members, bans, messages)."""
        world = self.world
        guilds = []
        for guild in world.guilds.values():
            guilds.append(
                {
                    "id": str(guild.id),
                    "name": guild.name,
                    "owner_id": str(guild.owner_id),
                    "verification_level": guild.verification_level,
                    "incidents": payloads.incidents(guild),
                    "member_count": len(guild.members),
                    "members": [
                        {
                            "id": str(m.user_id),
                            "username": world.users[m.user_id].username,
                            "nick": m.nick,
                            "roles": [guild.roles[r].name for r in m.roles if r in guild.roles],
                            "joined_at": iso(m.joined_at),
                            "timed_out_until": iso(m.communication_disabled_until)
                            if world.is_timed_out(m)
                            else None,
                        }
                        for m in guild.members.values()
                    ],
                    "channels": [
                        {
                            "id": str(c.id),
                            "name": c.name,
                            "type": int(c.type),
                            "parent_id": str(c.parent_id) if c.parent_id else None,
                            "slowmode": c.rate_limit_per_user,
                            "message_count": len(world.messages.get(c.id, {})),
                        }
                        for c in world.guild_channels(guild.id)
                    ],
                    "roles": [
                        {"id": str(r.id), "name": r.name, "position": r.position}
                        for r in sorted(guild.roles.values(), key=lambda r: r.position)
                    ],
                    "bans": [
                        {"user_id": str(b.user_id), "reason": b.reason} for b in guild.bans.values()
                    ],
                    "invites": [i.code for i in guild.invites.values()],
                    "scheduled_events": [
                        {"id": str(e.id), "name": e.name, "status": e.status}
                        for e in guild.scheduled_events.values()
                    ],
                    "audit_log_entries": len(guild.audit_log),
                }
            )
        recent = sorted(
            (m for chan in world.messages.values() for m in chan.values()), key=lambda m: m.id
        )[-20:]
        return {
            "bot_id": str(world.bot_id),
            "guilds": guilds,
            "dm_channels": [
                {
                    "user_id": str(u),
                    "channel_id": str(c),
                    "message_count": len(world.messages.get(c, {})),
                }
                for u, c in world.dm_channels.items()
            ],
            "messages": {
                "total": sum(len(c) for c in world.messages.values()),
                "recent": [
                    {
                        "id": str(m.id),
                        "channel_id": str(m.channel_id),
                        "author": world.users[m.author_id].username,
                        "content": m.content,
                    }
                    for m in recent
                ],
            },
            "gateway": {
                "sessions": [
                    {
                        "session_id": s.session_id,
                        "connected": s.connection is not None,
                        "intents": s.intents,
                        "seq": s.seq,
                        "resumes": s.resumes,
                    }
                    for s in self.gateway.sessions.values()
                ]
            },
            "requests_recorded": len(self.request_log),
        }
