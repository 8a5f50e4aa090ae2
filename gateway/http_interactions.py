"""Discord HTTP interactions, relayed by the API into the gateway's own discord.py handlers.

With an Interactions Endpoint URL set, Discord POSTs commands, components, autocomplete and form
submissions to the API (`POST /discord/webhook`) instead of sending INTERACTION_CREATE over the
gateway. The handlers need the gateway's connection state (guild cache, the SuiteBot), so the API
verifies the request and forwards it, byte for byte with Discord's signature headers, to this
small server inside the gateway process (loopback by default; with shard groups, one per group,
the API picking the group of the guild's shard from INTERACTIONS_RELAY_URLS). Here it is:

1. verified again with the application's public key (the port is never trusted on its own: only a
   body Discord signed in the last five minutes, and never the same interaction twice, is run);
2. parsed exactly as a gateway INTERACTION_CREATE (`ConnectionState.parsers`, so the command tree,
   the view and modal stores and `on_interaction` all see it), in a context whose discord.py
   webhook adapter (`discord.webhook.async_.async_context`) is a `RelayAdapter` for this one
   interaction;
3. answered with the handler's first response: `create_interaction_response` is captured instead
   of POSTed to the callback endpoint, and becomes the body of the HTTP reply Discord waits for.

Limits (Discord waits three seconds for the reply):

- no first response within `deadline` seconds: the reply is a deferral (an ephemeral "thinking"
  message for commands and forms, a silent deferred update for components, no choices for
  autocomplete), and the handler's response, when it comes, is delivered as an edit of that
  deferral or a follow-up (`RelayAdapter._late`); a late form (modal) cannot be opened any more;
- a first response carrying files is answered as a deferral with the same ephemeral flag, and the
  message with its files follows as an edit of the original response;
- webhook calls for the interaction (follow-ups, edits) wait until the reply has been written to
  the API and retry "not found" for a few seconds, because Discord only knows the interaction's
  response once the API's reply reached it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from aiohttp import web
from discord.http import MultipartParameters, Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from dcs.interaction_signature import (
    ReplayGuard,
    SignatureRejected,
    public_key_from_hex,
    verify_interaction,
)
from dcs.settings import shard_of

if TYPE_CHECKING:
    from dcs.settings import Settings

log = logging.getLogger(__name__)

RELAY_PATH = "/interactions"
DEADLINE_SECONDS = 2.2
"""How long the relay waits for a handler's first response before it answers with a deferral."""
DELIVERY_WINDOW_SECONDS = 8.0
"""How long webhook calls for a relayed interaction retry "not found" after the reply left."""

COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
EPHEMERAL = 1 << 6
EDITABLE = frozenset({"content", "embeds", "allowed_mentions", "components", "attachments"})
TOO_LATE = "That took too long to open; please try again."


