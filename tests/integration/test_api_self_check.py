"""POST /api/servers/{id}/test against the real parts: the Discord simulator (with the suite's
gateway connected, so its heartbeat is real), the Temporal dev server, the local Telegram Bot API
and the local AI providers. All ok when set up right; a fail naming the permission the bot's role
lost; a fail for a deleted log channel; a warn without Telegram; nothing changed in Discord."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from support import eventually, running_bot

from api.app import create_app
from dcs.self_check import SelfCheck
from dcs.settings import load_settings
from simulator.ai_providers import AIProviderSimulator
from simulator.permissions import Perm
from simulator.telegram import TelegramSimulator
from storage.health import GATEWAY_KEY, get_mark, write_heartbeats

TELEGRAM_TOKEN = "424242:self-check-test-token"
CHAT = -100777


@pytest.fixture
async def telegram():
    async with TelegramSimulator(TELEGRAM_TOKEN, chats={CHAT: "Staff approvals"}) as server:
        yield server


@pytest.fixture
async def ai():
    async with AIProviderSimulator() as server:
        yield server


def _settings(sim, telegram, ai, **extra):
    values = {
        "discord_bot_token": "sim-bot-token",
        "discord_api_url": sim.api_base,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "telegram_chat_id": str(CHAT),
        "telegram_api_url": telegram.base_url,
        "ai_provider": "anthropic",
        "anthropic_api_key": "sk-ant-self-check-test",
        "anthropic_base_url": ai.anthropic_base_url,
        "openai_api_key": None,
        "gemini_api_key": None,
    }
    return load_settings(**{**values, **extra})


def _config(sim):
    world = sim.world
    return {
        "mod_log_channel_id": world.channel("mod-log"),
        "events": {"channel_id": world.channel("events")},
        "xp": {"role_rewards": [{"level": 5, "role_id": world.role("Member")}]},
        "tickets": {"parent_channel_id": world.channel("support")},
        "approvals": {"approver_role_ids": [world.role("Moderator")]},
    }


@contextlib.asynccontextmanager
async def _suite(sim, telegram, ai, temporal_env, task_queue, session_factory, **settings):
    """The gateway connected to the simulator, and the API with the given settings."""
    app = create_app(session_factory, temporal=temporal_env.client, task_queue=task_queue)
    app.state.settings = _settings(sim, telegram, ai, **settings)
    async with (
        running_bot(
            sim, temporal_env.client, task_queue, session_factory, config=_config(sim)
        ) as bot,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api,
    ):
        # the gateway's first beat went out before it was ready; its next is 30 s away, so beat
        # with the gateway's own writer and connection probe at a faster pace
        beats = asyncio.create_task(write_heartbeats(session_factory, bot.gateway_connected, 0.05))
        try:
            await eventually(lambda: _connected(session_factory))
            yield api
        finally:
            beats.cancel()


async def _connected(session_factory):
    async with session_factory() as session:
        mark = await get_mark(session, GATEWAY_KEY)
    return mark is not None and mark.detail == "connected"


async def _check(api, token, guild):
    headers = await token("moderator", guild=guild)
    resp = await api.post(f"/api/servers/{guild}/test", headers=headers)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    return report, {c["name"]: c for c in report["checks"]}


async def test_all_ok_when_set_up_right_and_nothing_changes(
    sim, telegram, ai, temporal_env, task_queue, session_factory, token
):
    guild = sim.world.guild_id
    async with _suite(sim, telegram, ai, temporal_env, task_queue, session_factory) as api:
        sim.clear_requests()
        report, checks = await _check(api, token, guild)
        assert report["status"] == "ok", [c for c in report["checks"] if c["status"] != "ok"]
        for name in (
            "database", "config", "gateway", "discord:membership", "permission:ban_members",
            "permission:manage_roles", "channel:mod-log", "channel:events", "channel:ticket parent",
            "role:level 5 reward", "role:approver", "telegram", "ai:anthropic", "temporal",
        ):  # fmt: skip
            assert checks[name]["status"] == "ok", checks.get(name)
        assert "Staff approvals" in checks["telegram"]["detail"]
        assert "#mod-log" in checks["channel:mod-log"]["detail"]
        assert all(c["fix"] == "" for c in report["checks"])
        ours = [r for r in sim.requests() if "dcs" in r.headers.get("User-Agent", "")]
        assert ours and {r.method for r in ours} == {"GET"}  # read-only in Discord
        assert {r.path for r in ours} >= {f"/guilds/{guild}/roles", f"/guilds/{guild}/channels"}
        assert [c[0] for c in telegram.calls] == ["getMe", "getChat"]
        assert [r.path for r in ai.requests] == [f"/v1/models/{load_settings().anthropic_model}"]
        # viewers may not run it
        viewer = await token("viewer", guild=guild)
        refused = await api.post(f"/api/servers/{guild}/test", headers=viewer)
        assert refused.status_code == 403


async def test_a_lost_permission_and_a_deleted_log_channel_fail(
    sim, telegram, ai, temporal_env, task_queue, session_factory, token
):
    guild = sim.world.guild_id
    async with _suite(sim, telegram, ai, temporal_env, task_queue, session_factory) as api:
        bot_role = sim.world.guilds[guild].roles[sim.world.bot_role_id]
        bot_role.permissions &= ~int(Perm.BAN_MEMBERS)
        report, checks = await _check(api, token, guild)
        assert report["status"] == "fail"
        ban = checks["permission:ban_members"]
        assert ban["status"] == "fail" and "Ban Members" in ban["detail"]
        assert bot_role.name in ban["fix"]
        failing = {c["name"] for c in report["checks"] if c["status"] == "fail"}
        assert failing == {"permission:ban_members"}

        bot_role.permissions |= int(Perm.BAN_MEMBERS)
        mod_log = sim.world.channel("mod-log")
        await sim.delete_channel_as("mod-log", by="owner")
        report, checks = await _check(api, token, guild)
        assert report["status"] == "fail"
        gone = checks["channel:mod-log"]
        assert gone["status"] == "fail" and f"{mod_log} does not exist" in gone["detail"]
        assert gone["fix"]
        assert {c["name"] for c in report["checks"] if c["status"] == "fail"} == {"channel:mod-log"}


async def test_without_telegram_and_ai_keys_it_warns(
    sim, telegram, ai, temporal_env, task_queue, session_factory, token
):
    guild = sim.world.guild_id
    no_telegram = {"telegram_bot_token": None, "telegram_chat_id": None, "anthropic_api_key": None}
    async with _suite(
        sim, telegram, ai, temporal_env, task_queue, session_factory, **no_telegram
    ) as api:
        report, checks = await _check(api, token, guild)
        assert report["status"] == "warn", [c for c in report["checks"] if c["status"] != "ok"]
        assert checks["telegram"]["status"] == "warn"
        assert "not configured" in checks["telegram"]["detail"]
        assert "TELEGRAM_BOT_TOKEN" in checks["telegram"]["fix"]
        assert checks["ai"]["status"] == "warn"
        assert {c["name"] for c in report["checks"] if c["status"] != "ok"} == {"telegram", "ai"}
        assert telegram.calls == [] and ai.requests == []


async def test_broken_integrations_fail_with_their_fix(
    sim, telegram, ai, temporal_env, task_queue, session_factory, token
):
    guild = sim.world.guild_id
    wrong_chat = {"telegram_chat_id": "-100999"}
    async with _suite(
        sim, telegram, ai, temporal_env, task_queue, session_factory, **wrong_chat
    ) as api:
        ai.fail("anthropic", times=1, status=401)
        report, checks = await _check(api, token, guild)
        assert checks["telegram"]["status"] == "fail"
        assert "-100999" in checks["telegram"]["detail"]
        assert checks["ai:anthropic"]["status"] == "fail"
        assert "ANTHROPIC_API_KEY" in checks["ai:anthropic"]["fix"]
        assert "sk-ant" not in str(report)


async def test_dcs_selfcheck_prints_the_report(sim, telegram, ai, migrated_db, capsys):
    """`dcs selfcheck --server ID`: the same checks from the shell; no gateway here, so it fails."""
    from dcs.self_check import run_cli

    settings = _settings(
        sim, telegram, ai, database_url=migrated_db, temporal_address="127.0.0.1:9"
    )
    code = await run_cli(sim.world.guild_id, settings)
    out = capsys.readouterr().out
    assert code == 2, out
    assert out.startswith(f"Self-check of server {sim.world.guild_id}: FAIL")
    assert "FAIL  gateway: The gateway is not connected" in out
    assert "FAIL  temporal" in out and "fix: Check TEMPORAL_ADDRESS" in out
    assert "ok    permission:ban_members" in out
    assert "WARN  config: The server has never been configured" in out


async def test_the_selfcheck_slash_command_answers_managers_only(
    sim, telegram, ai, temporal_env, task_queue, session_factory
):
    """/selfcheck runs the same check in Discord: an ephemeral embed, problems first with fixes."""
    async with running_bot(
        sim, temporal_env.client, task_queue, session_factory, config=_config(sim)
    ) as bot:

        async def temporal():
            return temporal_env.client

        bot.self_check = SelfCheck(_settings(sim, telegram, ai), session_factory, temporal)
        beats = asyncio.create_task(write_heartbeats(session_factory, bot.gateway_connected, 0.05))
        try:
            await eventually(lambda: _connected(session_factory))
            denied = await sim.invoke_slash_command("selfcheck", "alice")
            assert "Manage Server" in str(await denied.wait_response())

            async def answer(record):
                await record.wait_response()
                original = record.describe(sim.world)["original_message"]
                return original if original and original["embeds"] else None

            record = await sim.invoke_slash_command("selfcheck", "owner")
            ok = await eventually(lambda: answer(record), timeout=20)
            assert ok["flags"] & 64  # only the caller sees it
            [embed] = ok["embeds"]
            assert embed["title"] == "Self-check: OK"
            assert "✅ **channel:mod-log**" in embed["description"]
            assert embed["footer"]["text"].startswith("0 failing, 0 warnings")

            await sim.delete_channel_as("mod-log", by="owner")
            record = await sim.invoke_slash_command("selfcheck", "owner")
            failed = (await eventually(lambda: answer(record), timeout=20))["embeds"][0]
            assert failed["title"] == "Self-check: FAIL"
            first = failed["description"].splitlines()[0]
            assert first.startswith("❌ **channel:mod-log**"), failed["description"]
            assert "↳" in failed["description"]  # the fix under it
        finally:
            beats.cancel()
