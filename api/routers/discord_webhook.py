"""`POST /discord/webhook`: Discord's HTTP interactions (an app's Interactions Endpoint URL).

Every request is verified first (Ed25519 signature with DISCORD_PUBLIC_KEY, timestamp within five
minutes, signature and interaction id not seen before in this process) and refused with 401
otherwise, as Discord requires before it saves the URL. What is answered:

- PING (type 1) → PONG, which is how Discord validates the URL;
- autocomplete (type 4) → no suggestions;
- commands, components and forms (types 2, 3, 5) → an ephemeral message saying they are handled
  through the bot's gateway connection. The suite's handlers run on discord.py objects bound to the
  gateway's connection state, so they are not fed from here; the endpoint never touches the
  database.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from dcs.interaction_signature import (
    ReplayGuard,
    SignatureRejected,
    public_key_from_hex,
    verify_interaction,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["discord"])

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 8
EPHEMERAL = 1 << 6
NOT_HERE = (
    "This suite answers commands and buttons through its gateway connection; "
    "remove the Interactions Endpoint URL in the Developer Portal to use them."
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
    """Verify, de-duplicate, then answer PING or hand back a short ephemeral reply."""
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
    if kind == AUTOCOMPLETE:
        return JSONResponse({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}})
    if kind in (COMMAND, COMPONENT, MODAL):
        log.info("HTTP interaction %s (type %s) answered as not routed", interaction_id, kind)
        return JSONResponse(
            {"type": CHANNEL_MESSAGE, "data": {"content": NOT_HERE, "flags": EPHEMERAL}}
        )
    raise ApiError(400, "invalid_request", f"Unknown interaction type {kind!r}.")
