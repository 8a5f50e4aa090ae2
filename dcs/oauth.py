"""Discord OAuth2 login for server admins: the signed `state`, the code exchange, who manages what.

The `state` is `<nonce>.<expiry>.<HMAC>`, keyed by a key derived from DISCORD_CLIENT_SECRET (so
no table is needed), and the same nonce is set in an HttpOnly cookie by the login route: a
callback whose state is forged, expired, or not the browser's own (login CSRF) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from dcs.settings import Settings

SCOPES = "identify guilds"
STATE_TTL_S = 600
STATE_COOKIE = "dcs_oauth_state"
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class OAuthConfig:
    """What the login needs from the settings; None from `from_settings` when not configured."""

    client_id: str
    client_secret: str
    api_base: str
    authorize_url: str
    redirect_url: str | None
    token_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthConfig | None:
        """The OAuth2 config, or None without DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET."""
        if not settings.discord_client_id or settings.discord_client_secret is None:
            return None
        return cls(
            client_id=settings.discord_client_id,
            client_secret=settings.discord_client_secret.get_secret_value(),
            api_base=settings.effective_discord_api_url.rstrip("/"),
            authorize_url=settings.effective_oauth_authorize_url,
            redirect_url=settings.discord_oauth_redirect_url,
            token_days=settings.oauth_token_days,
        )

    @property
    def state_key(self) -> bytes:
        """The HMAC key of `state`, derived from the client secret (never the secret itself)."""
        return hashlib.sha256(b"dcs-oauth-state\0" + self.client_secret.encode()).digest()


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_state(key: bytes, nonce: str, *, now: float | None = None) -> str:
    """A signed state carrying the browser's nonce and an expiry STATE_TTL_S from now."""
    expires = int((time.time() if now is None else now) + STATE_TTL_S)
    payload = f"{nonce}.{expires}"
    return f"{payload}.{_mac(key, payload)}"


def state_problem(
    key: bytes, state: str | None, cookie_nonce: str | None, *, now: float | None = None
) -> str | None:
    """Why a callback's state is refused (None when it is good)."""
    if not state:
        return "the state parameter is missing"
    nonce, _, rest = state.partition(".")
    expires, _, mac = rest.partition(".")
    if (
        not nonce
        or not expires.isdigit()
        or not hmac.compare_digest(mac, _mac(key, f"{nonce}.{expires}"))
    ):
        return "the state is not one this server signed"
    if int(expires) < (time.time() if now is None else now):
        return "the login took too long (the state expired); start again"
    if not cookie_nonce or not hmac.compare_digest(nonce, cookie_nonce):
        return "the state does not belong to this browser (login cookie missing or different)"
    return None


def authorize_url(config: OAuthConfig, state: str, redirect_uri: str) -> str:
    """Discord's consent page for scopes `identify guilds`."""
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "scope": SCOPES,
        "state": state,
        "redirect_uri": redirect_uri,
    }
    return f"{config.authorize_url}?{urlencode(query)}"


def manageable_guilds(guilds: list[dict[str, Any]]) -> dict[int, str]:
    """Guilds (id -> name) the user owns or holds Administrator or Manage Server in."""
    out: dict[int, str] = {}
    for guild in guilds:
        try:
            perms = int(guild.get("permissions") or 0)
            guild_id = int(guild["id"])
        except (KeyError, TypeError, ValueError):
            continue
        if guild.get("owner") or perms & (ADMINISTRATOR | MANAGE_GUILD):
            out[guild_id] = str(guild.get("name") or "")
    return out


class DiscordOAuthError(Exception):
    """Discord refused or failed a step of the login; the message is safe to show."""


@dataclass(frozen=True)
class DiscordLogin:
    """Who logged in and the guilds they are in, as Discord reports them."""

    user_id: int
    username: str
    guilds: list[dict[str, Any]]


async def complete_login(
    config: OAuthConfig, code: str, redirect_uri: str, *, http: httpx.AsyncClient | None = None
) -> DiscordLogin:
    """Exchange the code for the user's token, then read `/users/@me` and its guilds."""
    own = http is None
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)
    try:
        grant = await _call(
            client,
            "POST",
            f"{config.api_base}/oauth2/token",
            "the code exchange",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
            auth=(config.client_id, config.client_secret),
        )
        access = grant.get("access_token") if isinstance(grant, dict) else None
        if not isinstance(access, str) or not access:
            raise DiscordOAuthError("Discord's token answer had no access_token")
        bearer = {"Authorization": f"Bearer {access}"}
        user = await _call(
            client, "GET", f"{config.api_base}/users/@me", "reading the user", headers=bearer
        )
        guilds = await _call(
            client,
            "GET",
            f"{config.api_base}/users/@me/guilds",
            "reading the user's servers",
            headers=bearer,
        )
    finally:
        if own:
            await client.aclose()
    if not isinstance(user, dict) or "id" not in user or not isinstance(guilds, list):
        raise DiscordOAuthError("Discord answered in an unexpected shape")
    return DiscordLogin(int(user["id"]), str(user.get("username") or ""), guilds)


async def _call(client: httpx.AsyncClient, method: str, url: str, step: str, **kwargs: Any) -> Any:
    try:
        resp = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise DiscordOAuthError(
            f"Discord could not be reached for {step}: {type(exc).__name__}"
        ) from None
    if resp.status_code >= 400:
        raise DiscordOAuthError(f"Discord refused {step}: {resp.status_code} {_reason(resp)}")
    try:
        return resp.json()
    except ValueError:
        raise DiscordOAuthError(f"Discord's answer to {step} was not JSON") from None


def _reason(resp: httpx.Response) -> str:
    """Discord's own error text (OAuth2 `error_description`, or the API's `message`)."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("error_description") or body.get("message") or body.get("error") or "")[
        :200
    ]
