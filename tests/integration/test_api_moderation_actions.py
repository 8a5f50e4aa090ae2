"""Moderation actions and approval decisions through the API, on a real database and a real
Temporal dev server; the member's workflow is a stand-in that remembers its signals."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fake_moderation import fake_moderation_worker, seen_by
from sqlalchemy import select
from support import eventually

from api.app import create_app
from storage.models import PendingApproval
from storage.servers import ensure_server_exists, put_server_config
from workflows.moderation import moderation_workflow_id

GUILD = 111111111111111111  # the token fixture's default server
OTHER = 222222222222222222
BOB = 444444444444444444


@pytest.fixture
async def client(session_factory, temporal_env, task_queue):
    app = create_app(session_factory, temporal=temporal_env.client, task_queue=task_queue)
    transport = httpx.ASGITransport(app=app)
    async with (
        fake_moderation_worker(temporal_env.client, task_queue),
        httpx.AsyncClient(transport=transport, base_url="http://api") as http,
    ):
        yield http


def member(n: int) -> int:
    """A fresh member id per test: workflows live on the shared dev server."""
    return BOB + n * 1000 + uuid.uuid4().int % 1000


async def test_a_moderator_bans_through_the_api(client, token, temporal_env, session_factory):
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, GUILD, {"mod_log_channel_id": 555}, expected_version=None, changed_by="t"
        )
    user = member(1)
    headers = await token("moderator") | {"Idempotency-Key": "ban-1"}
    body = {"action": "ban", "user_id": str(user), "reason": "raid", "duration_minutes": 1440}
    resp = await client.post(f"/api/servers/{GUILD}/moderation/action", headers=headers, json=body)
    assert resp.status_code == 202, resp.text
    out = resp.json()
    workflow_id = moderation_workflow_id(GUILD, user)
    assert out["workflow_id"] == workflow_id and out["user_id"] == str(user)
    assert out["source_key"].startswith("api:token:") and out["source_key"].endswith(":ban-1")
    seen = await eventually(lambda: seen_by(temporal_env.client, workflow_id))
    (violation,) = seen.reports
    assert (violation.action, violation.source, violation.explicit) == ("ban", "api", True)
    assert (violation.duration_minutes, violation.mod_log_channel_id) == (1440, 555)
    assert violation.source_key == out["source_key"]


async def test_unban_is_a_lift_and_a_note_is_already_applied(client, token, temporal_env):
    user = member(2)
    headers = await token("moderator")
    url = f"/api/servers/{GUILD}/moderation/action"
    resp = await client.post(
        url, headers=headers, json={"action": "unban", "user_id": user, "reason": "appeal ok"}
    )
    assert resp.status_code == 202, resp.text
    resp = await client.post(
        url, headers=headers, json={"action": "note", "user_id": user, "reason": "watch"}
    )
    assert resp.status_code == 202
    seen = await eventually(
        lambda: _with_reports(temporal_env.client, moderation_workflow_id(GUILD, user))
    )
    assert [(lift.sanction, lift.reason) for lift in seen.lifts] == [("ban", "appeal ok")]
    assert [(v.action, v.already_applied, v.points) for v in seen.reports] == [("note", True, 0)]


async def _with_reports(client, workflow_id):
    seen = await seen_by(client, workflow_id)
    return seen if seen is not None and seen.reports else None


async def test_actions_need_the_moderator_role_and_a_valid_body(client, token, temporal_env):
    url = f"/api/servers/{GUILD}/moderation/action"
    body = {"action": "warn", "user_id": member(3), "reason": "x"}
    resp = await client.post(url, headers=await token("viewer"), json=body)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    other = await client.post(
        f"/api/servers/{OTHER}/moderation/action", headers=await token("moderator"), json=body
    )
    assert other.status_code == 403
    headers = await token("moderator")
    for bad in [
        {"action": "timeout", "user_id": 5, "reason": "no duration"},
        {"action": "timeout", "user_id": 5, "reason": "too long", "duration_minutes": 50000},
        {"action": "kick", "user_id": 5, "reason": "x", "duration_minutes": 5},
        {"action": "explode", "user_id": 5, "reason": "x"},
        {"action": "warn", "user_id": "bob", "reason": "x"},
        {"action": "warn", "user_id": 5, "reason": "   "},
        {"action": "warn", "user_id": 5, "reason": "x", "extra": 1},
    ]:
        resp = await client.post(url, headers=headers, json=bad)
        assert resp.status_code == 422, bad
        error = resp.json()["error"]
        assert error["code"] == "invalid_request" and error["details"], bad
    assert await seen_by(temporal_env.client, moderation_workflow_id(GUILD, 5)) is None


async def test_an_action_answers_503_when_temporal_cannot_be_reached(
    session_factory, token, monkeypatch
):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    app = create_app(session_factory)  # no client: connects from the settings on first use
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        resp = await http.post(
            f"/api/servers/{GUILD}/moderation/action",
            headers=await token("moderator"),
            json={"action": "warn", "user_id": 5, "reason": "x"},
        )
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "unavailable"


async def _approval(sessions, *, guild=GUILD, user=None, action="ban", status="pending", at=None):
    approval_id = str(uuid.uuid4())
    user = user or member(9)
    async with sessions() as session, session.begin():
        await ensure_server_exists(session, guild)
        session.add(
            PendingApproval(
                id=approval_id,
                guild_id=guild,
                workflow_id=moderation_workflow_id(guild, user),
                action=action,
                target_user_id=user,
                reason="raid from new accounts",
                evidence={"messages": ["join my server"]},
                requested_by="automod",
                status=status,
                duration_minutes=None,
                created_at=at or datetime.now(UTC),
                expires_at=datetime.now(UTC) + timedelta(hours=24),
            )
        )
    return approval_id


async def test_pending_lists_waiting_approvals_with_evidence_and_pages(
    client, token, session_factory
):
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    ids = [await _approval(session_factory, at=t0 + timedelta(minutes=i)) for i in range(3)]
    decided = await _approval(session_factory, status="approved", at=t0)
    await _approval(session_factory, guild=OTHER)
    headers = await token("viewer")
    url = f"/api/servers/{GUILD}/moderation/pending"
    first = (await client.get(url, headers=headers, params={"limit": 2})).json()
    assert [i["approval_id"] for i in first["items"]] == [ids[2], ids[1]]
    item = first["items"][0]
    assert item["evidence"] == {"messages": ["join my server"]} and item["status"] == "pending"
    assert item["action"] == "ban" and isinstance(item["user_id"], str)
    second = (
        await client.get(url, headers=headers, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [i["approval_id"] for i in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    approved = (await client.get(url, headers=headers, params={"status": "approved"})).json()
    assert [i["approval_id"] for i in approved["items"]] == [decided]
    bad = await client.get(url, headers=headers, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert (await client.get(url)).status_code == 401


async def _start_fake(client, token, user):
    """Start the member's (stand-in) workflow with a note, as a real request would have."""
    resp = await client.post(
        f"/api/servers/{GUILD}/moderation/action",
        headers=await token("moderator"),
        json={"action": "note", "user_id": user, "reason": "start"},
    )
    assert resp.status_code == 202


