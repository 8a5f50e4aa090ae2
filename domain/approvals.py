"""Human approval as plain values: the decision every channel turns into, and milder choices.

Telegram buttons, the mod-log button, `/approve` `/reject` and the REST API all build one
:class:`ApprovalDecision` and hand it to ``approvals.decisions.submit_decision``, which claims the
pending approval in the database (so a second decision is refused) and signals the member's
moderation workflow with ``decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Decision = Literal["approve", "reject", "modify"]
DecisionChannel = Literal["telegram", "discord", "api", "command"]
DECISION_SIGNAL = "decide"
"""Name of the moderation workflow's signal that carries an :class:`ApprovalDecision`."""

SEVERITY: tuple[str, ...] = ("warn", "timeout", "kick", "ban")
"""Sanctions from mildest to harshest; Modify may only pick one to the left of the request."""

STATUS_OF_DECISION: dict[str, str] = {
    "approve": "approved",
    "reject": "rejected",
    "modify": "modified",
}


@dataclass(frozen=True)
class ApprovalDecision:
    """A person's answer to one pending approval, whichever channel it came through."""

    approval_id: str
    decision: Decision
    decided_by: str
    """Who, prefixed by channel kind: 'telegram:123', 'discord:456', 'api:token:7'."""
    channel: DecisionChannel
    action: str | None = None
    """With 'modify': the milder action chosen instead."""
    duration_minutes: int | None = None
    """With 'modify' to a timeout: how long."""
    decided_at: datetime | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    """What a workflow asks a person to decide; the evidence the spec lists travels with it."""

    approval_id: str
    guild_id: int
    user_id: int | None
    """None when the request is about many members (a raid's removal): `user_name` says who."""
    workflow_id: str
    action: str
    reason: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    duration_minutes: int | None = None
    case_number: int | None = None
    evidence: str | None = None
    guild_name: str | None = None
    user_name: str | None = None


ALTERNATIVES: dict[str, tuple[str, ...]] = {"antinuke": ("ban",)}
"""Requests that are not a sanction and what Modify offers instead (anti-nuke: restore and ban
the actor, where Approve restores and keeps them quarantined)."""


def milder_actions(action: str) -> list[str]:
    """Sanctions a moderator may choose instead of `action` with Modify (mildest first)."""
    if action in ALTERNATIVES:
        return list(ALTERNATIVES[action])
    if action not in SEVERITY:
        return []
    return list(SEVERITY[: SEVERITY.index(action)])


def decision_problem(decision: ApprovalDecision, requested_action: str) -> str | None:
    """Why a decision cannot apply to a request for `requested_action`, or None if it can."""
    if decision.decision != "modify":
        return None
    if decision.action is None:
        return "modify needs the milder action to take instead"
    if decision.action not in milder_actions(requested_action):
        allowed = ", ".join(milder_actions(requested_action)) or "none"
        return f"{decision.action!r} is not milder than {requested_action!r} (choose: {allowed})"
    if decision.action == "timeout" and not decision.duration_minutes:
        return "a timeout needs a duration in minutes"
    return None


@dataclass(frozen=True)
class ApprovalOutcome:
    """How an approval ended, to edit the Telegram and Discord messages that asked for it."""

    approval_id: str
    guild_id: int
    status: str
    """approved, rejected, modified or expired."""
    requested_action: str
    final_action: str | None
    decided_by: str | None
    summary: str
    """One line for people: 'Banned by telegram:42', 'Expired: timed out for 60 min instead'."""
    telegram_message_id: int | None = None
    discord_channel_id: int | None = None
    discord_message_id: int | None = None


@dataclass(frozen=True)
class StaffAlert:
    """A message for the people who run the server (e.g. an approval pending for over an hour)."""

    guild_id: int
    text: str
    approval_id: str | None = None


TELEGRAM_SEND_APPROVAL = "telegram_send_approval"
"""Activity: ApprovalRequest -> Telegram message id (None when Telegram is not configured)."""
TELEGRAM_SHOW_OUTCOME = "telegram_show_outcome"
"""Activity: ApprovalOutcome -> None; edits the request message to show how it ended."""
TELEGRAM_ALERT = "telegram_alert"
"""Activity: StaffAlert -> None."""
