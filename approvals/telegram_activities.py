"""Temporal activities that ask on Telegram, show how an approval ended, and alert staff.

Failures are sorted for Temporal's retry policy: a 429 waits Telegram's ``retry_after``; network
errors, timeouts and 5xx are retried with backoff; 400/401/403/404 (bad chat, bot removed, bad
token) are not retried, since another try cannot succeed. When Telegram is not configured
every activity does nothing (send returns None).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning
from temporalio import activity
from temporalio.exceptions import ApplicationError

from approvals.telegram_config import TelegramEndpoint
from approvals.telegram_messages import (
    Keyboard,
    approval_text,
    evidence_text,
    main_keyboard,
    outcome_line,
    with_outcome,
)
from domain.approvals import (
    TELEGRAM_ALERT,
    TELEGRAM_SEND_APPROVAL,
    TELEGRAM_SHOW_OUTCOME,
    ApprovalOutcome,
    ApprovalRequest,
    StaffAlert,
)
from storage.models import PendingApproval, Server

log = logging.getLogger(__name__)


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup:
    """python-telegram-bot's inline keyboard from (label, callback_data) rows."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def not_modified(exc: TelegramError) -> bool:
    """Telegram's answer to an edit that changes nothing: the edit already happened."""
    return isinstance(exc, BadRequest) and "not modified" in exc.message.lower()


def temporal_error(exc: TelegramError, what: str) -> ApplicationError:
    """The ApplicationError that tells Temporal whether, and when, to try again."""
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # int today, timedelta in PTB 23: both are handled
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            raw: Any = exc.retry_after
        delay = raw if isinstance(raw, timedelta) else timedelta(seconds=float(raw))
        return ApplicationError(
            f"Telegram rate limit on {what}; retry after {delay.total_seconds():.0f}s",
            type="TelegramRateLimited",
            next_retry_delay=delay,
        )
    if isinstance(exc, ChatMigrated):
        return ApplicationError(
            f"Telegram {what}: the chat became supergroup {exc.new_chat_id}; "
            "set TELEGRAM_CHAT_ID to it",
            type="TelegramChatMigrated",
            non_retryable=True,
        )
    if isinstance(exc, BadRequest | Forbidden | InvalidToken):
        return ApplicationError(
            f"Telegram refused {what}: {exc.message}",
            type=f"Telegram{type(exc).__name__}",
            non_retryable=True,
        )
    if isinstance(exc, NetworkError | Conflict):  # TimedOut is a NetworkError; 5xx arrive as these
        return ApplicationError(
            f"Telegram unreachable for {what}: {exc.message}", type="TelegramUnavailable"
        )
    return ApplicationError(f"Telegram error on {what}: {exc.message}", type="TelegramError")


async def request_from_row(session: AsyncSession, row: PendingApproval) -> ApprovalRequest:
    """Rebuild the request's evidence from the stored approval (to re-render its message)."""
    guild_name = await session.scalar(select(Server.name).where(Server.id == row.guild_id))
    return ApprovalRequest(
        approval_id=row.id,
        guild_id=row.guild_id,
        user_id=row.target_user_id,
        workflow_id=row.workflow_id,
        action=row.action,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.created_at,
        expires_at=row.expires_at or row.created_at,
        duration_minutes=row.duration_minutes,
        evidence=evidence_text(row.evidence),
        guild_name=guild_name,
        user_name=_stored(row.evidence, "user_name"),
        case_number=int(case) if (case := _stored(row.evidence, "case_number")) else None,
    )


def _stored(evidence: object, key: str) -> str | None:
    """A bookkeeping value kept with the approval's evidence (names, the case number)."""
    value = evidence.get(key) if isinstance(evidence, dict) else None
    return str(value) if value else None


