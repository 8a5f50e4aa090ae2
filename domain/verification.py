"""New-member verification as values: the gate's rules, raid tightening, challenges, deadlines.

A guild's verification workflow holds one `PendingMember` per joiner who has not verified yet
and sleeps until the earliest deadline. Everything here is pure: time is passed in, and a
challenge is derived from a seed the caller chooses (the gateway uses the interaction's id), so
the same seed always gives the same question and answer.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

Mode = Literal["button", "challenge"]
OnTimeout = Literal["kick", "quarantine"]

WORDS = (
    "harbor",
    "lantern",
    "meadow",
    "orbit",
    "pepper",
    "quartz",
    "saddle",
    "timber",
    "velvet",
    "willow",
    "anchor",
    "biscuit",
    "candle",
    "falcon",
    "glacier",
    "maple",
)
"""Words for the "type the word shown" challenge: short, common, unambiguous to spell."""


@dataclass(frozen=True)
class VerificationPolicy:
    """A guild's gate as configured: the normal rules and how a raid tightens them."""

    mode: Mode = "button"
    timeout_minutes: int = 30
    on_timeout: OnTimeout = "kick"
    max_attempts: int = 3
    raid_timeout_minutes: int = 10
    raid_challenge: bool = True
    raid_kick: bool = True
    verified_role_id: int | None = None
    unverified_role_id: int | None = None
    quarantine_role_id: int | None = None
    mod_log_channel_id: int | None = None


@dataclass(frozen=True)
class GateRules:
    """The rules one joiner faces (normal or raid-tightened)."""

    mode: Mode
    timeout: timedelta
    on_timeout: OnTimeout


@dataclass(frozen=True)
class MemberJoined:
    """A joiner the gate must watch, with the guild's policy as it was when they joined."""

    user_id: int
    joined_at: datetime
    during_raid: bool
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)


@dataclass(frozen=True)
class MemberDone:
    """A member who verified, left, or answered a challenge wrong."""

    user_id: int


def rules_for(policy: VerificationPolicy, during_raid: bool) -> GateRules:
    """During a raid: the shorter timeout, a challenge instead of a button, kick over quarantine."""
    normal = GateRules(policy.mode, timedelta(minutes=policy.timeout_minutes), policy.on_timeout)
    if not during_raid:
        return normal
    return GateRules(
        "challenge" if policy.raid_challenge else normal.mode,
        min(normal.timeout, timedelta(minutes=policy.raid_timeout_minutes)),
        "kick" if policy.raid_kick else normal.on_timeout,
    )


def deadline_of(start: datetime, rules: GateRules) -> datetime:
    """When an unverified member's time is up."""
    return start + rules.timeout


@dataclass(frozen=True)
class PendingMember:
    """A joiner who has not verified yet, and what happens when their deadline passes."""

    user_id: int
    joined_at: datetime
    deadline: datetime
    mode: Mode
    on_timeout: OnTimeout
    during_raid: bool = False
    attempts: int = 0


def admit(
    policy: VerificationPolicy, user_id: int, joined_at: datetime, start: datetime, raid: bool
) -> PendingMember:
    """A joiner's pending entry; the deadline counts from `start` (when the gate saw them)."""
    rules = rules_for(policy, raid)
    return PendingMember(
        user_id, joined_at, deadline_of(start, rules), rules.mode, rules.on_timeout, raid
    )


def failed_attempt(entry: PendingMember, max_attempts: int, now: datetime) -> PendingMember:
    """One more wrong answer; the last allowed one brings the deadline forward to `now`."""
    attempts = entry.attempts + 1
    deadline = min(entry.deadline, now) if attempts >= max_attempts else entry.deadline
    return replace(entry, attempts=attempts, deadline=deadline)


def earliest_deadline(pending: dict[int, PendingMember]) -> datetime | None:
    """The next deadline to sleep until, or None when nobody is waiting."""
    return min((p.deadline for p in pending.values()), default=None)


def due(pending: dict[int, PendingMember], now: datetime) -> list[PendingMember]:
    """Members whose deadline has passed, earliest first."""
    return sorted((p for p in pending.values() if p.deadline <= now), key=lambda p: p.deadline)


@dataclass(frozen=True)
class Challenge:
    """A question shown in the modal and the answer that passes."""

    question: str
    answer: str


def _digits(seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest()


def make_challenge(seed: int) -> Challenge:
    """A small sum or a word to type back, chosen by the seed (the same seed, the same one)."""
    digest = _digits(seed)
    if digest[0] % 2 == 0:
        a, b = 2 + digest[1] % 18, 2 + digest[2] % 18
        return Challenge(f"What is {a} + {b}?", str(a + b))
    word = WORDS[digest[3] % len(WORDS)]
    return Challenge(f"Type this word: {word.upper()}", word)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def check_answer(challenge: Challenge, given: str) -> bool:
    """Case, width and surrounding spaces do not matter; anything else does."""
    return _normal(given) == _normal(challenge.answer)
