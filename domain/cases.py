"""Moderation cases as plain values: what the fast path reports and what a workflow keeps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Violation:
    """One offence reported to a member's moderation workflow (from automod, AI, or a person)."""

    guild_id: int
    user_id: int
    source_key: str
    source: str
    action: str
    reason: str
    occurred_at: datetime
    rule: str | None = None
    points: int = 1
    channel_id: int | None = None
    message_id: int | None = None
    excerpt: str | None = None
    moderator_id: int | None = None
    mod_log_channel_id: int | None = None
    duration_minutes: int | None = None
    """For a timed sanction a moderator chose (or a rule names): how long it lasts."""
    explicit: bool = False
    """True when a moderator chose `action` (`/ban`, the API): it is applied, not climbed to."""
    already_applied: bool = False
    """True for a ban/kick/timeout a moderator made by hand in Discord: record it, don't redo it."""
    needs_review: bool = False
    """Ask the AI reviewer first (the fast path flagged it, or a person reported it)."""
    context: tuple[str, ...] = ()
    content: str | None = None
    """The whole message, when it is to be reviewed (the excerpt is only what matched)."""
    """Recent messages around the offending one (oldest first), for the AI reviewer."""


@dataclass(frozen=True)
class Strike:
    """Points a case added to a member's standing, and when."""

    case_number: int
    points: int
    at: datetime


@dataclass
class MemberStanding:
    """What a member's workflow carries across continue-as-new: strikes and recent keys."""

    strikes: list[Strike] = field(default_factory=list)
    recent_source_keys: list[str] = field(default_factory=list)
    cases_recorded: int = 0
    mod_log_failures: int = 0


RECENT_KEYS_KEPT = 200


def active_points(strikes: list[Strike], now: datetime, decay: timedelta) -> int:
    """Strike points that still count: older strikes stay on record but stop counting."""
    return sum(s.points for s in strikes if now - s.at < decay)


def remember_key(keys: list[str], key: str, keep: int = RECENT_KEYS_KEPT) -> list[str]:
    """Bounded memory of seen source keys, so a re-delivered report is not counted twice."""
    updated = [*keys, key]
    return updated[-keep:]


def violation_to_json(violation: Violation) -> dict[str, object]:
    """A JSON-safe copy, for keeping a report until Temporal can take it."""
    data = asdict(violation)
    data["occurred_at"] = violation.occurred_at.isoformat()
    return data


def violation_from_json(data: dict[str, object]) -> Violation:
    """The report back from its JSON copy."""
    fields = dict(data)
    fields["occurred_at"] = datetime.fromisoformat(str(fields["occurred_at"]))
    if "context" in fields:
        fields["context"] = tuple(fields["context"])  # type: ignore[arg-type]
    return Violation(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MemberRejoined:
    """Signal `member_rejoined`: a member with a sanction still running came back."""

    guild_id: int
    user_id: int
    joined_at: datetime


@dataclass(frozen=True)
class LiftRequest:
    """Signal `lift`: end a running timeout or ban early (`/unban`, the API, a granted appeal)."""

    guild_id: int
    user_id: int
    sanction: str
    """'timeout' or 'ban'."""
    reason: str
    source_key: str
    requested_at: datetime
    moderator_id: int | None = None


@dataclass(frozen=True)
class AppealRequest:
    """Signal `appeal`: the member asks for a sanction to be lifted; a person decides."""

    guild_id: int
    user_id: int
    appeal_id: str
    sanction: str
    text: str
    submitted_at: datetime