class TelegramActivities:
    """Telegram side of human approval; the Bot is created on first use and reused."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        endpoint: TelegramEndpoint | None,
        bot: Bot | None = None,
    ) -> None:
        self._sessions = sessions
        self._endpoint = endpoint
        self._bot = bot
        self._ready = False

    async def _get_bot(self, endpoint: TelegramEndpoint) -> Bot:
        if self._bot is None:
            self._bot = Bot(endpoint.token, base_url=endpoint.bot_base_url)
        if not self._ready:
            try:
                await self._bot.initialize()
            except TelegramError as exc:
                raise temporal_error(exc, "getMe") from exc
            self._ready = True
        return self._bot

    async def aclose(self) -> None:
        """Close the Bot's connection pool."""
        if self._bot is not None and self._ready:
            await self._bot.shutdown()
            self._ready = False

    @activity.defn(name=TELEGRAM_SEND_APPROVAL)
    async def send_approval(self, req: ApprovalRequest) -> int | None:
        """Post the request with Approve / Reject / Modify; returns the Telegram message id.

        Idempotent: when the approval's row already holds a message id (an earlier attempt got
        that far), that id is returned and nothing is sent again. An approval already decided
        (through another channel, before a late retry) is not asked about: None.
        """
        endpoint = self._endpoint
        if endpoint is None:
            return None
        async with self._sessions() as session:
            row = await session.get(PendingApproval, req.approval_id)
            if row is not None and row.telegram_message_id is not None:
                return row.telegram_message_id
            if row is not None and row.status != "pending":
                log.info("approval %s is already %s; not asking on Telegram", row.id, row.status)
                return None
            if row is not None and req.evidence is None and row.evidence:
                req = replace(req, evidence=evidence_text(row.evidence))
        bot = await self._get_bot(endpoint)
        try:
            message = await bot.send_message(
                chat_id=endpoint.chat_id,
                text=approval_text(req),
                reply_markup=markup(
                    main_keyboard(req.approval_id, req.action, endpoint.callback_key)
                ),
            )
        except TelegramError as exc:
            raise temporal_error(exc, "sendMessage") from exc
        async with self._sessions() as session, session.begin():
            stored = await session.execute(
                update(PendingApproval)
                .where(
                    PendingApproval.id == req.approval_id,
                    PendingApproval.telegram_message_id.is_(None),
                )
                .values(telegram_message_id=message.message_id)
            )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("approval %s: no pending row took message id", req.approval_id)
        return message.message_id

    @activity.defn(name=TELEGRAM_SHOW_OUTCOME)
    async def show_outcome(self, outcome: ApprovalOutcome) -> None:
        """Edit the request message to say how it ended, and remove its buttons."""
        endpoint = self._endpoint
        if endpoint is None:
            return
        async with self._sessions() as session:
            row = await session.get(PendingApproval, outcome.approval_id)
            message_id = outcome.telegram_message_id or (
                row.telegram_message_id if row is not None else None
            )
            if message_id is None:
                return
            request = await request_from_row(session, row) if row is not None else None
        base = approval_text(request) if request is not None else f"Approval {outcome.approval_id}"
        text = with_outcome(base, outcome_line(outcome.status, outcome.summary))
        bot = await self._get_bot(endpoint)
        try:
            await bot.edit_message_text(
                chat_id=endpoint.chat_id, message_id=message_id, text=text, reply_markup=None
            )
        except TelegramError as exc:
            if not_modified(exc):
                return
            raise temporal_error(exc, "editMessageText") from exc

    @activity.defn(name=TELEGRAM_ALERT)
    async def alert(self, alert: StaffAlert) -> None:
        """Send a staff alert (e.g. an approval waiting for over an hour) to the approvals chat."""
        endpoint = self._endpoint
        if endpoint is None:
            return
        bot = await self._get_bot(endpoint)
        text = f"🔔 {alert.text}"
        if alert.approval_id:
            text += f"\nApproval: {alert.approval_id}"
        try:
            await bot.send_message(chat_id=endpoint.chat_id, text=text[:4096])
        except TelegramError as exc:
            raise temporal_error(exc, "sendMessage") from exc