def deferral_for(kind: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The reply given when a handler has not answered in time."""
    if kind == AUTOCOMPLETE:
        return {"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}
    if kind == COMPONENT or (kind == MODAL_SUBMIT and payload.get("message")):
        return {"type": DEFERRED_UPDATE}  # nothing visible; the response follows up
    return {"type": DEFERRED_MESSAGE, "data": {"flags": EPHEMERAL}}


@dataclass(eq=False)
class Capture:
    """One relayed interaction: its first response, once a handler (or the deadline) gives it."""

    interaction_id: int
    token: str
    application_id: int
    kind: int
    payload: dict[str, Any]
    reply: asyncio.Future[dict[str, Any]] = field(init=False)
    late: bool = False
    """`reply` is a deferral and the handler's response goes after it (deadline, or files)."""
    late_sent: bool = False
    timed_out: bool = False
    delivered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the relay's HTTP reply was written (Discord can know the response from then)."""
    delivered_at: float = 0.0

    def __post_init__(self) -> None:
        self.reply = asyncio.get_running_loop().create_future()

    @property
    def answered(self) -> bool:
        """Whether the relay has its reply (the handler's response, or the deferral)."""
        return self.reply.done()

    def answer(self, body: dict[str, Any]) -> None:
        """The handler's first response becomes the reply."""
        if not self.reply.done():
            self.reply.set_result(body)

    def expire(self) -> dict[str, Any]:
        """The deadline passed: answer with a deferral unless a response just arrived."""
        if not self.reply.done():
            self.late = self.timed_out = True
            self.reply.set_result(deferral_for(self.kind, self.payload))
        return self.reply.result()

    def mark_delivered(self) -> None:
        """The reply is written: webhook calls for the interaction may go."""
        self.delivered_at = time.monotonic()
        self.delivered.set()


class RelayAdapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter for the handlers of one relayed interaction.

    Its first `create_interaction_response` becomes the HTTP reply; every other call is the usual
    REST call, held until the reply is out and retried while Discord does not know it yet.
    """

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def create_interaction_response(
        self,
        interaction_id: int,
        token: str,
        *,
        session: aiohttp.ClientSession,
        proxy: str | None = None,
        proxy_auth: aiohttp.BasicAuth | None = None,
        params: MultipartParameters,
    ) -> Any:
        """Capture the first response of the relayed interaction; anything else goes to Discord."""
        capture = self.capture
        if interaction_id != capture.interaction_id or (
            capture.answered and (not capture.late or capture.late_sent)
        ):  # another interaction, or a second response: Discord judges it as usual
            return super().create_interaction_response(
                interaction_id,
                token,
                session=session,
                proxy=proxy,
                proxy_auth=proxy_auth,
                params=params,
            )
        return self._respond(session, params)

    async def _respond(
        self, session: aiohttp.ClientSession, params: MultipartParameters
    ) -> dict[str, Any]:
        capture = self.capture
        body = _response_body(params)
        kind = int(body.get("type", 0))
        data: dict[str, Any] = body.get("data") or {}
        if capture.late:
            capture.late_sent = True
            log.info(
                "interaction %s answered late; sent after the deferral", capture.interaction_id
            )
            await self._late(session, body, params)
        elif params.files:
            deferral: dict[str, Any] = {"type": DEFERRED_UPDATE}
            if kind == MESSAGE:
                deferral = {"type": DEFERRED_MESSAGE, "data": {"flags": data.get("flags", 0)}}
            capture.answer(deferral)
            capture.late, capture.late_sent = True, True  # the message follows the deferral
            await self._late(session, body, params)
        else:
            capture.answer(body)
        return {
            "interaction": {
                "id": str(capture.interaction_id),
                "type": capture.kind,
                "response_message_id": None,
                "response_message_loading": kind == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            }
        }

    async def _late(
        self, session: aiohttp.ClientSession, body: dict[str, Any], params: MultipartParameters
    ) -> None:
        """Deliver a response that comes after the deferral the relay already answered with."""
        capture = self.capture
        deferral = capture.reply.result()
        deferred = int(deferral["type"])
        kind = int(body.get("type", 0))
        data: dict[str, Any] = dict(body.get("data") or {})
        if deferred == AUTOCOMPLETE_RESULT or kind in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
            return  # too late for suggestions / already deferred: follow-ups go as usual
        if kind == AUTOCOMPLETE_RESULT:
            return
        if kind == MODAL:
            log.warning("interaction %s opened a form too late", capture.interaction_id)
            kind, data = MESSAGE, {"content": TOO_LATE, "flags": EPHEMERAL}
            params = MultipartParameters(payload=None, multipart=None, files=None)
        app, token = capture.application_id, capture.token
        follow_up = deferred == DEFERRED_UPDATE and kind == MESSAGE
        if not follow_up:  # an edit: the deferral fixed the flags, and tts or a poll cannot be
            data = {k: v for k, v in data.items() if k in EDITABLE}
        payload, multipart = _message_parts(data, params)
        files = params.files or None
        if follow_up:
            await self.execute_webhook(
                app, token, session=session, payload=payload, multipart=multipart, files=files,
                wait=True,
            )  # fmt: skip
        else:
            await self.edit_original_interaction_response(
                app, token, session=session, payload=payload, multipart=multipart, files=files
            )

    async def request(self, route: Route, session: aiohttp.ClientSession, **kwargs: Any) -> Any:
        """Calls for this interaction wait for the reply to leave, then retry "not found"."""
        capture = self.capture
        if route.webhook_token != capture.token:
            return await super().request(route, session, **kwargs)
        try:
            await asyncio.wait_for(capture.delivered.wait(), DELIVERY_WINDOW_SECONDS)
        except TimeoutError:
            pass  # the relay never wrote its reply; try anyway and let Discord say
        delay = 0.1
        while True:
            try:
                return await super().request(route, session, **kwargs)
            except discord.NotFound:
                waited = time.monotonic() - capture.delivered_at
                if waited + delay > DELIVERY_WINDOW_SECONDS:
                    raise
                log.debug("interaction %s: Discord does not know it yet", capture.interaction_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            for file in kwargs.get("files") or ():
                file.reset(seek=True)


def _response_body(params: MultipartParameters) -> dict[str, Any]:
    """The callback body (`{"type", "data"}`), from JSON or from a multipart `payload_json`."""
    if params.payload is not None:
        return params.payload
    for part in params.multipart or ():
        if part.get("name") == "payload_json":
            loaded: dict[str, Any] = json.loads(part["value"])
            return loaded
    return {}


def _message_parts(
    data: dict[str, Any], params: MultipartParameters
) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """A message body for the webhook routes: JSON, or multipart with the response's files."""
    if not params.files:
        return data, None
    parts = [p for p in params.multipart or () if p.get("name") != "payload_json"]
    return None, [{"name": "payload_json", "value": discord.utils._to_json(data)}, *parts]


def foreign_shard(bot: discord.Client, payload: dict[str, Any]) -> int | None:
    """The interaction's shard when this process does not connect it, else None.

    A shard group's process has only its own guilds (Discord sends a guild's events on shard
    `(guild_id >> 22) % shard_count`, direct messages on shard 0); an interaction the API routed
    here by mistake is refused (421) instead of running without its guild's state.
    """
    count = bot.shard_count
    ids: list[int] | None = getattr(bot, "shard_ids", None)
    if count is None or ids is None:
        return None  # unsharded, or every shard in this process
    guild_id = payload.get("guild_id")
    try:
        shard = shard_of(int(guild_id) if guild_id is not None else None, count)
    except (TypeError, ValueError):
        return None
    return None if shard in ids else shard


class InteractionRelay:
    """The gateway's internal endpoint for interactions Discord sent to the API over HTTP."""

    def __init__(
        self,
        bot: discord.Client,
        public_key_hex: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        deadline: float = DEADLINE_SECONDS,
    ) -> None:
        self.bot = bot
        self.key = public_key_from_hex(public_key_hex)
        self.host, self.port = host, port
        self.deadline = deadline
        self.replays = ReplayGuard()
        self.received = 0
        """Interactions that passed verification and were dispatched."""
        self.refused = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where the API reaches this relay (after `start`, with the bound port)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        host = "[::1]" if host == "::" else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen on host:port (port 0: any free port, read back into `port`)."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(RELAY_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self.stop()
            raise
        if self.port == 0 and self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        log.info("HTTP interactions relay on %s%s", self.url, RELAY_PATH)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        now = time.time()
        try:
            verify_interaction(
                self.key,
                signature_hex=request.headers.get("X-Signature-Ed25519"),
                timestamp=request.headers.get("X-Signature-Timestamp"),
                body=body,
                now=now,
            )
        except SignatureRejected as exc:
            self.refused += 1
            log.warning("relayed interaction refused: %s", exc)
            return web.json_response({"error": str(exc)}, status=401)
        try:
            payload = json.loads(body)
            kind = int(payload["type"])
            interaction_id = int(payload["id"])
            token = str(payload["token"])
            application_id = int(payload["application_id"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "not an interaction"}, status=400)
        if kind not in (COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT):
            return web.json_response({"error": f"type {kind} is not relayed"}, status=400)
        foreign = foreign_shard(self.bot, payload)
        if foreign is not None:
            self.refused += 1
            log.warning(
                "relayed interaction %s belongs to shard %s, which this gateway process does not "
                "connect: check INTERACTIONS_RELAY_URLS on the API",
                interaction_id,
                foreign,
            )
            return web.json_response(
                {"error": f"shard {foreign} is not connected by this gateway process"}, status=421
            )
        if not self.replays.check_and_remember(f"id:{interaction_id}", now=now):
            self.refused += 1
            return web.json_response({"error": "replayed interaction"}, status=401)
        if not self.bot.is_ready():
            return web.json_response({"error": "the gateway is not connected"}, status=503)
        capture = Capture(interaction_id, token, application_id, kind, payload)
        try:
            reply = await self._dispatch(capture)
            response = web.json_response(reply, headers={"X-DCS-Relay": _outcome(capture)})
            await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            capture.mark_delivered()

    async def _dispatch(self, capture: Capture) -> dict[str, Any]:
        """Parse as the gateway would, with this interaction's adapter; wait for its response."""
        self.received += 1
        context = contextvars.copy_context()
        context.run(async_context.set, RelayAdapter(capture))
        parse = self.bot._connection.parsers["INTERACTION_CREATE"]  # the payload guard's wrapper
        context.run(parse, capture.payload)
        try:
            return await asyncio.wait_for(asyncio.shield(capture.reply), self.deadline)
        except TimeoutError:
            log.info(
                "interaction %s (type %s) not answered within %.1fs; deferred",
                capture.interaction_id,
                capture.kind,
                self.deadline,
            )
            return capture.expire()


def _outcome(capture: Capture) -> str:
    return "deferred" if capture.timed_out else "answered"


async def start_relay(bot: discord.Client, settings: Settings) -> InteractionRelay | None:
    """The relay of the gateway process, or None when it is off (no DISCORD_PUBLIC_KEY, port 0).

    A busy port is logged, not fatal: the gateway's own connection matters more.
    """
    if not settings.discord_public_key or settings.interactions_relay_port == 0:
        return None
    try:
        relay = InteractionRelay(
            bot,
            settings.discord_public_key,
            host=settings.interactions_relay_host,
            port=settings.interactions_relay_port,
        )
        await relay.start()
    except (OSError, ValueError):
        log.exception("could not start the HTTP interactions relay")
        return None
    return relay
