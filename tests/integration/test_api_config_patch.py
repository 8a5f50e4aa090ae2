"""PATCH /api/servers/{id}/config (JSON Merge Patch) and the config's version history, through
FastAPI on a real database (both backends): merge, validation of the whole result, If-Match,
roles, the history page and the audit entries."""

from sqlalchemy import select

from storage.models import AuditLogEntry
from storage.servers import get_server_config

GUILD = 111111111111111111
URL = f"/api/servers/{GUILD}/config"
MERGE = {"Content-Type": "application/merge-patch+json"}


async def _audit(session_factory):
    async with session_factory() as session:
        rows = await session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))
        return [(r.action, r.actor, r.target, r.before, r.after) for r in rows]


async def test_patch_merges_onto_the_stored_config(api, token, session_factory):
    admin = await token("admin")
    put = await api.put(
        URL, headers=admin, json={"language": "de", "automod": {"blocked_terms": ["scam*"]}}
    )
    assert put.status_code == 200, put.text
    patch = {"xp": {"min_gain": 5, "max_gain": 9}, "language": None}
    resp = await api.patch(URL, headers={**admin, **MERGE}, content=_json(patch))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["version"] == 2
    config = body["config"]
    assert config["xp"]["min_gain"] == 5 and config["xp"]["max_gain"] == 9
    assert config["xp"]["cooldown_seconds"] == 60  # untouched siblings stay
    assert config["automod"]["blocked_terms"] == ["scam*"]  # other sections stay
    assert config["language"] == "en"  # null removed the key: back to the default
    got = (await api.get(URL, headers=admin)).json()
    assert got == body
    # plain JSON is accepted too; a list replaces the old one whole
    resp = await api.patch(URL, headers=admin, json={"automod": {"blocked_terms": ["free nitro"]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["config"]["automod"]["blocked_terms"] == ["free nitro"]
    assert resp.json()["version"] == 3
    audit = await _audit(session_factory)
    assert [a[0] for a in audit] == ["config.replace", "config.patch", "config.patch"]
    _action, actor, target, before, after = audit[1]
    assert actor == "admin-token" and target == "config:v2"
    assert sorted(before) == ["language", "xp"] == sorted(after)
    assert before["language"] == "de" and after["language"] == "en"
    assert before["xp"]["min_gain"] == 15 and after["xp"]["min_gain"] == 5
    assert audit[2][3] == {"automod": put.json()["config"]["automod"]}


async def test_a_bad_patch_names_the_field_and_changes_nothing(api, token, session_factory):
    admin = await token("admin")
    await api.patch(URL, headers=admin, json={"language": "fr"})
    for patch, field in [
        ({"xp": {"min_gain": 50}}, "xp"),  # valid alone, but above max_gain 25 in the whole
        ({"automod": {"blokced_terms": ["x"]}}, "automod.blokced_terms"),
        ({"verification": {"enabled": True}}, "verification"),  # needs verified_role_id
        ({"tickets": {"mode": "forum"}}, "tickets.mode"),
    ]:
        resp = await api.patch(URL, headers={**admin, **MERGE}, content=_json(patch))
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "invalid_config"
        assert any(p.startswith(field) for p in error["details"]), error
        assert field in error["message"]
    not_an_object = await api.patch(URL, headers={**admin, **MERGE}, content=b"[1, 2]")
    assert not_an_object.status_code == 422
    assert not_an_object.json()["error"]["code"] == "invalid_request"
    async with session_factory() as session:
        raw, version = await get_server_config(session, GUILD)
    assert version == 1 and raw is not None and raw["language"] == "fr"
    assert [a[0] for a in await _audit(session_factory)] == ["config.patch"]


async def test_patch_if_match_and_roles(api, token, session_factory):
    admin = await token("admin")
    await api.patch(URL, headers=admin, json={"language": "es"})  # version 1
    stale = await api.patch(URL, headers={**admin, "If-Match": "0"}, json={"language": "pt"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["details"] == {"expected": 0, "current": 1}
    fresh = await api.patch(URL, headers={**admin, "If-Match": "1"}, json={"language": "pt"})
    assert fresh.status_code == 200 and fresh.json()["version"] == 2
    for role in ("viewer", "moderator"):
        headers = await token(role)
        resp = await api.patch(URL, headers=headers, json={"language": "de"})
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "forbidden"
        assert (await api.get(f"{URL}/versions", headers=headers)).status_code == 403
    other = await token("admin", guild=222222222222222222)
    assert (await api.patch(URL, headers=other, json={"language": "de"})).status_code == 403
    async with session_factory() as session:
        raw, version = await get_server_config(session, GUILD)
    assert version == 2 and raw is not None and raw["language"] == "pt"


async def test_versions_page_and_restore(api, token):
    admin = await token("admin")
    empty = await api.get(f"{URL}/versions", headers=admin)
    assert empty.status_code == 200
    assert empty.json() == {
        "server_id": str(GUILD), "current_version": 0, "items": [], "next_before": None
    }  # fmt: skip
    for language in ("de", "fr", "es"):
        assert (await api.patch(URL, headers=admin, json={"language": language})).is_success
    page = (await api.get(f"{URL}/versions?limit=2", headers=admin)).json()
    assert page["current_version"] == 3
    assert [(i["version"], i["config"]["language"]) for i in page["items"]] == [
        (3, "es"),
        (2, "fr"),
    ]
    assert page["items"][0]["changed_by"] == "admin-token"
    assert page["next_before"] == 2
    rest = (await api.get(f"{URL}/versions?limit=2&before=2", headers=admin)).json()
    assert [i["version"] for i in rest["items"]] == [1] and rest["next_before"] is None
    # restore version 1: PUT its config back
    old = rest["items"][0]["config"]
    restored = await api.put(URL, headers={**admin, "If-Match": "3"}, json=old)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 4 and restored.json()["config"]["language"] == "de"


def _json(value):
    import json

    return json.dumps(value).encode()
