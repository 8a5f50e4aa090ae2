"""Where the Telegram approval bot talks, resolved once from the settings.

- ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_CHAT_ID`` set: the real Bot API at ``TELEGRAM_API_URL``.
- neither set, in sandbox mode (no ``DISCORD_BOT_TOKEN``): the local fake Telegram that
  ``dcs simulator`` serves on ``TELEGRAM_SANDBOX_PORT`` (default 8766), with a fixed token, chat and
  one approver, so the whole approval flow can be tried in a browser.
- neither set otherwise: Telegram is off; the approval activities do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.callback_data import derive_callback_key
from dcs.settings import Settings

SANDBOX_TELEGRAM_TOKEN = "100000001:sandbox-telegram-token"  # noqa: S105 - fixed fake-Telegram token
SANDBOX_TELEGRAM_CHAT_ID = -1001000000001
SANDBOX_TELEGRAM_CHAT_TITLE = "Sandbox approvals"
SANDBOX_TELEGRAM_APPROVER_ID = 700000001
"""The person clicking in the sandbox's Telegram page; the sandbox guild lists them as approver."""
SANDBOX_TELEGRAM_APPROVER_NAME = "Sandbox Moderator"


@dataclass(frozen=True)
class TelegramEndpoint:
    """Everything needed to talk to one Bot API and verify its buttons."""

    api_url: str
    token: str
    chat_id: str
    callback_key: bytes
    sandbox: bool = False

    @property
    def bot_base_url(self) -> str:
        """``base_url`` for python-telegram-bot (it appends the token)."""
        return self.api_url.rstrip("/") + "/bot"

    def is_approval_chat(self, chat_id: int, username: str | None = None) -> bool:
        """True for the configured approvals chat (numeric id, or ``@username``)."""
        if self.chat_id.startswith("@"):
            return username is not None and self.chat_id[1:].lower() == username.lower()
        return self.chat_id == str(chat_id)


def sandbox_telegram_url(settings: Settings) -> str:
    """Where the sandbox's local Telegram listens."""
    return f"http://{settings.sandbox_host}:{settings.telegram_sandbox_port}"


def uses_sandbox_telegram(settings: Settings) -> bool:
    """Sandbox mode without a Telegram token: the local fake Telegram stands in."""
    return settings.sandbox and settings.telegram_bot_token is None


def telegram_endpoint(settings: Settings) -> TelegramEndpoint | None:
    """The Bot API to use, or None when Telegram approvals are off.

    The button MAC key comes from ``WEBHOOK_SECRET`` when set (so rotating the bot token does not
    invalidate buttons already sent), else from the bot token.
    """
    if settings.telegram_bot_token is not None and settings.telegram_chat_id is not None:
        token = settings.telegram_bot_token.get_secret_value()
        api_url, chat_id, sandbox = settings.telegram_api_url, settings.telegram_chat_id, False
    elif uses_sandbox_telegram(settings):
        token = SANDBOX_TELEGRAM_TOKEN
        api_url, chat_id, sandbox = (
            sandbox_telegram_url(settings),
            str(SANDBOX_TELEGRAM_CHAT_ID),
            True,
        )
    else:
        return None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else token
    return TelegramEndpoint(api_url, token, chat_id, derive_callback_key(secret), sandbox)
