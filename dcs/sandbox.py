"""Sandbox mode helpers: the admin token a newcomer needs, the banner, the simulator process."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from api.auth import hash_token
from approvals.telegram_config import (
    SANDBOX_TELEGRAM_APPROVER_ID,
    SANDBOX_TELEGRAM_APPROVER_NAME,
    SANDBOX_TELEGRAM_CHAT_ID,
    SANDBOX_TELEGRAM_CHAT_TITLE,
    SANDBOX_TELEGRAM_TOKEN,
    sandbox_telegram_url,
    uses_sandbox_telegram,
)
from dcs.settings import Settings
from dcs.tokens import issue_token
from storage.engine import create_engine, make_sessionmaker
from storage.tokens import find_token

if TYPE_CHECKING:
    from simulator.telegram import TelegramSimulator

SANDBOX_SEED_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
"""The sandbox world keeps its ids across restarts, so stored cases and configs still apply."""
TOKEN_FILE = "sandbox-admin-token"  # noqa: S105 - a file name, not a secret


def sandbox_token_path(settings: Settings) -> Path:
    """Where the sandbox's admin API token is kept (readable by the owner only)."""
    return settings.data_dir / TOKEN_FILE


async def _token_is_live(settings: Settings, secret: str) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await find_token(session, hash_token(secret), now=datetime.now(UTC)) is not None
    finally:
        await engine.dispose()


async def prepare_sandbox(settings: Settings) -> Path:
    """Keep a live all-servers admin token on disk, so the demo and a newcomer can call the API."""
    path = sandbox_token_path(settings)
    current = path.read_text().strip() if path.exists() else ""
    if not current or not await _token_is_live(settings, current):
        secret = await issue_token(
            settings, name="sandbox-admin", role="admin", guild_id=None, expires_days=None
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret + "\n")
    return path


def print_banner(settings: Settings, token_file: Path | None) -> None:
    """Tell the person at the terminal what runs where."""
    mode = (
        "SANDBOX MODE (no DISCORD_BOT_TOKEN; talking to the local Discord simulator)"
        if settings.sandbox
        else "connected to Discord"
    )
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        f"Discord Community Suite is up - {mode}",
        f"  API docs       {api}/docs",
        f"  Temporal UI    http://127.0.0.1:{settings.temporal_ui_port}",
    ]
    if settings.sandbox:
        lines.append(f"  Simulator      {settings.sandbox_url}/_sim/state")
    if uses_sandbox_telegram(settings):
        lines.append(f"  Telegram       {sandbox_telegram_url(settings)}/  (press Approve here)")
    if token_file is not None:
        lines.append(f"  Admin token    {token_file}")
    lines.append(
        "Logs in " + str(settings.data_dir) + "/*.log. Try `dcs demo` in another terminal."
    )
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


def sandbox_telegram() -> TelegramSimulator:
    """The sandbox's local Telegram: one approvals chat, one approver clicking in the browser."""
    from simulator.telegram import TelegramSimulator

    return TelegramSimulator(
        SANDBOX_TELEGRAM_TOKEN,
        chats={SANDBOX_TELEGRAM_CHAT_ID: SANDBOX_TELEGRAM_CHAT_TITLE},
        web_chat_id=SANDBOX_TELEGRAM_CHAT_ID,
        web_user_id=SANDBOX_TELEGRAM_APPROVER_ID,
        web_user_name=SANDBOX_TELEGRAM_APPROVER_NAME,
    )


async def run_simulator(settings: Settings) -> None:
    """Serve the sandbox's Discord until cancelled (SIGTERM from the supervisor)."""
    from simulator import DiscordSimulator, SimulatorConfig

    sim = DiscordSimulator(SimulatorConfig(seed_anchor=SANDBOX_SEED_ANCHOR))
    await sim.start(settings.sandbox_host, settings.sandbox_port)
    print(f"Discord simulator listening on {sim.base_url}", flush=True)
    telegram = sandbox_telegram() if uses_sandbox_telegram(settings) else None
    if telegram is not None:
        await telegram.start(settings.sandbox_host, settings.telegram_sandbox_port)
        print(f"Sandbox Telegram (approval chat) on {telegram.base_url}/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        if telegram is not None:
            await telegram.stop()
        await sim.stop()
