"""What the Telegram approval message says and which buttons it carries (plain text, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from approvals.callback_data import CallbackAction, encode_callback
from domain.approvals import ApprovalRequest, milder_actions

Keyboard = list[list[tuple[str, str]]]
"""Rows of (label, callback_data)."""

TIMEOUT_CHOICES: tuple[tuple[str, int], ...] = (
    ("1 hour", 60),
    ("24 hours", 1440),
    ("7 days", 10080),
)
"""Durations offered when Modify picks a timeout."""

_ACTION_LABEL = {
    "warn": "Warn instead",
    "timeout": "Timeout instead...",
    "kick": "Kick instead",
    "ban": "Ban instead",
}
_STATUS_ICON = {"approved": "✅", "rejected": "❌", "modified": "✏️", "expired": "⌛"}
_EVIDENCE_KEYS = ("text", "excerpt", "message", "content", "summary")


def fmt_time(value: datetime) -> str:
    """A timestamp people read in the chat: '2026-11-26 00:41 UTC'."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def fmt_minutes(minutes: int) -> str:
    """'60 min' -> '1 h'; '1440' -> '1 day'; '10080' -> '7 days'."""
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" + ("s" if days != 1 else "")
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def action_text(action: str, duration_minutes: int | None) -> str:
    """'ban', or 'timeout (24 h)'."""
    return f"{action} ({fmt_minutes(duration_minutes)})" if duration_minutes else action


_BOOKKEEPING_KEYS = frozenset({"case_number", "appeal_id", "user_name"})
"""Stored with the evidence but shown elsewhere in the message (the case number) or not at all."""


def evidence_text(evidence: Any) -> str | None:
    """The row's evidence (a JSON document of unknown shape) as one readable line."""
    if evidence is None or evidence == {} or evidence == "":
        return None
    if isinstance(evidence, str):
        return evidence
    if isinstance(evidence, dict):
        for key in _EVIDENCE_KEYS:
            if isinstance(evidence.get(key), str) and evidence[key]:
                return str(evidence[key])
        shown = {k: v for k, v in evidence.items() if k not in _BOOKKEEPING_KEYS}
        return "; ".join(f"{k}: {v}" for k, v in shown.items()) or None
    return str(evidence)


def _named(name: str | None, snowflake: int | None) -> str:
    if snowflake is None:
        return name or "-"
    return f"{name} ({snowflake})" if name else str(snowflake)


def approval_text(req: ApprovalRequest) -> str:
    """The request with the evidence the spec lists: server, user, action, reason, evidence, time.

    Plain text (no parse mode), so names and reasons need no escaping.
    """
    requested = f"{fmt_time(req.requested_at)} by {req.requested_by}"
    if req.case_number is not None:
        requested += f" (case #{req.case_number})"
    lines = [
        f"⚠️ Approval needed: {action_text(req.action, req.duration_minutes).upper()}",
        "",
        f"Server: {_named(req.guild_name, req.guild_id)}",
        f"User: {_named(req.user_name, req.user_id)}",
        f"Action: {action_text(req.action, req.duration_minutes)}",
        f"Reason: {req.reason or '-'}",
        f"Evidence: {req.evidence or '-'}",
        f"Requested: {requested}",
        f"Expires: {fmt_time(req.expires_at)}",
        f"Approval: {req.approval_id}",
    ]
    return "\n".join(lines)[:4000]


def with_outcome(text: str, outcome_line: str) -> str:
    """The request text with how it ended underneath (replacing an earlier outcome line)."""
    base = text.split("\n\n── ")[0]
    return f"{base}\n\n── {outcome_line}"[:4096]


def outcome_line(status: str, summary: str) -> str:
    """'✅ Approved by telegram:42 ...' with the status's icon."""
    return f"{_STATUS_ICON.get(status, '•')} {summary}"


def decision_summary(
    status: str,
    final_action: str | None,
    duration_minutes: int | None,
    decided_by: str,
    at: datetime,
) -> str:
    """One line for the chat after a Telegram decision."""
    when = fmt_time(at)
    if status == "approved":
        return f"Approved by {decided_by} at {when}: {final_action} will be carried out"
    if status == "rejected":
        return f"Rejected by {decided_by} at {when}: no action"
    return (
        f"Modified by {decided_by} at {when}: "
        f"{action_text(final_action or '?', duration_minutes)} instead"
    )


def _button(label: str, cb: CallbackAction, key: bytes) -> tuple[str, str]:
    return (label, encode_callback(cb, key))


def main_keyboard(approval_id: str, action: str, key: bytes) -> Keyboard:
    """Approve / Reject, and Modify when a milder action exists."""
    row = [
        _button("✅ Approve", CallbackAction(approval_id, "approve"), key),
        _button("❌ Reject", CallbackAction(approval_id, "reject"), key),
    ]
    if milder_actions(action):
        row.append(_button("✏️ Modify", CallbackAction(approval_id, "menu"), key))
    return [row]


def modify_keyboard(approval_id: str, action: str, key: bytes) -> Keyboard:
    """One button per milder action (a timeout opens the durations), then Back."""
    rows: Keyboard = []
    for milder in milder_actions(action):
        if milder == "timeout":
            rows.append(
                [_button(_ACTION_LABEL[milder], CallbackAction(approval_id, "durations"), key)]
            )
        else:
            cb = CallbackAction(approval_id, "modify", milder)
            rows.append([_button(_ACTION_LABEL[milder], cb, key)])
    rows.append([_button("↩ Back", CallbackAction(approval_id, "back"), key)])
    return rows


def durations_keyboard(approval_id: str, key: bytes) -> Keyboard:
    """Timeout lengths to choose from, then Back to the milder actions."""
    row = [
        _button(label, CallbackAction(approval_id, "modify", "timeout", minutes), key)
        for label, minutes in TIMEOUT_CHOICES
    ]
    return [row, [_button("↩ Back", CallbackAction(approval_id, "menu"), key)]]