async def _row(sessions, approval_id):
    async with sessions() as session:
        return await session.scalar(
            select(PendingApproval).where(PendingApproval.id == approval_id)
        )


async def test_deciding_through_the_api_signals_once_and_refuses_the_second(
    client, token, session_factory, temporal_env
):
    user = member(4)
    await _start_fake(client, token, user)
    approval_id = await _approval(session_factory, user=user)
    url = f"/api/servers/{GUILD}/moderation/pending/{approval_id}"
    viewer = await client.post(url, headers=await token("viewer"), json={"decision": "approve"})
    assert viewer.status_code == 403
    headers = await token("moderator")
    resp = await client.post(url, headers=headers, json={"decision": "approve"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert (out["status"], out["final_action"], out["user_id"]) == ("approved", "ban", str(user))
    assert out["decided_by"].startswith("api:token:")
    row = await _row(session_factory, approval_id)
    assert (row.status, row.decision_channel) == ("approved", "api")
    seen = await eventually(
        lambda: _with_decisions(temporal_env.client, moderation_workflow_id(GUILD, user))
    )
    assert [(d.approval_id, d.decision, d.channel) for d in seen.decisions] == [
        (approval_id, "approve", "api")
    ]
    again = await client.post(url, headers=headers, json={"decision": "reject"})
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "already_decided" and "nothing changed" in error["message"]


async def _with_decisions(client, workflow_id):
    seen = await seen_by(client, workflow_id)
    return seen if seen is not None and seen.decisions else None


async def test_modify_unknown_and_unreachable_decisions(client, token, session_factory):
    user = member(5)
    await _start_fake(client, token, user)
    headers = await token("moderator")
    base = f"/api/servers/{GUILD}/moderation/pending"
    kick = await _approval(session_factory, user=user, action="kick")
    harsher = await client.post(
        f"{base}/{kick}", headers=headers, json={"decision": "modify", "action": "ban"}
    )
    assert harsher.status_code == 422
    assert harsher.json()["error"]["code"] == "invalid_decision"
    milder = await client.post(
        f"{base}/{kick}",
        headers=headers,
        json={"decision": "modify", "action": "timeout", "duration_minutes": 60},
    )
    assert milder.status_code == 200, milder.text
    assert (milder.json()["status"], milder.json()["final_action"]) == ("modified", "timeout")

    missing = await client.post(
        f"{base}/{uuid.uuid4()}", headers=headers, json={"decision": "reject"}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    elsewhere = await _approval(session_factory, guild=OTHER)
    scoped = await client.post(
        f"/api/servers/{GUILD}/moderation/pending/{elsewhere}",
        headers=headers,
        json={"decision": "reject"},
    )
    assert scoped.status_code == 404  # another server's approval is not found here

    orphan = await _approval(session_factory, user=member(6))  # its workflow is not running
    gone = await client.post(f"{base}/{orphan}", headers=headers, json={"decision": "approve"})
    assert gone.status_code == 503 and gone.json()["error"]["code"] == "unavailable"
    assert (await _row(session_factory, orphan)).status == "pending"  # still decidable
