"""REST pipeline: body parsing, auth, fault injection, rate limits, errors, recording."""

from __future__ import annotations

import json
import secrets
import time

from aiohttp import BodyPartReader, web

from . import errors, rest_oauth
from .faults import FaultRule
from .ratelimit import rate_limited_body, rate_limited_headers
from .recorder import RecordedRequest
from .rest_common import (
    API_PREFIX,
    SIM_KEY,
    Handler,
    discord_json,
    new_request_state,
    request_state,
)

_NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/{application_id}/{interaction_token}")
_NO_AUTH_ROUTES = {"/gateway", "/oauth2/token"}  # the token exchange authenticates the client
_MAJOR = ("guild_id", "channel_id", "application_id", "interaction_token")


async def read_body(request: web.Request) -> None:
    """Parse JSON or multipart (``payload_json`` + files) into the request state."""
    state = request_state()
    if not request.can_read_body:
        return
    ctype = request.content_type
    if ctype == "application/x-www-form-urlencoded":
        return  # the OAuth2 token exchange reads its form itself
    if ctype.startswith("multipart/"):
        reader = await request.multipart()
        uploads: list[tuple[str, str | None, bytes]] = []
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                state.json = json.loads(await part.text())
            elif part.filename:
                uploads.append(
                    (part.filename, part.headers.get("Content-Type"), bytes(await part.read()))
                )
        state.files = uploads
        return
    raw = await request.read()
    if raw:
        try:
            state.json = json.loads(raw)
        except ValueError:
            raise errors.bad_request(50109, "The request body contains invalid JSON.") from None


def _template(request: web.Request) -> str | None:
    match = request.match_info
    if match.http_exception is not None:
        return None
    resource = match.route.resource
    if resource is None:
        return None
    return resource.canonical.removeprefix(API_PREFIX)


def _authorised(request: web.Request, template: str | None) -> bool:
    if template is not None and (
        template.startswith(_NO_AUTH_PREFIXES) or template in _NO_AUTH_ROUTES
    ):
        return True
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):  # a user's OAuth2 token: /users/@me and its guilds only
        return rest_oauth.bearer_allowed(request, template)
    if not header.startswith("Bot ") or len(header) <= 4:
        return False
    expected = request.app[SIM_KEY].config.token
    return expected is None or secrets.compare_digest(header[4:], expected)


def _error_response(exc: errors.DiscordAPIError) -> web.Response:
    return discord_json(exc.body(), exc.status)


def _fault_response(rule: FaultRule) -> web.Response:
    status, body, headers = rule.response()
    return discord_json(body, status, headers)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run every ``/api/v10`` request through Discord-like cross-cutting behaviour."""
    if not request.path.startswith(API_PREFIX + "/"):
        return await handler(request)
    sim = request.app[SIM_KEY]
    started = time.time()
    new_request_state()
    path = request.path.removeprefix(API_PREFIX)
    template = _template(request)
    injected = False
    rl_headers: dict[str, str] = {}
    try:
        await read_body(request)
        if not _authorised(request, template):
            raise errors.unauthorized()
        rule = sim.faults.take(request.method, path)
        if rule is not None:
            injected = True
            response: web.StreamResponse = _fault_response(rule)
        else:
            major = "+".join(str(request.match_info.get(k, "")) for k in _MAJOR)
            decision = sim.limiter.consume(request.method, template or path, major)
            rl_headers = decision.headers
            if decision.limited:
                response = discord_json(
                    rate_limited_body(decision.retry_after),
                    429,
                    rate_limited_headers(decision.retry_after),
                )
            else:
                response = await handler(request)
    except errors.DiscordAPIError as exc:
        response = _error_response(exc)
    except web.HTTPNotFound:
        response = _error_response(errors.not_found_route())
    except web.HTTPMethodNotAllowed:
        response = _error_response(errors.DiscordAPIError(405, 0, "405: Method Not Allowed"))
    response.headers.update(rl_headers)
    response.headers["Via"] = "1.1 google"
    _record(request, path, template, response, started, injected)
    return response


def _record(
    request: web.Request,
    path: str,
    template: str | None,
    response: web.StreamResponse,
    started: float,
    injected: bool,
) -> None:
    sim = request.app[SIM_KEY]
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    state = request_state()
    sim.request_log.add(
        RecordedRequest(
            method=request.method,
            path=path,
            route=template,
            json=state.json,
            query=dict(request.query),
            headers=headers,
            status=response.status,
            timestamp=started,
            response=state.payload if response.status != 204 else None,
            injected=injected,
        )
    )
