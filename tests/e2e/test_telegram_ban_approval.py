"""The headline path on every real part: a moderator's /ban-like report waits for approval, the
request appears in Telegram (python-telegram-bot against the local Bot API), and the ban reaches
Discord only after an approver presses Approve. Forged and unauthorised presses change nothing;
Reject and Modify do what they say."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from support import eventually

from activities.discord_rest import DiscordHttp
from approvals.callback_data import derive_callback_key
from approvals.telegram_activities import TelegramActivities
from approvals.telegram_bot import FORGED, NOT_APPROVER, TelegramApprovals, run_application
from approvals.telegram_config import TelegramEndpoint
from dcs.server_config import default_server_config
from dcs.temporal import build_worker
from domain.cases import Violation
from simulator import DiscordSimulator
from simulator.telegram import TelegramSimulator
from storage.models import ModerationCase, PendingApproval
from storage.servers import ensure_server, put_server_config
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "123456:e2e-token"
CHAT = -1005550001
APPROVER = 4242
OUTSIDER = 777
BAN_ROUTE = "/guilds/{guild_id}/bans/{user_id}"


@pytest.fixture
async def suite(temporal_env, session_factory, task_queue):
    async with (
        DiscordSimulator() as discord,
        TelegramSimulator(TOKEN, chats={CHAT: "Approvals"}) as telegram,
    ):
        guild = discord.world.guild_id
        config = default_server_config().model_dump(mode="json")
        config["mod_log_channel_id"] = discord.world.channel("mod-log")
        config["approvals"]["approver_telegram_ids"] = [APPROVER]
        async with session_factory() as session, session.begin():
            await ensure_server(session, guild, "Sandbox Community")
            await put_server_config(session, guild, config, expected_version=None, changed_by="t")
        endpoint = TelegramEndpoint(
            telegram.base_url, TOKEN, str(CHAT), derive_callback_key("e2e-secret")
        )
        http = DiscordHttp(discord.api_base, "sandbox-token")
        activities = TelegramActivities(session_factory, endpoint)
        app = TelegramApprovals(session_factory, temporal_env.client, endpoint).build_application()
        stop = asyncio.Event()
        async with build_worker(
            temporal_env.client, task_queue, session_factory, http, telegram=activities
        ):
            bot = asyncio.create_task(run_application(app, stop))
            try:
                await telegram.wait_until(lambda: any(m == "getUpdates" for m, _ in telegram.calls))
                yield discord, telegram
            finally:
                stop.set()
                await asyncio.wait_for(bot, 30)
                await activities.aclose()
                await http.aclose()


async def ask_to_ban(client, task_queue, discord, telegram, member: str) -> dict:
    guild, user = discord.world.guild_id, discord.world.member(member)
    before = len(telegram.messages(CHAT))
    violation = Violation(
        guild_id=guild,
        user_id=user,
        source_key=f"e2e:{uuid.uuid4()}",
        source="command",
        action="ban",
        reason="spamming scam links",
        occurred_at=datetime.now(UTC),
        moderator_id=discord.world.member("moderator"),
        explicit=True,
    )
    await client.start_workflow(
        ModerationWorkflow.run,
        ModerationInput(guild, user),
        id=moderation_workflow_id(guild, user),
        task_queue=task_queue,
        start_signal="report",
        start_signal_args=[violation],
    )
    messages = await eventually(lambda: telegram.messages(CHAT)[before:])
    return messages[-1]


def button(telegram, message: dict, label: str) -> str:
    return next(data for text, data in telegram.buttons(message) if label in text)


def bans_of(discord, member: str) -> list:
    user = discord.world.member(member)
    return [r for r in discord.requests("PUT", BAN_ROUTE) if r.path.endswith(f"/{user}")]


async def row_of(sessions, member_id: int) -> PendingApproval:
    async with sessions() as session:
        rows = await session.scalars(
            select(PendingApproval).where(PendingApproval.target_user_id == member_id)
        )
        return rows.one()


async def test_ban_happens_only_after_approve_is_pressed_in_telegram(
    suite, temporal_env, task_queue, session_factory
):
    discord, telegram = suite
    request = await ask_to_ban(temporal_env.client, task_queue, discord, telegram, "bob")
    text = request["text"]
    assert "ban" in text.lower() and "spamming scam links" in text
    bob_id = discord.world.member("bob")
    assert f"User: Bob ({bob_id})" in text  # the global display name
    assert f"Server: Sandbox Community ({discord.world.guild_id})" in text
    approve = button(telegram, request, "Approve")

    # Nobody has decided: no ban, however long we wait for the workflow to settle.
    await asyncio.sleep(1.0)
    assert bans_of(discord, "bob") == []

    # A stranger's press and a forged button change nothing.
    outsider = await telegram.wait_for_answer(
        telegram.press_button(CHAT, request["message_id"], approve, OUTSIDER)
    )
    assert outsider.text == NOT_APPROVER
    forged_data = approve[:-4] + ("AAAA" if not approve.endswith("AAAA") else "BBBB")
    forged = await telegram.wait_for_answer(
        telegram.press_button(CHAT, request["message_id"], forged_data, APPROVER)
    )
    assert forged.text == FORGED
    await asyncio.sleep(0.5)
    assert bans_of(discord, "bob") == []
    assert (await row_of(session_factory, discord.world.member("bob"))).status == "pending"

    # The approver presses Approve: the ban reaches Discord, the case is recorded.
    answer = await telegram.wait_for_answer(
        telegram.press_button(CHAT, request["message_id"], approve, APPROVER)
    )
    assert "Approved" in answer.text
    await eventually(lambda: bans_of(discord, "bob"))
    bob = discord.world.member("bob")
    assert bob not in discord.world.guilds[discord.world.guild_id].members
    row = await row_of(session_factory, bob)
    assert (row.status, row.decided_by, row.decision_channel) == (
        "approved",
        f"telegram:{APPROVER}",
        "telegram",
    )
    # The Telegram message is edited to show the outcome and loses its buttons.
    edited = await eventually(
        lambda: (
            (m := telegram.message(CHAT, request["message_id"])) and not telegram.buttons(m) and m
        )
    )
    assert "approved" in edited["text"].lower()

    async def ban_case():
        async with session_factory() as session:
            return (
                await session.scalars(
                    select(ModerationCase).where(
                        ModerationCase.user_id == bob, ModerationCase.action == "ban"
                    )
                )
            ).all()

    assert await eventually(ban_case)

    # Pressing again is refused politely and changes nothing.
    again = await telegram.wait_for_answer(
        telegram.press_button(CHAT, request["message_id"], approve, APPROVER)
    )
    assert "already approved" in again.text
    assert len(bans_of(discord, "bob")) == 1


async def test_reject_means_no_ban_and_modify_applies_the_milder_action(
    suite, temporal_env, task_queue, session_factory
):
    discord, telegram = suite
    rejected = await ask_to_ban(temporal_env.client, task_queue, discord, telegram, "alice")
    answer = await telegram.wait_for_answer(
        telegram.press_button(
            CHAT, rejected["message_id"], button(telegram, rejected, "Reject"), APPROVER
        )
    )
    assert "Rejected" in answer.text
    row = await eventually(
        lambda: _decided(session_factory, discord.world.member("alice"), "rejected")
    )
    assert row.final_action is None
    await asyncio.sleep(1.0)
    assert bans_of(discord, "alice") == []

    modified = await ask_to_ban(temporal_env.client, task_queue, discord, telegram, "carol")
    await _press(telegram, modified, "Modify")
    await _press(telegram, await _with_button(telegram, modified, "imeout"), "imeout")
    await _press(telegram, await _with_button(telegram, modified, "24"), "24")
    carol = discord.world.member("carol")
    patched = await eventually(
        lambda: [
            r
            for r in discord.requests("PATCH", "/guilds/{guild_id}/members/{user_id}")
            if r.path.endswith(f"/{carol}") and (r.json or {}).get("communication_disabled_until")
        ]
    )
    assert patched
    assert bans_of(discord, "carol") == []
    row = await _decided(session_factory, carol, "modified")
    assert row is not None and row.final_action == "timeout"


async def _press(telegram, message: dict, label: str) -> None:
    data = button(telegram, message, label)
    await telegram.wait_for_answer(
        telegram.press_button(CHAT, message["message_id"], data, APPROVER)
    )


async def _with_button(telegram, message: dict, label: str) -> dict:
    """The message once its keyboard shows a button whose label contains `label`."""
    return await eventually(
        lambda: (
            (m := telegram.message(CHAT, message["message_id"]))
            and any(label in text for text, _ in telegram.buttons(m))
            and m
        )
    )


async def _decided(sessions, member_id: int, status: str) -> PendingApproval | None:
    row = await row_of(sessions, member_id)
    return row if row.status == status else None
