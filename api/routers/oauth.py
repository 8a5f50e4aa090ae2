"""Discord OAuth2 login for server admins: an admin API token per server they manage.

`GET /auth/discord/login` redirects to Discord's consent page (scopes `identify guilds`) with a
signed, expiring `state` bound to an HttpOnly cookie; `GET /auth/discord/callback` checks it,
exchanges the code, reads the user's servers and, for each one where they hold Administrator or
Manage Server and the suite knows the server, issues an admin token scoped to it (hashed at rest,
expiring after OAUTH_TOKEN_DAYS), shown once. Each issuance is in the audit log.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import hash_token, new_token_secret
from api.deps import SessionDep
from api.errors import ApiError, error_responses
from dcs.oauth import (
    STATE_COOKIE,
    STATE_TTL_S,
    DiscordOAuthError,
    OAuthConfig,
    authorize_url,
    complete_login,
    make_state,
    manageable_guilds,
    state_problem,
)
from dcs.settings import Settings
from storage.models import AuditLogEntry, Server
from storage.tokens import create_token

router = APIRouter(prefix="/auth/discord", tags=["auth"])
COOKIE_PATH = "/auth/discord"


class IssuedToken(BaseModel):
    """An admin API token for one server; `token` is shown only here, once."""

    server_id: str
    server_name: str
    token_id: int
    token: str
    role: str
    expires_at: datetime


class DiscordUserOut(BaseModel):
    """The Discord user who logged in."""

    id: str
    username: str


class OAuthLoginOut(BaseModel):
    """The tokens issued by a Discord login."""

    user: DiscordUserOut
    tokens: list[IssuedToken]


def settings_of(request: Request) -> Settings:
    """The app's settings (tests install their own as `app.state.settings`)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    if settings is None:
        settings = request.app.state.settings = Settings()
    return settings


def _config(request: Request) -> OAuthConfig:
    config = OAuthConfig.from_settings(settings_of(request))
    if config is None:
        raise ApiError(
            503,
            "unavailable",
            "Discord login is not configured on this server: set DISCORD_CLIENT_ID and "
            "DISCORD_CLIENT_SECRET (docs/oauth.md).",
        )
    return config


def _redirect_uri(request: Request, config: OAuthConfig) -> str:
    return config.redirect_url or str(request.url_for("discord_oauth_callback"))


@router.get(
    "/login",
    status_code=307,
    response_class=RedirectResponse,
    responses={
        307: {"description": "To Discord's consent page; sets the login cookie"},
        **error_responses(429, 503),
    },
)
async def discord_login(request: Request) -> RedirectResponse:
    """Start a Discord login: redirect to Discord's consent page (scopes `identify guilds`)."""
    config = _config(request)
    nonce = secrets.token_urlsafe(16)
    state = make_state(config.state_key, nonce)
    response = RedirectResponse(
        authorize_url(config, state, _redirect_uri(request, config)), status_code=307
    )
    response.set_cookie(
        STATE_COOKIE,
        nonce,
        max_age=STATE_TTL_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/callback",
    name="discord_oauth_callback",
    response_model=OAuthLoginOut,
    responses=error_responses(400, 403, 422, 429, 502, 503),
)
async def discord_callback(
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=512)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """Finish the login: an admin token for each server the user manages and the suite knows.

    400 for a missing, forged or expired state (or one from another browser) and for a login
    cancelled on Discord; 502 when Discord refuses or fails the exchange; 403 when the user
    manages none of the suite's servers. Nothing is issued in any of those cases.
    """
    config = _config(request)
    problem = state_problem(config.state_key, state, request.cookies.get(STATE_COOKIE))
    if problem is not None:
        raise ApiError(400, "invalid_state", f"Login refused: {problem}.")
    if error is not None or not code:
        reason = error or "no code"
        raise ApiError(400, "login_cancelled", f"Discord did not authorise the login ({reason}).")
    try:
        login = await complete_login(config, code, _redirect_uri(request, config))
    except DiscordOAuthError as exc:
        raise ApiError(502, "discord_error", str(exc)) from None
    managed = manageable_guilds(login.guilds)
    known = (
        set(await session.scalars(select(Server.id).where(Server.id.in_(list(managed)))))
        if managed
        else set()
    )
    await session.rollback()
    if not known:
        raise ApiError(
            403,
            "no_manageable_server",
            f"Discord user {login.username or login.user_id} has Administrator or Manage Server "
            f"in none of the servers this suite runs in ({len(managed)} managed, none known).",
        )
    now = datetime.now(UTC)
    expires = now + timedelta(days=config.token_days)
    issued: list[IssuedToken] = []
    name = f"discord:{login.username}:{login.user_id}"[:100]
    async with session.begin():
        for guild_id in sorted(known):
            secret = new_token_secret()
            row = await create_token(
                session,
                name=name,
                role="admin",
                token_hash=hash_token(secret),
                guild_id=guild_id,
                expires_at=expires,
            )
            session.add(
                AuditLogEntry(
                    guild_id=guild_id,
                    actor=f"discord:{login.user_id}",
                    action="token.oauth_issued",
                    target=f"token:{row.id}",
                    before=None,
                    after={
                        "role": "admin",
                        "name": name,
                        "expires_at": expires.isoformat(),
                        "discord_user_id": str(login.user_id),
                    },
                    created_at=now,
                )
            )
            issued.append(
                IssuedToken(
                    server_id=str(guild_id),
                    server_name=managed[guild_id],
                    token_id=row.id,
                    token=secret,
                    role="admin",
                    expires_at=expires,
                )
            )
    body = OAuthLoginOut(
        user=DiscordUserOut(id=str(login.user_id), username=login.username), tokens=issued
    )
    response = JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    return response
