"""Discord OAuth2 login through the API and the simulator's OAuth2 endpoints, with real HTTP:
login -> Discord's consent page -> callback -> an admin token per managed, known server; every
refusal (state forged, expired or from another browser; cancelled; Discord failing; nothing to
manage; not configured) issues nothing."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from dcs.oauth import STATE_COOKIE, OAuthConfig, make_state
from dcs.settings import load_settings
from simulator.rest_oauth import oauth_state
from storage.models import APIToken, AuditLogEntry
from storage.servers import ensure_server

SECRET = "sim-client-secret-0123456789"


def _settings(sim, **extra):
    values = {
        "discord_bot_token": "sim-bot-token",
        "discord_api_url": sim.api_base,
        "discord_oauth_authorize_url": f"{sim.base_url}/oauth2/authorize",
        "discord_client_id": str(sim.world.application_id),
        "discord_client_secret": SECRET,
        "telegram_bot_token": None,
        "telegram_chat_id": None,
    }
    return load_settings(**{**values, **extra})


@pytest.fixture
async def login(session_factory, sim):
    """(api client, browser) where the browser speaks real HTTP to the simulator."""
    oauth_state(sim).client_secret = SECRET
    app = create_app(session_factory)
    app.state.settings = _settings(sim)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api,
        httpx.AsyncClient(timeout=10) as browser,
    ):
        yield app, api, browser


async def _known(session_factory, guild_id, name="Sandbox Community"):
    async with session_factory() as session, session.begin():
        await ensure_server(session, guild_id, name)


async def _consent(api, browser):
    """Login, then Discord's consent page; the callback URL Discord sends the browser back to."""
    start = await api.get("/auth/discord/login")
    assert start.status_code == 307, start.text
    assert STATE_COOKIE in start.cookies
    consent = await browser.get(start.headers["Location"])
    assert consent.status_code == 302, consent.text
    return start.headers["Location"], consent.headers["Location"]


async def _issued(session_factory):
    async with session_factory() as session:
        tokens = list(await session.scalars(select(APIToken)))
        audit = list(await session.scalars(select(AuditLogEntry)))
    return tokens, audit


async def test_an_owner_gets_an_admin_token_for_their_server(login, sim, session_factory):
    _app, api, browser = login
    guild = sim.world.guild_id
    await _known(session_factory, guild)
    await _known(session_factory, 333333333333333333, "not theirs")
    authorize, callback = await _consent(api, browser)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{sim.base_url}/oauth2/authorize?")
    assert query["scope"] == ["identify guilds"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://api/auth/discord/callback"]
    assert callback.startswith("http://api/auth/discord/callback?")
    answer = await api.get(callback)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    owner = sim.world.guilds[guild].owner_id
    assert body["user"] == {"id": str(owner), "username": "owner"}
    assert [(t["server_id"], t["server_name"], t["role"]) for t in body["tokens"]] == [
        (str(guild), "Sandbox Community", "admin")
    ]
    secret = body["tokens"][0]["token"]
    headers = {"Authorization": f"Bearer {secret}"}
    # the token works like `dcs token create --role admin --server <guild>`
    assert (await api.get(f"/api/servers/{guild}/config", headers=headers)).status_code == 200
    patched = await api.patch(f"/api/servers/{guild}/config", headers=headers, json={"rules": "x"})
    assert patched.status_code == 200, patched.text
    other = await api.get("/api/servers/333333333333333333/config", headers=headers)
    assert other.status_code == 403
    tokens, audit = await _issued(session_factory)
    assert len(tokens) == 1 and tokens[0].token_hash != secret and secret not in tokens[0].name
    assert tokens[0].expires_at is not None
    days = (tokens[0].expires_at - tokens[0].created_at).total_seconds() / 86400
    assert 6.9 < days < 7.1
    issued = [a for a in audit if a.action == "token.oauth_issued"]
    assert len(issued) == 1 and issued[0].guild_id == guild
    assert issued[0].actor == f"discord:{owner}" and issued[0].target == f"token:{tokens[0].id}"
    assert secret not in str(issued[0].after)
    # the code was single-use: replaying the callback is refused (the cookie is gone too)
    again = await api.get(callback)
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_state"


async def test_state_must_be_signed_fresh_and_this_browsers(login, sim, session_factory):
    app, api, browser = login
    await _known(session_factory, sim.world.guild_id)
    _authorize, callback = await _consent(api, browser)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    state = parse_qs(urlsplit(callback).query)["state"][0]
    nonce = api.cookies[STATE_COOKIE]
    config = OAuthConfig.from_settings(app.state.settings)
    assert config is not None
    key = config.state_key
    expired = make_state(key, nonce, now=time.time() - 3600)
    forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    cases = {
        "missing": {"code": code},
        "forged": {"code": code, "state": forged},
        "expired": {"code": code, "state": expired},
    }
    for label, params in cases.items():
        resp = await api.get("/auth/discord/callback", params=params)
        assert resp.status_code == 400, (label, resp.text)
        assert resp.json()["error"]["code"] == "invalid_state", label
    # a state from someone else's browser (no or another cookie): login CSRF
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as victim:
        resp = await victim.get(callback)
        assert resp.status_code == 400 and "browser" in resp.json()["error"]["message"]
    assert await _issued(session_factory) == ([], [])
    # the genuine browser still completes (the code was never spent)
    assert (await api.get(callback)).status_code == 200


async def test_refusals_issue_nothing(login, sim, session_factory):
    _app, api, browser = login
    guild = sim.world.guild_id
    state = oauth_state(sim)
    # the user presses Cancel on Discord
    state.deny = True
    _authorize, callback = await _consent(api, browser)
    resp = await api.get(callback)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "login_cancelled"
    state.deny = False
    # the user manages a server the suite does not know (it never saw the guild)
    _authorize, callback = await _consent(api, browser)
    resp = await api.get(callback)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "no_manageable_server"
    # a moderator (no Administrator, no Manage Server) of a known server
    await _known(session_factory, guild)
    state.login_as = sim.world.member("moderator")
    _authorize, callback = await _consent(api, browser)
    resp = await api.get(callback)
    assert resp.status_code == 403 and "none of the servers" in resp.json()["error"]["message"]
    # Discord fails the code exchange: 502 with Discord's message
    state.login_as = None
    _authorize, callback = await _consent(api, browser)
    sim.inject_fault("/oauth2/token", status=500, count=1)
    resp = await api.get(callback)
    assert resp.status_code == 502, resp.text
    assert resp.json()["error"]["code"] == "discord_error"
    assert "code exchange" in resp.json()["error"]["message"]
    # Discord refuses the secret
    state.client_secret = "another-secret-entirely-42"
    _authorize, callback = await _consent(api, browser)
    resp = await api.get(callback)
    assert resp.status_code == 502 and "Invalid client" in resp.json()["error"]["message"]
    assert SECRET not in resp.text
    assert await _issued(session_factory) == ([], [])


async def test_without_client_id_and_secret_the_login_is_unavailable(session_factory, sim):
    app = create_app(session_factory)
    app.state.settings = _settings(sim, discord_client_id=None, discord_client_secret=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as api:
        for path in ("/auth/discord/login", "/auth/discord/callback?code=x&state=y"):
            resp = await api.get(path)
            assert resp.status_code == 503, resp.text
            error = resp.json()["error"]
            assert error["code"] == "unavailable" and "DISCORD_CLIENT_ID" in error["message"]
