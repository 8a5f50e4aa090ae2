"""GDPR export and erasure through the API, with the member's workflows in a real Temporal."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from test_privacy import ALICE, BOB, GUILD, rows_naming, seed

from api.app import create_app
from storage.models import AuditLogEntry


@pytest.fixture
async def client(session_factory, temporal_env):
    """The API on the test's database, talking to the session's Temporal dev server."""
    app = create_app(session_factory, temporal=temporal_env.client, task_queue="unused")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


def _url(user_id=ALICE, what="", guild=GUILD):
    return f"/api/servers/{guild}/users/{user_id}{what}"


async def test_only_an_admin_of_the_server_may_export_or_erase(client, token, session_factory):
    await seed(session_factory)
    for headers in (await token("moderator"), await token("admin", guild=GUILD + 1)):
        assert (await client.get(_url(what="/export"), headers=headers)).status_code == 403
        assert (await client.delete(_url(), headers=headers)).status_code == 403
    async with session_factory() as session:
        assert len(await rows_naming(session, ALICE)) > 20


async def test_export_then_erase_then_nothing_is_left(client, token, session_factory, temporal_env):
    await seed(session_factory)
    admin = await token("admin")
    resp = await client.get(_url(what="/export"), headers=admin)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert (doc["server_id"], doc["user_id"]) == (str(GUILD), str(ALICE))
    assert doc["tables"]["user_levels"][0]["xp"] == 500
    assert doc["tables"]["appeals"][0]["text"] == "please"
    assert len(doc["tables"]["moderation_cases"]) == 3

    # The member's moderation workflow is running (no worker needed to terminate it).
    handle = await temporal_env.client.start_workflow(
        "ModerationWorkflow", id=f"moderation:{GUILD}:{ALICE}", task_queue=f"t-{uuid.uuid4()}"
    )
    resp = await client.delete(_url(), headers=admin)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["workflows"] == {"moderation": "terminated", "anti_nuke": "not_running"}
    assert body["deleted"]["user_levels"] == 1
    assert body["anonymised"]["moderation_cases"] == 2
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED

    async with session_factory() as session:
        assert await rows_naming(session, ALICE) == []
        assert len(await rows_naming(session, BOB)) > 5
        audit = (
            await session.scalars(
                select(AuditLogEntry).where(AuditLogEntry.action == "privacy.erase")
            )
        ).one()
    assert audit.actor == "admin-token"
    assert audit.after is not None and audit.after["deleted"]["appeals"] == 1
    assert str(ALICE) not in json.dumps(audit.after) and audit.target is None

    exported = (await client.get(_url(what="/export"), headers=admin)).json()["tables"]
    assert all(rows == [] for rows in exported.values())
    again = (await client.delete(_url(), headers=admin)).json()
    assert (again["deleted"], again["anonymised"]) == ({}, {})
    assert again["workflows"] == {"moderation": "not_running", "anti_nuke": "not_running"}
