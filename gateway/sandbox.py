"""Sandbox mode: the demo config a simulated guild gets the first time the gateway sees it."""

from __future__ import annotations

from typing import Any

import discord

from approvals.telegram_config import SANDBOX_TELEGRAM_APPROVER_ID
from dcs.server_config import default_server_config

SANDBOX_BLOCKED_TERMS = ["scam*", "free nitro", "badword", "idiot"]


def sandbox_config(guild: discord.Guild) -> dict[str, Any]:
    """Defaults plus a few blocked terms and #mod-log, so the demo shows the whole slice."""
    config = default_server_config().model_dump(mode="json")
    config["automod"]["blocked_terms"] = list(SANDBOX_BLOCKED_TERMS)
    mod_log = discord.utils.get(guild.text_channels, name="mod-log")
    if mod_log is not None:
        config["mod_log_channel_id"] = mod_log.id
    config["culture"] = "A friendly sandbox community for trying the suite."
    # the person clicking in the sandbox's Telegram page (http://127.0.0.1:8766/) may decide
    config["approvals"]["approver_telegram_ids"] = [SANDBOX_TELEGRAM_APPROVER_ID]
    return config
