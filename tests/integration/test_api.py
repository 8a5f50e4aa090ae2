"""The management API through FastAPI on a real database: auth, scopes, config, case log."""

from datetime import UTC, datetime, timedelta

from api.auth import hash_token
from storage.cases import record_case
from storage.servers import get_server_config, list_server_config_history
from storage.tokens import find_token, revoke_token

GUILD_A, GUILD_B = 111111111111111111, 222222222222222222


async def test_no_token_bad_token_revoked_and_expired_are_401(api, token, session_factory):
    good = await token("viewer")
    expired = await token("viewer", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    url = f"/api/servers/{GUILD_A}/config"
    assert (await api.get(url, headers=good)).status_code == 200
    secret = good["Authorization"].removeprefix("Bearer ")
    async with session_factory() as session, session.begin():
        row = await find_token(session, hash_token(secret), now=datetime.now(UTC))
        assert row is not None
        await revoke_token(session, row.id, now=datetime.now(UTC))
    for headers in [
        {},
        {"Authorization": "Bearer dcs_forged"},
        {"Authorization": "Basic x"},
        good,
        expired,
    ]:
        resp = await api.get(url, headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_token_for_one_server_cannot_read_another(api, token):
    headers = await token("admin", guild=GUILD_A)
    resp = await api.get(f"/api/servers/{GUILD_B}/moderation/logs", headers=headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"


async def test_viewer_reads_defaults_but_cannot_change_config(api, token, session_factory):
    headers = await token("viewer")
    resp = await api.get(f"/api/servers/{GUILD_A}/config", headers=headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"] == 0 and body["config"]["xp"]["min_gain"] == 15
    resp = await api.put(f"/api/servers/{GUILD_A}/config", headers=headers, json=body["config"])
    assert resp.status_code == 403
    async with session_factory() as session:
        assert await get_server_config(session, GUILD_A) == (None, 0)


async def test_admin_replaces_config_with_versions_and_history(api, token, session_factory):
    headers = await token("admin")
    url = f"/api/servers/{GUILD_A}/config"
    resp = await api.put(url, headers=headers, json={"automod": {"blocked_terms": ["scam*"]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 1
    got = (await api.get(url, headers=headers)).json()
    assert got["version"] == 1 and got["config"]["automod"]["blocked_terms"] == ["scam*"]
    resp = await api.put(url, headers={**headers, "If-Match": "1"}, json={"language": "de"})
    assert resp.json()["version"] == 2
    async with session_factory() as session:
        history = await list_server_config_history(session, GUILD_A)
    assert [h.version for h in history] == [2, 1]
    assert history[0].changed_by == "admin-token"


async def test_invalid_config_lists_every_problem_and_changes_nothing(api, token, session_factory):
    headers = await token("admin")
    url = f"/api/servers/{GUILD_A}/config"
    await api.put(url, headers=headers, json={"language": "fr"})
    bad = {"language": "french", "automod": {"blocked_terms": ["ok", "!!!"]}, "colour": "red"}
    resp = await api.put(url, headers=headers, json=bad)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_config"
    assert sorted(p.split(":")[0] for p in error["details"]) == ["automod", "colour", "language"]
    async with session_factory() as session:
        raw, version = await get_server_config(session, GUILD_A)
    assert version == 1
    assert raw is not None and raw["language"] == "fr"


async def test_stale_if_match_is_a_conflict(api, token):
    headers = await token("admin")
    url = f"/api/servers/{GUILD_A}/config"
    await api.put(url, headers=headers, json={})
    await api.put(url, headers=headers, json={"language": "es"})
    resp = await api.put(url, headers={**headers, "If-Match": "1"}, json={"language": "pt"})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "version_conflict"
    assert (await api.get(url, headers=headers)).json()["config"]["language"] == "es"


async def test_case_log_pages_and_filters(api, token, session_factory):
    headers = await token("viewer")
    now = datetime.now(UTC)
    async with session_factory() as session, session.begin():
        for i in range(5):
            await record_case(
                session,
                guild_id=GUILD_A,
                user_id=1000 + i % 2,
                action="delete" if i % 2 else "warn",
                reason=f"r{i}",
                source="automod",
                source_key=f"k{i}",
                created_at=now - timedelta(minutes=10 - i),
            )
    url = f"/api/servers/{GUILD_A}/moderation/logs"
    first = (await api.get(url, headers=headers, params={"limit": 2})).json()
    assert [c["case_number"] for c in first["items"]] == [5, 4]
    second = (
        await api.get(url, headers=headers, params={"limit": 2, "before": first["next_cursor"]})
    ).json()
    assert [c["case_number"] for c in second["items"]] == [3, 2]
    only = (await api.get(url, headers=headers, params={"user_id": 1001})).json()
    assert [c["case_number"] for c in only["items"]] == [4, 2]
    assert all(c["user_id"] == "1001" for c in only["items"])
    deletes = (await api.get(url, headers=headers, params={"action": "delete"})).json()
    assert {c["action"] for c in deletes["items"]} == {"delete"}
    naive = await api.get(url, headers=headers, params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["error"]["code"] == "invalid_request"
    too_many = await api.get(url, headers=headers, params={"limit": 1000})
    assert too_many.status_code == 422


async def test_health_needs_no_token(api):
    resp = await api.get("/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


async def test_api_docs_are_served_without_a_cdn(api):
    page = await api.get("/docs")
    assert page.status_code == 200
    assert "cdn.jsdelivr.net" not in page.text
    bundle = await api.get("/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    schema = (await api.get("/openapi.json")).json()
    assert "/api/servers/{server_id}/moderation/logs" in schema["paths"]
