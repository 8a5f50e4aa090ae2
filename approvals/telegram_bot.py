"""The Telegram approval bot: buttons under each request turn into ``submit_decision`` calls.

A press is honoured only when all of these hold, in this order:

1. the callback data's MAC verifies (``approvals.callback_data``): nobody can mint a button;
2. the button sits in the configured approvals chat;
3. the presser's Telegram user id is in that server's ``approvals.approver_telegram_ids``.
   An empty list means **nobody** may decide that server's approvals from Telegram (being an admin
   of the chat is not enough: chat membership is managed outside the suite);
4. ``submit_decision`` claims the still-pending approval (a second decision is refused, politely).

Every press is answered with a toast saying what happened, and a decision edits the message to show
the outcome and remove the buttons. Modify swaps the keyboard for the milder actions (a timeout then
asks for a duration), with Back. ``/pending`` lists the approvals still waiting.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes
from temporalio.client import Client

from approvals.callback_data import CallbackAction, CallbackRejected, decode_callback
from approvals.decisions import DecisionRefused, submit_decision
from approvals.telegram_activities import markup, not_modified
from approvals.telegram_config import TelegramEndpoint
from approvals.telegram_messages import (
    action_text,
    decision_summary,
    durations_keyboard,
    fmt_minutes,
    main_keyboard,
    modify_keyboard,
    outcome_line,
    with_outcome,
)
from dcs.server_config import ConfigError, parse_server_config
from domain.approvals import ApprovalDecision, Decision
from storage.models import PendingApproval
from storage.servers import get_server_config

log = logging.getLogger(__name__)

FORGED = "This button could not be verified; nothing changed."
WRONG_CHAT = "This button does not belong to the approvals chat; nothing changed."
NOT_APPROVER = "You are not an approver for this server; nothing changed."
NO_APPROVERS = (
    "No Telegram approvers are configured for this server "
    "(approvals.approver_telegram_ids); nothing changed."
)
_DECISION_OF_OP: dict[str, Decision] = {
    "approve": "approve",
    "reject": "reject",
    "modify": "modify",
}
_TOAST_MAX = 200


def _toast(text: str) -> str:
    text = text[0].upper() + text[1:] if text else text
    return text if len(text) <= _TOAST_MAX else text[: _TOAST_MAX - 1] + "…"


async def approvers_of(sessions: async_sessionmaker[AsyncSession], guild_id: int) -> list[int]:
    """The Telegram user ids allowed to decide this server's approvals (the server's config)."""
    async with sessions() as session:
        raw, _ = await get_server_config(session, guild_id)
    try:
        return list(parse_server_config(raw or {}).approvals.approver_telegram_ids)
    except ConfigError:
        log.warning("guild %s has an invalid stored config; nobody may approve", guild_id)
        return []


class TelegramApprovals:
    """Handlers of the approval bot, with what they need injected."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: Client,
        endpoint: TelegramEndpoint,
    ) -> None:
        self.sessions = sessions
        self.temporal = temporal
        self.endpoint = endpoint

    def build_application(self) -> Application:
        """A python-telegram-bot Application with the approval handlers, pointed at the endpoint."""
        app = (
            Application.builder()
            .token(self.endpoint.token)
            .base_url(self.endpoint.bot_base_url)
            .base_file_url(self.endpoint.api_url.rstrip("/") + "/file/bot")
            .build()
        )
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(CommandHandler("pending", self.on_pending))
        return app

    # ------------------------------------------------------------------ buttons
    async def on_callback(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle one button press; every path answers the query with a toast."""
        query = update.callback_query
        if query is None:
            return
        try:
            cb = decode_callback(query.data, self.endpoint.callback_key)
        except CallbackRejected as exc:
            log.warning("refused callback from telegram:%s: %s", query.from_user.id, exc)
            await self._answer(query, FORGED, alert=True)
            return
        message = query.message
        chat = message.chat if message is not None else None
        if chat is None or not self.endpoint.is_approval_chat(chat.id, chat.username):
            log.warning("refused callback from telegram:%s outside the chat", query.from_user.id)
            await self._answer(query, WRONG_CHAT, alert=True)
            return
        async with self.sessions() as session:
            row = await session.get(PendingApproval, cb.approval_id)
        if row is None:
            await self._answer(
                query, "This approval no longer exists; nothing changed.", alert=True
            )
            return
        approvers = await approvers_of(self.sessions, row.guild_id)
        if query.from_user.id not in approvers:
            log.warning(
                "telegram:%s is not an approver of guild %s", query.from_user.id, row.guild_id
            )
            await self._answer(query, NOT_APPROVER if approvers else NO_APPROVERS, alert=True)
            return
        if cb.op in _DECISION_OF_OP:
            await self._decide(query, cb, row)
        else:
            await self._navigate(query, cb, row)

    async def _navigate(
        self, query: CallbackQuery, cb: CallbackAction, row: PendingApproval
    ) -> None:
        """Modify / durations / Back: swap the keyboard, nothing is decided yet."""
        if row.status != "pending":
            who = f" by {row.decided_by}" if row.decided_by else ""
            await self._edit(query, f"{row.status.capitalize()}{who}", row.status)
            await self._answer(query, f"Already {row.status}{who}; nothing changed.")
            return
        key = self.endpoint.callback_key
        if cb.op == "menu":
            keyboard, toast = modify_keyboard(row.id, row.action, key), "Choose a milder action"
        elif cb.op == "durations":
            keyboard, toast = durations_keyboard(row.id, key), "How long a timeout?"
        else:
            keyboard, toast = main_keyboard(row.id, row.action, key), "Back"
        try:
            await query.edit_message_reply_markup(reply_markup=markup(keyboard))
        except TelegramError as exc:
            if not not_modified(exc):
                log.warning("could not swap the keyboard of approval %s: %s", row.id, exc)
        await self._answer(query, toast)

    async def _decide(self, query: CallbackQuery, cb: CallbackAction, row: PendingApproval) -> None:
        decided_by = f"telegram:{query.from_user.id}"
        now = datetime.now(UTC)
        decision = ApprovalDecision(
            approval_id=row.id,
            decision=_DECISION_OF_OP[cb.op],
            decided_by=decided_by,
            channel="telegram",
            action=cb.action,
            duration_minutes=cb.duration_minutes,
            decided_at=now,
        )
        try:
            outcome = await submit_decision(self.sessions, self.temporal, decision)
        except DecisionRefused as exc:
            if exc.code == "already_decided":
                await self._show_decided(query, row.id)
            await self._answer(query, exc.message, alert=exc.code != "already_decided")
            return
        summary = decision_summary(
            outcome.status, outcome.final_action, cb.duration_minutes, decided_by, now
        )
        if outcome.status == "approved":
            toast = f"Approved: {outcome.final_action}"
        elif outcome.status == "rejected":
            toast = "Rejected: no action will be taken"
        else:
            toast = f"Modified: {action_text(outcome.final_action or '?', cb.duration_minutes)}"
        await self._edit(query, summary, outcome.status)  # before the toast: the answer ends it
        await self._answer(query, toast)

    async def _show_decided(self, query: CallbackQuery, approval_id: str) -> None:
        async with self.sessions() as session:
            row = await session.get(PendingApproval, approval_id)
        if row is not None and row.status != "pending":
            who = f" by {row.decided_by}" if row.decided_by else ""
            await self._edit(query, f"{row.status.capitalize()}{who}", row.status)

    async def _edit(self, query: CallbackQuery, summary: str, status: str) -> None:
        """Show the outcome under the request and drop the buttons."""
        message = query.message
        text = getattr(message, "text", None) or ""
        try:
            await query.edit_message_text(with_outcome(text, outcome_line(status, summary)))
        except TelegramError as exc:
            if not not_modified(exc):
                log.warning("could not edit the approval message: %s", exc)

    async def _answer(self, query: CallbackQuery, text: str, *, alert: bool = False) -> None:
        try:
            await query.answer(_toast(text), show_alert=alert)
        except TelegramError as exc:
            log.warning("could not answer callback query %s: %s", query.id, exc)

    # ------------------------------------------------------------------ /pending
    async def on_pending(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the approvals still waiting for a decision (in the approvals chat only)."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        if not self.endpoint.is_approval_chat(chat.id, chat.username):
            return
        await message.reply_text(await self.pending_text())

    async def pending_text(self, limit: int = 20) -> str:
        """'Pending approvals (2):' and one line per approval, oldest first."""
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(PendingApproval)
                    .where(PendingApproval.status == "pending")
                    .order_by(PendingApproval.created_at)
                    .limit(limit)
                )
            )
        if not rows:
            return "No approvals are pending."
        now = datetime.now(UTC)
        lines = [f"Pending approvals ({len(rows)}{'+' if len(rows) == limit else ''}):"]
        for row in rows:
            waited = max(0, int((now - row.created_at).total_seconds() // 60))
            lines.append(
                f"• {action_text(row.action, row.duration_minutes)} user {row.target_user_id} "
                f"in server {row.guild_id}: {row.reason[:80]} "
                f"(waiting {fmt_minutes(waited) if waited else 'under a minute'}; {row.id})"
            )
        return "\n".join(lines)


async def run_application(app: Application, stop: asyncio.Event) -> None:
    """Poll getUpdates and handle them until `stop` is set (or the task is cancelled)."""
    async with app:
        try:
            await app.bot.set_my_commands([("pending", "approvals waiting for a decision")])
        except TelegramError as exc:
            log.warning("could not register /pending with Telegram: %s", exc)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        try:
            await stop.wait()
        finally:
            await app.updater.stop()
            await app.stop()
