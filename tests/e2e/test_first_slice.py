"""The first end-to-end slice through every real layer: simulator -> discord.py gateway -> fast
path -> Temporal (dev server) -> activity -> database (SQLite and PostgreSQL) -> REST API."""

from datetime import UTC, datetime

import httpx
import pytest
from support import eventually, running_bot
from temporalio.client import WorkflowExecutionStatus

from activities.discord_rest import DiscordHttp
from api.app import create_app
from api.auth import hash_token, new_token_secret
from dcs.temporal import build_worker
from simulator import DiscordSimulator
from storage.tokens import create_token
from workflows.moderation import ModerationWorkflow, moderation_workflow_id

pytestmark = pytest.mark.slow


async def viewer_token(session_factory, guild_id):
    secret = new_token_secret()
    async with session_factory() as session, session.begin():
        await create_token(
            session,
            name="e2e",
            role="viewer",
            token_hash=hash_token(secret),
            guild_id=guild_id,
            expires_at=None,
        )
    return secret


async def test_blocked_word_is_deleted_recorded_by_a_workflow_and_served_by_the_api(
    temporal_env, session_factory, task_queue
):
    client = temporal_env.client
    async with DiscordSimulator() as sim:
        guild, alice = sim.world.guild_id, sim.world.member("alice")
        http = DiscordHttp(sim.api_base, "sandbox-token")
        async with (
            build_worker(client, task_queue, session_factory, http),
            running_bot(sim, client, task_queue, session_factory) as bot,
        ):
            # the sandbox guild gets its demo config when the gateway first sees it
            rules = bot.rules.get(guild)
            assert rules is not None and "scam*" in rules.config.automod.blocked_terms

            clean = await sim.post_message("general", "alice", "good morning everyone")
            bad = await sim.post_message("general", "alice", "buy my $c4mc0in, to the moon")

            # the fast path deleted the offending message, and only that one
            await eventually(lambda: _deleted(sim, bad.id))
            remaining = {m.id for m in sim.messages("general")}
            assert clean.id in remaining and bad.id not in remaining

            # the member's workflow recorded case #1 and posted it to #mod-log
            api = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(session_factory)),
                base_url="http://api",
            )
            token = await viewer_token(session_factory, guild)
            auth = {"Authorization": f"Bearer {token}"}
            page = await eventually(lambda: _logs(api, guild, auth))
            await eventually(lambda: len(sim.messages("mod-log")) == 1)

            handle = client.get_workflow_handle(moderation_workflow_id(guild, alice))
            desc = await handle.describe()
            standing = await handle.query(ModerationWorkflow.standing)
            unauth = await api.get(f"/api/servers/{guild}/moderation/logs")
            await api.aclose()
        await http.aclose()

    [case] = page["items"]
    assert case["case_number"] == 1
    assert case["user_id"] == str(alice)
    assert (case["action"], case["source"], case["rule"]) == ("delete", "automod", "blocked_terms")
    assert case["evidence"]["message_id"] == str(bad.id)
    assert "c4mc0in" in case["evidence"]["excerpt"]
    assert case["workflow_id"] == f"moderation:{guild}:{alice}"
    assert datetime.fromisoformat(case["created_at"]) <= datetime.now(UTC)
    # the workflow lives in the real Temporal server (what the Web UI shows) and is still open
    assert desc.status == WorkflowExecutionStatus.RUNNING
    assert desc.workflow_type == "Moderation"
    assert standing.cases_recorded == 1 and standing.active_points == 1
    assert unauth.status_code == 401
    assert unauth.json()["error"]["code"] == "unauthorized"


async def _deleted(sim, message_id):
    return any(
        r.path.endswith(f"/messages/{message_id}") and r.status == 204
        for r in sim.requests("DELETE")
    )


async def _logs(api, guild, auth):
    resp = await api.get(f"/api/servers/{guild}/moderation/logs", headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body if body["items"] else None
