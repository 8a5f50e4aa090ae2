"""The escalation ladder: which sanction a member's active strike points call for.

A server's ladder is a list of rungs (`points` -> `action`); after a new strike the member gets the
highest rung their *active* points reach (expired strikes stay on record but stop counting). An
action a moderator chose explicitly (`/ban`, the API) or one already taken by hand in Discord is
not climbed to: it is the sanction. The policy a workflow works with is a plain snapshot of the
server's config (loaded by an activity for every report, so config changes apply at once).
"""

from __future__ import annotations

from dataclasses import dataclass

SANCTIONS: tuple[str, ...] = ("warn", "timeout", "kick", "ban")
"""Sanctions from mildest to harshest."""
LIFTS: dict[str, str] = {"ban": "unban", "timeout": "untimeout"}
"""What lifting a running sanction is called (the action an appeal asks for)."""
DEFAULT_TIMEOUT_MINUTES = 60
"""A timeout nobody gave a duration for (an AI 'mute' verdict outside any ladder rung)."""


@dataclass(frozen=True)
class LadderRung:
    """Reaching `points` active strike points calls for `action` (for `duration_minutes`)."""

    points: int
    action: str
    duration_minutes: int | None = None


DEFAULT_LADDER: tuple[LadderRung, ...] = (
    LadderRung(1, "warn"),
    LadderRung(3, "timeout", 10),
    LadderRung(5, "timeout", 60 * 24),
    LadderRung(7, "kick"),
    LadderRung(10, "ban"),
)


@dataclass(frozen=True)
class ModerationPolicy:
    """A server's moderation settings as the member's workflow needs them (from its config)."""

    ladder: tuple[LadderRung, ...] = DEFAULT_LADDER
    strike_decay_days: int = 30
    sensitive_actions: tuple[str, ...] = ("kick", "ban", "mass_delete", "lockdown")
    approval_timeout_minutes: int = 24 * 60
    timeout_policy: str = "reject"
    """'reject' (an unanswered request is dropped) or 'fallback' (apply `fallback_action`)."""
    fallback_action: str = "timeout"
    fallback_duration_minutes: int = 60
    alert_after_minutes: int = 60
    """An approval pending this long alerts the staff (once)."""
    dm_members: bool = True
    appeals_enabled: bool = True
    mod_log_channel_id: int | None = None
    rules: str = ""
    culture: str = ""
    tier: str = "starter"
    language: str = "en"
    """The server's language for what members are told (the message catalogue's)."""

    def is_sensitive(self, action: str) -> bool:
        """True when `action` waits for a person's approval on this server."""
        return action in self.sensitive_actions


@dataclass(frozen=True)
class Sanction:
    """What to do to a member: `action` for `duration_minutes` (None: permanent / not timed)."""

    action: str
    duration_minutes: int | None = None
    origin: str = "ladder"
    """'ladder' (climbed to), 'explicit' (a moderator's choice), 'manual' (done by hand in
    Discord), 'review' (the AI reviewer asked for more than the ladder) or 'fallback'."""
    points: int = 0
    """The active points that reached the rung (ladder sanctions)."""


def severity(action: str) -> int:
    """Position of `action` on the warn < timeout < kick < ban scale (-1 for anything else)."""
    return SANCTIONS.index(action) if action in SANCTIONS else -1


def rung_for(ladder: tuple[LadderRung, ...], points: int) -> LadderRung | None:
    """The highest rung `points` reach, or None below the first rung."""
    reached = [r for r in ladder if r.points <= points]
    return max(reached, key=lambda r: r.points) if reached else None


def ladder_sanction(
    ladder: tuple[LadderRung, ...], points_before: int, new_points: int
) -> Sanction | None:
    """The sanction for a new strike of `new_points` on top of `points_before` active points.

    A strike worth nothing (a reviewed report that called for no action) calls for nothing.
    """
    if new_points <= 0:
        return None
    total = points_before + new_points
    rung = rung_for(ladder, total)
    if rung is None:
        return None
    return Sanction(rung.action, rung.duration_minutes, origin="ladder", points=total)


def review_sanction(verdict_action: str, ladder: tuple[LadderRung, ...]) -> Sanction | None:
    """The sanction an AI verdict asks for ('mute': a timeout as long as the ladder's first)."""
    action = "timeout" if verdict_action == "mute" else verdict_action
    if action not in SANCTIONS:
        return None
    duration = None
    if action == "timeout":
        timeouts = [
            r.duration_minutes for r in ladder if r.action == "timeout" and r.duration_minutes
        ]
        duration = timeouts[0] if timeouts else DEFAULT_TIMEOUT_MINUTES
    return Sanction(action, duration, origin="review")


def harsher(a: Sanction | None, b: Sanction | None) -> Sanction | None:
    """The harsher of two sanctions (the first on a tie); None counts as nothing."""
    if a is None:
        return b
    if b is None:
        return a
    return b if severity(b.action) > severity(a.action) else a


def choose_sanction(
    *,
    action: str,
    explicit: bool,
    already_applied: bool,
    duration_minutes: int | None,
    points_before: int,
    new_points: int,
    ladder: tuple[LadderRung, ...],
    review_action: str | None = None,
) -> Sanction | None:
    """The sanction for one report: a moderator's own action, or the ladder's (and the AI's).

    - already applied by hand in Discord: that action is the (running) sanction, nothing climbs;
    - explicit (a moderator chose it): that action bypasses the ladder;
    - otherwise the ladder's rung for the active points after this strike, raised to what the
      AI reviewer asked for when that is harsher. A review verdict of 'none' calls for nothing.
    """
    if already_applied or explicit:
        if action not in SANCTIONS:
            return None
        return Sanction(
            action, duration_minutes, origin="manual" if already_applied else "explicit"
        )
    if review_action == "none":
        return None
    climbed = ladder_sanction(ladder, points_before, new_points)
    if review_action is None:
        return climbed
    return harsher(climbed, review_sanction(review_action, ladder))
