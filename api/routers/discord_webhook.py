"""`POST /discord/webhook`: Discord's HTTP interactions (an app's Interactions Endpoint URL).

Every request is verified first (Ed25519 signature with DISCORD_PUBLIC_KEY, timestamp within five
minutes, signature and interaction id not seen before in this process) and refused with 401
otherwise, as Discord requires before it saves the URL. What is answered:

- PING (type 1) → PONG, which is how Discord validates the URL;
- commands, components, autocomplete and forms (types 2, 3, 4, 5) → relayed to the gateway process
  (`gateway.http_interactions`, INTERACTIONS_RELAY_*), whose discord.py handlers run them as if
  they came over the gateway (with shard groups, INTERACTIONS_RELAY_URLS, the group connected to
  the guild's shard `(guild_id >> 22) % DISCORD_SHARD_COUNT`; direct messages shard 0's); their
  first response is this request's reply (a deferral when they take longer than about two
  seconds, their answer following as an edit or follow-up);
- the gateway down, starting or unreachable → an ephemeral message saying so (no suggestions for
  autocomplete), never a 5xx, counted in `dcs_http_interactions_total{outcome="gateway_down"}`.

The raw body and Discord's signature headers are forwarded unchanged, and the gateway verifies
them again: its port accepts nothing Discord did not sign. The endpoint never touches the
database. More in docs/interactions.md.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from dcs import metrics
from dcs.interaction_signature import (
    ReplayGuard,
    SignatureRejected,
    public_key_from_hex,
    verify_interaction,
)

if TYPE_CHECKING:
    from dcs.settings import RelayRoutes

log = logging.getLogger(__name__)
router = APIRouter(tags=["discord"])

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 8
EPHEMERAL = 1 << 6
RELAY_PATH = "/interactions"  # gateway.http_interactions.RELAY_PATH (not imported: no discord.py)
RELAY_TIMEOUT = httpx.Timeout(2.7, connect=0.5)  # the gateway defers at 2.2 s; Discord waits 3
RELAY_OFF = (
    "Commands and buttons are not routed from the Interactions Endpoint URL here "
    "(INTERACTIONS_RELAY_PORT is 0); remove the URL in the Developer Portal to use them."
)
GATEWAY_DOWN = (
    "The bot cannot answer right now (its gateway process is not connected); "
    "please try again in a minute."
)


def _public_key(request: Request) -> Ed25519PublicKey:
    """DISCORD_PUBLIC_KEY parsed once per app (tests set app.state.discord_public_key)."""
    state = request.app.state
    key: Ed25519PublicKey | None = getattr(state, "discord_public_key_parsed", None)
    if key is None:
        hex_key = getattr(state, "discord_public_key", None)
        if hex_key is None:
            from dcs.settings import Settings

            hex_key = Settings().discord_public_key
        if not hex_key:
            raise ApiError(
                503, "unavailable", "Set DISCORD_PUBLIC_KEY to accept Discord interactions."
            )
        try:
            key = public_key_from_hex(hex_key)
        except ValueError as exc:
            log.error("DISCORD_PUBLIC_KEY is unusable: %s", exc)
            raise ApiError(503, "unavailable", str(exc)) from None
        state.discord_public_key_parsed = key
    return key


def _replays(request: Request) -> ReplayGuard:
    state = request.app.state
    guard: ReplayGuard | None = getattr(state, "interaction_replays", None)
    if guard is None:
        guard = state.interaction_replays = ReplayGuard()
    return guard


def _unauthorized(reason: str, request: Request) -> ApiError:
    client = request.client.host if request.client else "?"
    log.warning("Discord interaction refused from %s: %s", client, reason)
    return ApiError(401, "unauthorized", f"Discord interaction refused: {reason}.")


@router.post("/discord/webhook", summary="Discord HTTP interactions (signed by Discord)")
async def discord_webhook(request: Request) -> JSONResponse:
    """Verify, de-duplicate, then answer PING or relay the interaction to the gateway."""
    key = _public_key(request)
    body = await request.body()
    now = time.time()
    signature = request.headers.get("X-Signature-Ed25519")
    try:
        verify_interaction(
            key,
            signature_hex=signature,
            timestamp=request.headers.get("X-Signature-Timestamp"),
            body=body,
            now=now,
        )
    except SignatureRejected as exc:
        raise _unauthorized(str(exc), request) from None
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_request", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "The body is not a JSON object.")
    replays = _replays(request)
    interaction_id = str(payload.get("id", ""))
    fresh = replays.check_and_remember(f"sig:{(signature or '').lower()}", now=now)
    if fresh and interaction_id:
        fresh = replays.check_and_remember(f"id:{interaction_id}", now=now)
    if not fresh:
        raise _unauthorized("replayed request", request)
    kind = payload.get("type")
    if kind == PING:
        return JSONResponse({"type": PONG})
    if kind in (COMMAND, COMPONENT, AUTOCOMPLETE, MODAL):
        return JSONResponse(await _relay(request, body, kind, payload))
    raise ApiError(400, "invalid_request", f"Unknown interaction type {kind!r}.")


def _guild_id(payload: dict[str, Any]) -> int | None:
    """The interaction's guild (None: a direct message, or no usable guild id)."""
    raw = payload.get("guild_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _relay_base(request: Request, payload: dict[str, Any]) -> str | None:
    """The relay of the gateway process connected to the interaction's guild (None: relay off).

    With INTERACTIONS_RELAY_URLS (shard groups), the guild's shard `(guild_id >> 22) % count`
    picks the group, and direct messages go to shard 0's; otherwise the one relay. Tests set
    app.state.interactions_relay_url and, for groups, app.state.interactions_relay_routes.
    """
    state = request.app.state
    if not hasattr(state, "interactions_relay_url"):
        from dcs.settings import Settings

        settings = Settings()
        state.interactions_relay_routes = settings.interactions_relay_routes
        state.interactions_relay_url = settings.interactions_relay_base
    routes: RelayRoutes | None = getattr(state, "interactions_relay_routes", None)
    if routes is not None:
        return routes.url_for(_guild_id(payload))
    base: str | None = state.interactions_relay_url
    return base


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every relay call (a relay URL may be https on another host)."""
    return ssl.create_default_context()


def _unanswered(kind: int, text: str) -> dict[str, Any]:
    if kind == AUTOCOMPLETE:
        return {"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}
    return {"type": CHANNEL_MESSAGE, "data": {"content": text, "flags": EPHEMERAL}}


async def _relay(
    request: Request, body: bytes, kind: int, payload: dict[str, Any]
) -> dict[str, Any]:
    """Hand the verified interaction to its gateway; its handler's first response is the reply."""
    base = _relay_base(request, payload)
    if base is None:
        metrics.HTTP_INTERACTIONS.labels("off").inc()
        return _unanswered(kind, RELAY_OFF)
    headers = {
        "Content-Type": "application/json",
        "X-Signature-Ed25519": request.headers.get("X-Signature-Ed25519", ""),
        "X-Signature-Timestamp": request.headers.get("X-Signature-Timestamp", ""),
    }
    problem = ""
    try:
        async with httpx.AsyncClient(
            timeout=RELAY_TIMEOUT, verify=_tls(), trust_env=False
        ) as client:
            resp = await client.post(base + RELAY_PATH, content=body, headers=headers)
        reply = resp.json() if resp.status_code == 200 else None
        if isinstance(reply, dict) and isinstance(reply.get("type"), int):
            outcome = resp.headers.get("X-DCS-Relay", "answered")
            metrics.HTTP_INTERACTIONS.labels(
                outcome if outcome in ("answered", "deferred") else "answered"
            ).inc()
            return reply
        problem = f"answered {resp.status_code}"
    except (httpx.HTTPError, ValueError) as exc:
        problem = type(exc).__name__
    log.warning(
        "HTTP interaction %s (type %s, guild %s) not relayed to the gateway at %s: %s",
        payload.get("id", ""),
        kind,
        _guild_id(payload) or "none",
        base,
        problem,
    )
    metrics.HTTP_INTERACTIONS.labels("gateway_down").inc()
    return _unanswered(kind, GATEWAY_DOWN)
