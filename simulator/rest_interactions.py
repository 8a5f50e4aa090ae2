"""REST: interaction callbacks, the @original response and follow-up webhook messages."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors, payloads
from .interactions import InteractionRecord, InteractionResponse
from .models import Message
from .rest_common import (
    APIRoutes,
    body,
    files,
    make_attachments,
    no_content,
    ok,
    sim_of,
    snowflake_param,
)
from .rest_messages import validate_message_body

if TYPE_CHECKING:
    from .server import DiscordSimulator

routes = APIRoutes()

PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE, MODAL = 8, 9
EPHEMERAL, LOADING = 64, 128
_VALID_FOR = {
    2: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    3: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    4: {AUTOCOMPLETE},
    5: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}


def _metadata(sim: DiscordSimulator, record: InteractionRecord) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": str(record.id),
        "type": record.type,
        "user": payloads.user(sim.world.users[record.user_id]),
        "authorizing_integration_owners": {"0": str(record.guild_id or record.user_id)},
    }
    if record.type == 2:
        meta["name"] = record.data.get("name")
        meta["command_type"] = 1
    if record.message_id is not None:
        meta["interacted_message_id"] = str(record.message_id)
    return meta


def _post_response_message(
    request: web.Request, record: InteractionRecord, data: dict[str, Any], flags: int
) -> Message:
    sim = sim_of(request)
    channel = sim.world.get_channel(record.channel_id)
    return sim.engine.create_message(
        channel,
        sim.world.bot_id,
        content=str(data.get("content") or ""),
        embeds=data.get("embeds"),
        components=data.get("components"),
        attachments=make_attachments(sim, channel.id, request),
        allowed_mentions=data.get("allowed_mentions"),
        tts=bool(data.get("tts", False)),
        flags=flags,
        message_type=20 if record.type == 2 else 0,
        webhook_id=sim.world.application_id,
        application_id=sim.world.application_id,
        interaction_metadata=_metadata(sim, record),
        poll=data.get("poll"),
    )


@routes.post("/interactions/{interaction_id}/{interaction_token}/callback")
async def callback(request: web.Request) -> web.StreamResponse:
    """Record the bot's initial response and apply it (message, defer, update, modal)."""
    sim = sim_of(request)
    record = sim.interactions.get(
        snowflake_param(request, "interaction_id"), request.match_info["interaction_token"]
    )
    timeout = sim.config.interaction_ack_timeout
    if record.acknowledged:
        raise errors.bad_request(40060, "Interaction has already been acknowledged.")
    if timeout is not None and time.monotonic() - record.created > timeout:
        raise errors.unknown("interaction")
    payload = body(request)
    kind = payload.get("type")
    if not isinstance(kind, int) or kind not in _VALID_FOR.get(record.type, set()):
        raise errors.invalid_form(
            "type", "Interaction callback type is invalid for this interaction."
        )
    data = payload.get("data") or {}
    message: Message | None = None
    if kind == MESSAGE:
        validate_message_body(data, bool(files(request)))
        flags = int(data.get("flags") or 0) & (EPHEMERAL | 4 | 4096)
        message = _post_response_message(request, record, data, flags)
        record.original_message_id = message.id
    elif kind == DEFERRED_MESSAGE:
        flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
        message = _post_response_message(request, record, {}, flags)
        record.original_message_id = message.id
    elif kind == UPDATE_MESSAGE and record.message_id is not None:
        message = sim.world.get_message(record.channel_id, record.message_id)
        sim.engine.edit_message(message, data)
    elif kind == MODAL and not {"custom_id", "title", "components"} <= set(data):
        raise errors.invalid_form("data", "Modal requires custom_id, title and components.")
    record.responses.append(InteractionResponse(kind, payload.get("data"), time.time()))
    record.notify()
    if request.query.get("with_response", "false").lower() not in ("1", "true"):
        return no_content()
    result: dict[str, Any] = {
        "interaction": {
            "id": str(record.id),
            "type": record.type,
            "response_message_id": str(message.id) if message else None,
            "response_message_loading": kind == DEFERRED_MESSAGE,
            "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
        }
    }
    if message is not None:
        result["resource"] = {"type": kind, "message": payloads.message(sim.world, message)}
    elif kind in (DEFERRED_UPDATE, MODAL, AUTOCOMPLETE):
        result["resource"] = {"type": kind}
    return ok(result)


def _record(request: web.Request) -> InteractionRecord:
    sim = sim_of(request)
    if snowflake_param(request, "application_id") != sim.world.application_id:
        raise errors.unknown("webhook")
    return sim.interactions.for_token(request.match_info["interaction_token"])


def _webhook_message(request: web.Request, record: InteractionRecord) -> Message:
    sim = sim_of(request)
    raw = request.match_info["message_id"]
    if raw == "@original":
        if record.original_message_id is None:
            raise errors.unknown("message")
        message_id = record.original_message_id
    elif raw.isdigit() and int(raw) in (*record.followup_ids, record.original_message_id):
        message_id = int(raw)
    else:
        raise errors.unknown("message")
    return sim.world.get_message(record.channel_id, message_id)


WEBHOOK = "/webhooks/{application_id}/{interaction_token}"


@routes.get(WEBHOOK + "/messages/{message_id}")
async def get_response(request: web.Request) -> web.Response:
    """The original response or a follow-up message."""
    record = _record(request)
    return ok(payloads.message(sim_of(request).world, _webhook_message(request, record)))


@routes.patch(WEBHOOK + "/messages/{message_id}")
async def edit_response(request: web.Request) -> web.Response:
    """Edit the original response (completes a defer) or a follow-up."""
    sim = sim_of(request)
    record = _record(request)
    message = _webhook_message(request, record)
    sim.engine.edit_message(
        message, body(request), attachments=make_attachments(sim, message.channel_id, request)
    )
    record.edits += 1
    record.notify()
    return ok(payloads.message(sim.world, message))


@routes.delete(WEBHOOK + "/messages/{message_id}")
async def delete_response(request: web.Request) -> web.Response:
    """Delete the original response or a follow-up."""
    sim = sim_of(request)
    record = _record(request)
    message = _webhook_message(request, record)
    sim.engine.delete_message(message, actor_id=None)
    if message.id in record.followup_ids:
        record.followup_ids.remove(message.id)
    record.notify()
    return no_content()


@routes.post(WEBHOOK)
async def followup(request: web.Request) -> web.StreamResponse:
    """Send a follow-up (the first one after a defer fills in the loading message)."""
    sim = sim_of(request)
    record = _record(request)
    if not record.acknowledged:
        raise errors.unknown("webhook")
    data = body(request)
    validate_message_body(data, bool(files(request)))
    original = None
    if record.original_message_id is not None:
        original = sim.world.messages.get(record.channel_id, {}).get(record.original_message_id)
    if original is not None and original.flags & LOADING:
        attachments = make_attachments(sim, original.channel_id, request)
        sim.engine.edit_message(original, data, attachments=attachments)
        message = original
    else:
        flags = int(data.get("flags") or 0) & (EPHEMERAL | 4 | 4096)
        message = _post_response_message(request, record, data, flags)
        record.followup_ids.append(message.id)
    record.notify()
    if request.query.get("wait", "false").lower() in ("1", "true"):
        return ok(payloads.message(sim.world, message))
    return no_content()
