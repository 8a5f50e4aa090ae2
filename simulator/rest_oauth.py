"""OAuth2 for users (authorization-code grant): authorize, token exchange, user bearer tokens.

`GET /oauth2/authorize` (outside `/api/v10`, like discord.com) approves at once as the simulated
browser's user (`oauth_state(sim).login_as`, default the guild owner) and redirects to
`redirect_uri` with `code` and `state`; `deny = True` answers `error=access_denied` instead.
`POST /api/v10/oauth2/token` exchanges a code (form body, client id and secret by Basic auth or in
the form) for a bearer token; `/users/@me` and `/users/@me/guilds` then answer for that user
(`bearer_user`). Codes are single-use and expire after 10 minutes, like Discord's.
"""

from __future__ import annotations

import base64
import secrets
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from . import payloads
from .rest_common import APIRoutes, discord_json, ok, sim_of

if TYPE_CHECKING:
    from .server import DiscordSimulator

routes = APIRoutes()

CODE_TTL_S = 600
TOKEN_TTL_S = 604_800
BEARER_ROUTES = frozenset({"/users/@me", "/users/@me/guilds"})
"""What a user's bearer token may call (scopes `identify` and `guilds`)."""


@dataclass
class _Grant:
    user_id: int
    redirect_uri: str
    scopes: tuple[str, ...]
    expires: float


@dataclass
class OAuthState:
    """One simulator's OAuth2 world: who is 'logged in' in the browser, codes and tokens."""

    login_as: int | None = None
    """The user who approves on the authorize page (None: the first guild's owner)."""
    deny: bool = False
    """The user presses Cancel: redirect with error=access_denied."""
    client_secret: str | None = None
    """The application's secret; None accepts any non-empty secret."""
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, _Grant] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[DiscordSimulator, OAuthState] = weakref.WeakKeyDictionary()


def oauth_state(sim: DiscordSimulator) -> OAuthState:
    """The simulator's OAuth2 state (created on first use)."""
    state = _STATES.get(sim)
    if state is None:
        state = _STATES[sim] = OAuthState()
    return state


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bearer" and token else None


def bearer_user(request: web.Request) -> int | None:
    """The user whose live OAuth2 token authorises this request, if it carries one."""
    token = _bearer(request)
    if token is None:
        return None
    grant = oauth_state(sim_of(request)).tokens.get(token)
    if grant is None or grant.expires < time.time():
        return None
    return grant.user_id


def bearer_allowed(request: web.Request, template: str | None) -> bool:
    """Whether a user's bearer token may make this request (the middleware's auth check)."""
    return template in BEARER_ROUTES and bearer_user(request) is not None


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return discord_json({"error": error, "error_description": description}, status)


async def authorize(request: web.Request) -> web.StreamResponse:
    """The consent page, approved (or cancelled) at once by the simulated user."""
    sim = sim_of(request)
    q = request.query
    state = oauth_state(sim)
    if q.get("client_id") != str(sim.world.application_id):
        return web.Response(status=400, text="Unknown application (client_id)")
    redirect_uri = q.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return web.Response(status=400, text="Invalid OAuth2 redirect_uri")
    if q.get("response_type") != "code":
        return web.Response(status=400, text="Unsupported response_type")
    answer: dict[str, str] = {}
    if state.deny:
        answer["error"] = "access_denied"
        answer["error_description"] = (
            "The resource owner or authorization server denied the request"
        )
    else:
        user_id = state.login_as
        if user_id is None:
            user_id = next(iter(sim.world.guilds.values())).owner_id
        code = secrets.token_urlsafe(24)
        scopes = tuple(q.get("scope", "").split())
        state.codes[code] = _Grant(user_id, redirect_uri, scopes, time.time() + CODE_TTL_S)
        answer["code"] = code
    if "state" in q:
        answer["state"] = q["state"]
    separator = "&" if "?" in redirect_uri else "?"
    raise web.HTTPFound(redirect_uri + separator + urlencode(answer))


def _client(request: web.Request, form: dict[str, str]) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return "", ""
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


@routes.post("/oauth2/token")
async def token(request: web.Request) -> web.Response:
    """Exchange an authorization code for a user's bearer token."""
    sim = sim_of(request)
    state = oauth_state(sim)
    form = {k: str(v) for k, v in (await request.post()).items()}
    client_id, secret = _client(request, form)
    expected = state.client_secret
    if (
        client_id != str(sim.world.application_id)
        or not secret
        or (expected is not None and not secrets.compare_digest(secret, expected))
    ):
        return _oauth_error("invalid_client", "Invalid client", 401)
    if form.get("grant_type") != "authorization_code":
        return _oauth_error("unsupported_grant_type", "Unsupported grant type")
    grant = state.codes.pop(form.get("code", ""), None)
    if grant is None or grant.expires < time.time():
        return _oauth_error("invalid_grant", 'Invalid "code" in request.')
    if form.get("redirect_uri") != grant.redirect_uri:
        return _oauth_error("invalid_grant", 'Invalid "redirect_uri" in request.')
    access = secrets.token_urlsafe(24)
    state.tokens[access] = _Grant(
        grant.user_id, grant.redirect_uri, grant.scopes, time.time() + TOKEN_TTL_S
    )
    return ok(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
            "refresh_token": secrets.token_urlsafe(24),
            "scope": " ".join(grant.scopes),
        }
    )


def user_me(request: web.Request, user_id: int) -> web.Response:
    """`/users/@me` for a user's bearer token."""
    return ok(payloads.user(sim_of(request).world.users[user_id]))


def user_guilds(request: web.Request, user_id: int) -> web.Response:
    """`/users/@me/guilds` for a user's bearer token: their guilds, with their permissions."""
    world = sim_of(request).world
    return ok(
        [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": g.icon,
                "banner": None,
                "owner": g.owner_id == user_id,
                "permissions": str(world.base_permissions(g, user_id)),
                "features": list(g.features),
            }
            for g in world.guilds.values()
            if user_id in g.members
        ]
    )
