"""Anti-nuke incidents through the API, on both databases: newest first, paged, scoped."""

from datetime import UTC, datetime, timedelta

from storage.models import AntiNukeIncident
from storage.servers import ensure_server_exists

GUILD = 111111111111111111  # the token fixture's default server
OTHER = 222222222222222222


async def _incident(session_factory, guild: int, n: int) -> None:
    async with session_factory() as session, session.begin():
        await ensure_server_exists(session, guild)
        session.add(
            AntiNukeIncident(
                guild_id=guild,
                actor_id=900_000_000_000_000_000 + n,
                workflow_id=f"antinuke:{guild}:{n}",
                workflow_run_id=f"run-{guild}-{n}",
                status="restored" if n % 2 else "open",
                trigger="channel_delete",
                summary=f"deleted {n + 2} channels in 10 s",
                mitigation="quarantined",
                removed_role_ids=["123"],
                evidence=[{"kind": "channel_delete", "target": "general"}],
                started_at=datetime(2026, 12, 6, tzinfo=UTC) + timedelta(minutes=n),
                report=["#general recreated"] if n % 2 else None,
            )
        )


async def test_incidents_are_listed_newest_first_and_paged(api, token, session_factory):
    for n in range(3):
        await _incident(session_factory, GUILD, n)
    await _incident(session_factory, OTHER, 9)
    headers = await token("viewer")
    first = await api.get(f"/api/servers/{GUILD}/anti-nuke/incidents?limit=2", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [i["summary"] for i in body["items"]] == [
        "deleted 4 channels in 10 s",
        "deleted 3 channels in 10 s",
    ]
    assert body["items"][1]["report"] == ["#general recreated"]
    assert body["items"][0]["actor_id"] == str(900_000_000_000_000_002)
    cursor = body["next_cursor"]
    rest = await api.get(
        f"/api/servers/{GUILD}/anti-nuke/incidents?limit=2&before={cursor}", headers=headers
    )
    assert [i["summary"] for i in rest.json()["items"]] == ["deleted 2 channels in 10 s"]
    assert rest.json()["next_cursor"] is None


async def test_another_servers_token_sees_nothing(api, token, session_factory):
    await _incident(session_factory, GUILD, 1)
    other = await token("admin", guild=OTHER)
    resp = await api.get(f"/api/servers/{GUILD}/anti-nuke/incidents", headers=other)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
