"""`GET /api/servers/{id}/usage` and `PUT /api/servers/{id}/tier`: the real app, real tokens."""

from datetime import UTC, datetime

from sqlalchemy import select

from storage.ai_usage import set_ai_calls
from storage.models import AuditLogEntry
from storage.servers import ensure_server
from storage.tiers import record_guild

GUILD = 111111111111111111  # the token fixture's default guild
OTHER = 222222222222222222
OWNER = 333333333333333333
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


async def seed(sessions):
    async with sessions() as session, session.begin():
        await ensure_server(session, GUILD, "Book Club")
        await record_guild(session, GUILD, owner_id=OWNER, member_count=5_200, now=NOW)
        await set_ai_calls(session, GUILD, "2026-12", 9_000, now=NOW)
        await set_ai_calls(session, GUILD, "2026-11", 10_000, now=NOW)


async def test_usage_of_a_month(api, token, session_factory):
    await seed(session_factory)
    viewer = await token("viewer")
    r = await api.get(f"/api/servers/{GUILD}/usage", params={"month": "2026-12"}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("month", "server_id", "name", "tier", "owner_id")} == {
        "month": "2026-12",
        "server_id": str(GUILD),
        "name": "Book Club",
        "tier": "starter",
        "owner_id": str(OWNER),
    }
    assert body["limits"] == {"servers": 1, "members": 5000, "ai_calls": 10000}
    assert (body["ai_calls"], body["ai_calls_left"], body["ai_budget_spent"]) == (9000, 1000, False)
    assert (body["members"], body["over_limit"]) == (5200, ["members"])
    [notice] = body["notices"]
    assert notice["key"].startswith("over:members:") and "5,200 members" in notice["text"]

    r = await api.get(f"/api/servers/{GUILD}/usage?month=2026-11", headers=viewer)
    assert (r.json()["ai_calls"], r.json()["ai_budget_spent"]) == (10000, True)


async def test_usage_refuses_bad_months_other_servers_and_unknown_ones(api, token, session_factory):
    await seed(session_factory)
    viewer = await token("viewer")
    r = await api.get(f"/api/servers/{GUILD}/usage?month=2026-13", headers=viewer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_month"
    r = await api.get(f"/api/servers/{OTHER}/usage", headers=viewer)
    assert r.status_code == 403
    r = await api.get(f"/api/servers/{OTHER}/usage", headers=await token("admin", guild=None))
    assert r.status_code == 404


async def test_only_the_operator_changes_a_tier_and_it_is_audited(api, token, session_factory):
    await seed(session_factory)
    body = {"tier": "growth"}
    server_admin = await token("admin")
    r = await api.put(f"/api/servers/{GUILD}/tier", json=body, headers=server_admin)
    assert r.status_code == 403 and "billing" in r.json()["error"]["message"]
    everywhere_viewer = await token("viewer", guild=None)
    r = await api.put(f"/api/servers/{GUILD}/tier", json=body, headers=everywhere_viewer)
    assert r.status_code == 403
    operator = await token("admin", guild=None)
    r = await api.put(f"/api/servers/{GUILD}/tier", json={"tier": "gold"}, headers=operator)
    assert r.status_code == 422

    r = await api.put(f"/api/servers/{GUILD}/tier", json=body, headers=operator)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "server_id": str(GUILD),
        "before": "starter",
        "after": "growth",
        "changed": True,
        "limit_changes": [{"server_id": str(GUILD), "before": "members", "after": ""}],
    }
    usage = (await api.get(f"/api/servers/{GUILD}/usage", headers=server_admin)).json()
    assert usage["tier"] == "growth" and usage["over_limit"] == []
    assert usage["limits"]["ai_calls"] == 50000
    async with session_factory() as session:
        [entry] = (
            await session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "tier.set"))
        ).all()
    assert (entry.guild_id, entry.actor, entry.before, entry.after) == (
        GUILD,
        "admin-token",
        {"tier": "starter"},
        {"tier": "growth"},
    )
