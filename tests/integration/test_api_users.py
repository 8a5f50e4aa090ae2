"""Member profiles and admin level changes through the API, on a real database."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from storage.achievements import grant_achievement
from storage.levels import apply_xp_batch, bump_counter, get_member_level, update_streak
from storage.models import AuditLogEntry
from storage.servers import put_server_config

GUILD_A, GUILD_B = 111111111111111111, 222222222222222222
ALICE, BOB, CAROL = 300000000000000001, 300000000000000002, 300000000000000003
T0 = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)


class Delta:
    def __init__(self, user_id, xp, messages=1, voice_minutes=0):
        self.guild_id, self.user_id, self.xp = GUILD_A, user_id, xp
        self.messages, self.voice_minutes, self.last_active = messages, voice_minutes, T0


def mee6(xp):
    """The default curve's level, spelled out: level n costs 5n^2 + 50n + 100."""
    level = 0
    while xp >= 5 * level * level + 50 * level + 100:
        xp -= 5 * level * level + 50 * level + 100
        level += 1
    return level


async def _seed(session_factory):
    async with session_factory() as session, session.begin():
        await apply_xp_batch(
            session,
            [Delta(ALICE, 1000, 40, 12), Delta(BOB, 1000, 5), Delta(CAROL, 20)],
            level_of=mee6,
        )
        await bump_counter(session, GUILD_A, ALICE, "reactions_received", by=3)
        await update_streak(session, GUILD_A, ALICE, 4, date(2026, 11, 20))
        await grant_achievement(session, GUILD_A, ALICE, "first_message", granted_at=T0)


def _url(user_id, what="profile", guild=GUILD_A):
    return f"/api/servers/{guild}/users/{user_id}/{what}"


async def _xp(session, user_id):
    row = await get_member_level(session, GUILD_A, user_id)
    assert row is not None
    return row.xp


async def test_profile_shows_level_rank_counters_and_achievements(api, token, session_factory):
    await _seed(session_factory)
    resp = await api.get(_url(BOB), headers=await token("viewer"))
    assert resp.status_code == 200, resp.text
    bob = resp.json()
    # Alice and Bob tie on 1000 XP: the smaller id ranks first.
    assert (bob["user_id"], bob["xp"], bob["level"], bob["rank"]) == (str(BOB), 1000, 4, 2)
    # Level 4 starts at 770 XP and level 5 at 1150.
    assert (bob["xp_into_level"], bob["xp_needed"], bob["at_max_level"]) == (230, 150, False)
    alice = (await api.get(_url(ALICE), headers=await token("viewer"))).json()
    assert alice["rank"] == 1
    assert alice["counters"] == {
        "messages": 40,
        "voice_minutes": 12,
        "streak_days": 4,
        "reactions_received": 3,
        "events_attended": 0,
        "tickets_helped": 0,
        "invites": 0,
    }
    assert alice["streak_last_day"] == "2026-11-20"
    assert alice["achievements"] == [{"key": "first_message", "granted_at": "2026-11-20T18:30:00Z"}]
    async with session_factory() as session:
        stored = await get_member_level(session, GUILD_A, ALICE)
    assert stored is not None and (stored.xp, stored.level) == (alice["xp"], alice["level"])


async def test_profile_follows_the_server_curve(api, token, session_factory):
    await _seed(session_factory)
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, GUILD_A, {"xp": {"curve": "flat"}}, expected_version=None, changed_by="t"
        )
    body = (await api.get(_url(ALICE), headers=await token("viewer"))).json()
    assert (body["level"], body["xp_into_level"], body["xp_needed"]) == (10, 0, 100)


async def test_unknown_member_is_404_in_the_error_format(api, token, session_factory):
    await _seed(session_factory)
    resp = await api.get(_url(999), headers=await token("viewer"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "member_not_found"
    resp = await api.get(_url(0), headers=await token("viewer"))
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_request"


async def test_admin_sets_xp_or_level_and_it_is_audited(api, token, session_factory):
    await _seed(session_factory)
    admin = await token("admin")
    resp = await api.put(_url(BOB, "level"), headers=admin, json={"xp": 5000})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["xp"], body["level"], body["before"]) == (
        5000,
        mee6(5000),
        {"xp": 1000, "level": 4},
    )
    resp = await api.put(_url(CAROL, "level"), headers=admin, json={"level": 5})
    assert (resp.json()["xp"], resp.json()["level"]) == (1150, 5)
    resp = await api.put(_url(12345, "level"), headers=admin, json={"level": 1})
    assert resp.json()["before"] is None and resp.json()["xp"] == 100
    profile = (await api.get(_url(BOB), headers=admin)).json()
    assert (profile["xp"], profile["rank"]) == (5000, 1)
    async with session_factory() as session:
        entries = list(await session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)))
        carol = await get_member_level(session, GUILD_A, CAROL)
    assert carol is not None and (carol.xp, carol.level) == (1150, 5)
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("levels.set", f"user:{BOB}", "admin-token"),
        ("levels.set", f"user:{CAROL}", "admin-token"),
        ("levels.set", "user:12345", "admin-token"),
    ]
    assert entries[0].before == {"xp": 1000, "level": 4}
    assert entries[0].after == {"xp": 5000, "level": mee6(5000)}


@pytest.mark.parametrize(
    "body",
    [{}, {"xp": 10, "level": 1}, {"xp": -1}, {"level": -2}, {"xp": "many"}, {"xp": 1, "rank": 1}],
)
async def test_invalid_level_bodies_are_422_and_change_nothing(api, token, session_factory, body):
    await _seed(session_factory)
    resp = await api.put(_url(BOB, "level"), headers=await token("admin"), json=body)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_request"
    async with session_factory() as session:
        assert await _xp(session, BOB) == 1000
        assert list(await session.scalars(select(AuditLogEntry))) == []


async def test_a_level_above_the_cap_is_refused(api, token, session_factory):
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, GUILD_A, {"xp": {"max_level": 10}}, expected_version=None, changed_by="t"
        )
    resp = await api.put(_url(BOB, "level"), headers=await token("admin"), json={"level": 11})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_level"


async def test_scopes_viewer_cannot_set_and_other_server_is_forbidden(api, token, session_factory):
    await _seed(session_factory)
    viewer, moderator = await token("viewer"), await token("moderator")
    other_admin = await token("admin", guild=GUILD_B)
    for headers in (viewer, moderator, other_admin):
        resp = await api.put(_url(BOB, "level"), headers=headers, json={"xp": 1})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    resp = await api.get(_url(BOB), headers=other_admin)
    assert resp.status_code == 403
    assert (await api.get(_url(BOB))).status_code == 401
    async with session_factory() as session:
        assert await _xp(session, BOB) == 1000
