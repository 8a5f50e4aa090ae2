"""Leaderboard pages, the CSV download and CSV imports through the API, on a real database."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.levels import apply_xp_batch, get_member_level, leaderboard, member_rank
from storage.models import AuditLogEntry

GUILD_A, GUILD_B = 111111111111111111, 222222222222222222
BASE = 400000000000000000
T0 = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)


class Delta:
    def __init__(self, user_id, xp, messages=1, guild=GUILD_A):
        self.guild_id, self.user_id, self.xp = guild, user_id, xp
        self.messages, self.voice_minutes, self.last_active = messages, 0, T0


def flat(xp):
    return xp // 100


async def _seed(session_factory, count=23):
    """Members with many ties: xp cycles through four values."""
    async with session_factory() as session, session.begin():
        deltas = [Delta(BASE + i, (i % 4) * 150, messages=i) for i in range(count)]
        deltas.append(Delta(BASE + 999, 10_000, guild=GUILD_B))
        await apply_xp_batch(session, deltas, level_of=flat)


async def _walk(api, headers, limit):
    items, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        resp = await api.get(f"/api/servers/{GUILD_A}/leaderboard", headers=headers, params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _xp(session, user_id):
    row = await get_member_level(session, GUILD_A, user_id)
    assert row is not None
    return row.xp


async def test_leaderboard_pages_agree_with_the_database(api, token, session_factory):
    await _seed(session_factory)
    items = await _walk(api, await token("viewer"), limit=5)
    async with session_factory() as session:
        rows = await leaderboard(session, GUILD_A, limit=1000)
        ranks = [await member_rank(session, GUILD_A, row.user_id) for row in rows]
    assert [i["user_id"] for i in items] == [str(r.user_id) for r in rows]
    assert [i["rank"] for i in items] == ranks == list(range(1, 24))
    assert [i["xp"] for i in items] == sorted((i["xp"] for i in items), reverse=True)
    first = items[0]
    assert first == {"rank": 1, "user_id": str(BASE + 3), "xp": 450, "level": 2, "messages": 3}


async def test_leaderboard_levels_follow_the_server_curve_and_profile_agrees(
    api, token, session_factory
):
    await _seed(session_factory)
    headers = await token("viewer")
    items = await _walk(api, headers, limit=100)
    for item in items[:8]:
        profile = await api.get(
            f"/api/servers/{GUILD_A}/users/{item['user_id']}/profile", headers=headers
        )
        body = profile.json()
        assert (body["rank"], body["xp"], body["level"]) == (
            item["rank"],
            item["xp"],
            item["level"],
        )


async def test_leaderboard_refuses_bad_cursors_and_limits(api, token):
    headers = await token("viewer")
    url = f"/api/servers/{GUILD_A}/leaderboard"
    for cursor in ("nonsense", "djE6LTE6Mjox", "!!!", "djI6MTox"):
        resp = await api.get(url, headers=headers, params={"cursor": cursor})
        assert resp.status_code == 422, cursor
        assert resp.json()["error"]["code"] == "invalid_cursor"
    assert (await api.get(url, headers=headers, params={"limit": 101})).status_code == 422
    empty = await api.get(url, headers=headers)
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_csv_download(api, token, session_factory):
    await _seed(session_factory)
    resp = await api.get(f"/api/servers/{GUILD_A}/leaderboard.csv", headers=await token("viewer"))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    lines = resp.text.splitlines()
    assert lines[0] == "rank,user_id,xp,level,messages,voice_minutes"
    assert lines[1] == f"1,{BASE + 3},450,2,3,0", "level on the server's curve, not as stored"
    assert len(lines) == 24


IMPORT = (
    f"Member ID,Username,XP,Level,Messages\n{BASE + 1},alice,5000,,120\n{BASE + 500},bob,300,3,\n"
)


async def _import(api, headers, content, *, mode=None, files=False, content_type="text/csv"):
    url = f"/api/servers/{GUILD_A}/levels/import"
    params = {"mode": mode} if mode else {}
    if files:
        return await api.post(
            url, headers=headers, params=params, files={"file": ("mee6.csv", content, "text/csv")}
        )
    return await api.post(
        url, headers=headers | {"Content-Type": content_type}, params=params, content=content
    )


@pytest.mark.parametrize("files", [False, True], ids=["text-csv", "multipart"])
async def test_import_writes_levels_and_is_audited(api, token, session_factory, files):
    await _seed(session_factory)
    resp = await _import(api, await token("admin"), IMPORT.encode(), files=files)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"imported": 2, "skipped": 0, "errors": []}
    async with session_factory() as session:
        alice = await get_member_level(session, GUILD_A, BASE + 1)
        bob = await get_member_level(session, GUILD_A, BASE + 500)
        audit = list(await session.scalars(select(AuditLogEntry)))
    assert alice is not None and (alice.xp, alice.total_messages) == (5000, 120)
    assert alice.level == 10, "levels come from the server's (default MEE6) curve"
    assert bob is not None and (bob.xp, bob.level, bob.total_messages) == (300, 2, 0)
    assert [(a.action, a.after) for a in audit] == [
        ("levels.import", {"mode": "replace", "imported": 2})
    ]


async def test_import_max_mode_keeps_higher_xp(api, token, session_factory):
    await _seed(session_factory)
    body = f"user_id,xp\n{BASE + 3},10\n{BASE + 1},999\n".encode()
    resp = await _import(api, await token("admin"), body, mode="max")
    assert resp.status_code == 200
    async with session_factory() as session:
        assert await _xp(session, BASE + 3) == 450
        assert await _xp(session, BASE + 1) == 999


async def test_a_malformed_file_is_422_with_line_errors_and_changes_nothing(
    api, token, session_factory
):
    await _seed(session_factory)
    body = f"user_id,xp\n{BASE + 1},777\n{BASE + 2},lots\n-5,10\n".encode()
    resp = await _import(api, await token("admin"), body)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_csv"
    assert [d.split(":")[0] for d in error["details"]] == ["line 3", "line 4"]
    async with session_factory() as session:
        assert await _xp(session, BASE + 1) == 150
        assert list(await session.scalars(select(AuditLogEntry))) == []


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "text/csv", 422),
        (b"name,score\nx,1\n", "text/csv", 422),
        (b"user_id,xp\n1,\xff\xfe\n", "text/csv", 422),
        (b'{"user_id": 1}', "application/json", 415),
    ],
)
async def test_unusable_uploads_are_refused(api, token, content, content_type, status):
    resp = await _import(api, await token("admin"), content, content_type=content_type)
    assert resp.status_code == status, resp.text
    assert "error" in resp.json()


async def test_import_and_csv_scopes(api, token, session_factory):
    await _seed(session_factory)
    body = f"user_id,xp\n{BASE + 1},1\n".encode()
    for headers in (await token("viewer"), await token("moderator"), await token("admin", GUILD_B)):
        resp = await _import(api, headers, body)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    other = await token("viewer", GUILD_B)
    for path in ("leaderboard", "leaderboard.csv"):
        resp = await api.get(f"/api/servers/{GUILD_A}/{path}", headers=other)
        assert resp.status_code == 403
    async with session_factory() as session:
        assert await _xp(session, BASE + 1) == 150
