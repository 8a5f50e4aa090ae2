"""Approve pressed in Telegram -> the ban reaching Discord, through every real part.

The pipeline is the product's own: python-telegram-bot polls the local Telegram Bot API
(simulator/telegram.py), the button's signed callback goes through ``submit_decision`` (a
conditional UPDATE in SQLite, then the ``decide`` signal), the member's moderation workflow on the
Temporal dev server wakes up and runs the ban activity, which calls the Discord simulator's
``PUT /guilds/{g}/bans/{u}``. Latency = the simulator's arrival time of that PUT minus the moment
the button press was queued in the Telegram simulator. Each sample bans a different member whose
ban request already waits in Telegram, so nothing but the decision path is timed.
Figures: ``approval_to_action_p50_ms`` and ``approval_to_action_p99_ms``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.discord_rest import DiscordHttp
from approvals.callback_data import derive_callback_key
from approvals.telegram_activities import TelegramActivities
from approvals.telegram_bot import TelegramApprovals, run_application
from approvals.telegram_config import TelegramEndpoint
from dcs.server_config import default_server_config
from dcs.temporal import build_worker, bundled_binary
from domain.cases import Violation
from simulator import DiscordSimulator
from simulator.telegram import TelegramSimulator
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.servers import ensure_server, put_server_config
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

SINGLE_CORE = False
"""Temporal's server, the worker, the Telegram bot and both simulators are separate actors; one
pinned core would time the scheduler, not the path."""

SAMPLES = 60
WARMUP = 5
TARGET_P99_MS = 1000.0
TOKEN = "123456:bench-token"
CHAT = -1001234567890
APPROVER = 4242
BAN_ROUTE = "/guilds/{guild_id}/bans/{user_id}"


def _percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 60 samples is the largest but none: honest, not smoothed)."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5) - 1)
    return ordered[min(rank, len(ordered)) - 1]


async def _wait(predicate: Any, timeout: float = 30.0, step: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise TimeoutError("condition not met in time")


async def _measure(workdir: Path) -> list[float]:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_database_async(url)
    engine = create_engine(url)
    sessions = make_sessionmaker(engine)
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=bundled_binary("temporal"))
    task_queue = f"bench-{uuid.uuid4()}"
    try:
        async with (
            DiscordSimulator() as discord,
            TelegramSimulator(TOKEN, chats={CHAT: "Approvals"}) as telegram,
        ):
            guild = discord.world.guild_id
            config = default_server_config().model_dump(mode="json")
            config["mod_log_channel_id"] = discord.world.channel("mod-log")
            config["approvals"]["approver_telegram_ids"] = [APPROVER]
            async with sessions() as session, session.begin():
                await ensure_server(session, guild, "Sandbox Community")
                await put_server_config(
                    session, guild, config, expected_version=None, changed_by="bench"
                )
            members = await discord.mass_join(SAMPLES + WARMUP, within=0.0, seed=7)
            endpoint = TelegramEndpoint(
                telegram.base_url, TOKEN, str(CHAT), derive_callback_key("bench-secret")
            )
            http = DiscordHttp(discord.api_base, "bench-token")
            activities = TelegramActivities(sessions, endpoint)
            app = TelegramApprovals(sessions, env.client, endpoint).build_application()
            stop = asyncio.Event()
            async with build_worker(env.client, task_queue, sessions, http, telegram=activities):
                bot = asyncio.create_task(run_application(app, stop))
                try:
                    return await _run_samples(discord, telegram, env, task_queue, guild, members)
                finally:
                    stop.set()
                    await asyncio.wait_for(bot, 30)
                    await activities.aclose()
                    await http.aclose()
    finally:
        await env.shutdown()
        await engine.dispose()


async def _run_samples(
    discord: DiscordSimulator,
    telegram: TelegramSimulator,
    env: WorkflowEnvironment,
    task_queue: str,
    guild: int,
    members: list[Any],
) -> list[float]:
    moderator = discord.world.member("moderator")
    latencies: list[float] = []
    for index, member in enumerate(members):
        before = len(telegram.messages(CHAT))
        violation = Violation(
            guild_id=guild,
            user_id=member.user_id,
            source_key=f"bench:{uuid.uuid4()}",
            source="command",
            action="ban",
            reason="benchmark: ban waiting for approval",
            occurred_at=datetime.now(UTC),
            moderator_id=moderator,
            explicit=True,
        )
        await env.client.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(guild, member.user_id),
            id=moderation_workflow_id(guild, member.user_id),
            task_queue=task_queue,
            start_signal="report",
            start_signal_args=[violation],
        )
        messages = await _wait(lambda b=before: telegram.messages(CHAT)[b:])
        request = messages[-1]
        approve = next(d for label, d in telegram.buttons(request) if "Approve" in label)
        path = f"/guilds/{guild}/bans/{member.user_id}"
        pressed = time.time()
        telegram.press_button(CHAT, request["message_id"], approve, APPROVER)
        put = await _wait(
            lambda p=path: [r for r in discord.requests("PUT", BAN_ROUTE) if r.path.endswith(p)]
        )
        if index >= WARMUP:
            latencies.append((put[0].timestamp - pressed) * 1000)
    return latencies


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``."""
    with tempfile.TemporaryDirectory(prefix="dcs-bench-approval-") as tmp:
        latencies = asyncio.run(_measure(Path(tmp)))
    p50 = statistics.median(latencies)
    p99 = _percentile(latencies, 99)
    method = (
        "Telegram Approve press queued in the local Bot API -> PTB getUpdates -> submit_decision "
        "(SQLite) -> decide signal -> Temporal dev server -> ban activity -> Discord simulator "
        f"PUT ban arrival; {len(latencies)} samples after {WARMUP} warm-up, one member each"
    )
    common = {"samples": len(latencies), "method": method, "max_ms": round(max(latencies), 1)}
    return {
        "approval_to_action_p50_ms": {"value": round(p50, 1), "unit": "ms", **common},
        "approval_to_action_p99_ms": {
            "value": round(p99, 1),
            "unit": "ms",
            "max": TARGET_P99_MS,
            **common,
        },
    }
