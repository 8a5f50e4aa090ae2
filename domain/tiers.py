"""Pricing tiers (the spec's TierManager): the limits of each tier and pure checks against them.

Three limits, each None for unlimited (the spec writes -1; reports print "unlimited"):

* `servers`: servers one billing account may have. The account is the guild's Discord owner;
  its allowance is that of the best tier among its servers, and its servers count in the order
  they were registered, so the first ones are always the ones that keep working.
* `members`: members of one server (Discord's member count).
* `ai_calls`: AI calls (review and support answers) of one server in a UTC calendar month.

What happens at a limit (docs/tiers.md): a server over its members or servers limit keeps
moderation (automod, spam and raid protection, cases, approvals, tickets, FAQ), while the
features listed in :data:`PAUSED_WHEN_OVER` pause and its admins are told once. A spent AI budget
sends reviews to the local classifier and support questions to a ticket suggestion; admins are
told once at :data:`AI_NOTICE_PERCENTS` of the budget.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

Tier = Literal["starter", "growth", "scale", "enterprise"]
TIERS: Final[tuple[Tier, ...]] = ("starter", "growth", "scale", "enterprise")
"""Cheapest first; an account's tier is the best (last) one among its servers."""
DEFAULT_TIER: Final[Tier] = "starter"

LimitKind = Literal["servers", "members", "ai_calls"]
OverLimit = Literal["servers", "members"]
"""The limits that pause features when crossed (a spent AI budget only stops AI calls)."""

PAUSED_WHEN_OVER: Final[tuple[str, ...]] = ("xp", "ai_review", "support_ai")
"""Features off while a server is over its members or servers limit; moderation keeps going."""

AI_NOTICE_PERCENTS: Final[tuple[int, ...]] = (80, 100)
"""Shares of the monthly AI budget at which the server's admins are told, once each a month."""


@dataclass(frozen=True, slots=True)
class TierLimits:
    """One tier's limits; None is unlimited."""

    tier: Tier
    servers: int | None
    members: int | None
    ai_calls: int | None
    """AI calls a month (UTC calendar month)."""


TIER_LIMITS: Final[dict[str, TierLimits]] = {
    "starter": TierLimits("starter", servers=1, members=5_000, ai_calls=10_000),
    "growth": TierLimits("growth", servers=3, members=25_000, ai_calls=50_000),
    "scale": TierLimits("scale", servers=10, members=None, ai_calls=200_000),
    "enterprise": TierLimits("enterprise", servers=None, members=None, ai_calls=None),
}


def is_tier(name: str) -> bool:
    """Whether `name` is one of :data:`TIERS`."""
    return name in TIER_LIMITS


def limits_for(tier: str) -> TierLimits:
    """The tier's limits; an unknown tier gets starter's, as the spec's getTierLimits does."""
    return TIER_LIMITS.get(tier) or TIER_LIMITS[DEFAULT_TIER]


def account_tier(tiers: Iterable[str]) -> Tier:
    """The billing account's tier: the best tier among its servers (starter when none is known)."""
    known = [TIERS.index(t) for t in tiers if is_tier(t)]
    return TIERS[max(known)] if known else DEFAULT_TIER


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """A verdict on one limit: whether it is kept, the figures, and a sentence for people."""

    kind: LimitKind
    tier: Tier
    used: int
    limit: int | None
    allowed: bool
    message: str

    @property
    def left(self) -> int | None:
        """How much is left before the limit (None: unlimited; 0 when at or over it)."""
        return None if self.limit is None else max(0, self.limit - self.used)


def _fmt(n: int | None) -> str:
    return "unlimited" if n is None else f"{n:,}"


def check_members(tier: str, member_count: int) -> LimitCheck:
    """A server's members against its tier: kept while the count is at most the limit."""
    limits = limits_for(tier)
    ok = limits.members is None or member_count <= limits.members
    verb = "within" if ok else "over"
    message = (
        f"{member_count:,} members: {verb} the {limits.tier} tier's limit of "
        f"{_fmt(limits.members)} members"
    )
    return LimitCheck("members", limits.tier, member_count, limits.members, ok, message)


def check_ai_call(tier: str, used_this_month: int) -> LimitCheck:
    """Whether one more AI call fits this month's budget (`used_this_month` calls already made)."""
    limits = limits_for(tier)
    ok = limits.ai_calls is None or used_this_month < limits.ai_calls
    message = (
        f"{used_this_month:,} of {_fmt(limits.ai_calls)} AI calls used this month "
        f"({limits.tier} tier)"
        + ("" if ok else "; the budget is spent, AI falls back to the local rules")
    )
    return LimitCheck("ai_calls", limits.tier, used_this_month, limits.ai_calls, ok, message)


def check_server_position(tier: str, position: int) -> LimitCheck:
    """The `position`-th server (1-based, by registration) of an account on `tier`."""
    if position < 1:
        raise ValueError("position is 1-based")
    limits = limits_for(tier)
    ok = limits.servers is None or position <= limits.servers
    message = (
        f"server {position} of the account: {'within' if ok else 'over'} the {limits.tier} "
        f"tier's limit of {_fmt(limits.servers)} server{'' if limits.servers == 1 else 's'}"
    )
    return LimitCheck("servers", limits.tier, position, limits.servers, ok, message)


def servers_over_limit(tier: str, servers_in_order: Sequence[int]) -> list[int]:
    """The servers of one account beyond its tier's allowance (the latest registered)."""
    allowance = limits_for(tier).servers
    return [] if allowance is None else list(servers_in_order[allowance:])


def over_limits(*, members: bool, servers: bool) -> str:
    """The stored over-limit flag: '', 'members', 'servers' or 'members,servers'."""
    return ",".join(k for k, on in (("members", members), ("servers", servers)) if on)


def ai_notice_percents_crossed(limit: int | None, before: int, after: int) -> list[int]:
    """The notice thresholds the month's count crossed going from `before` to `after` calls.

    A threshold p is crossed when the count reaches ceil(limit * p / 100); each is crossed by
    exactly one increment of an atomic counter, so the caller that crosses it tells the admins.
    """
    if limit is None or limit <= 0:
        return []
    crossed = []
    for percent in AI_NOTICE_PERCENTS:
        mark = math.ceil(limit * percent / 100)
        if before < mark <= after:
            crossed.append(percent)
    return crossed


def ai_notice_text(tier: str, percent: int, used: int) -> str:
    """What the admins read when the month's AI calls reach `percent` of the budget."""
    limits = limits_for(tier)
    if percent >= 100:
        return (
            f"This server has used all {_fmt(limits.ai_calls)} AI calls of its {limits.tier} "
            "tier this month. Until the month ends (UTC), AI review falls back to the local "
            "rules (warnings at most) and AI support answers offer a ticket instead. "
            "Ask the operator for a higher tier to lift the limit."
        )
    return (
        f"This server has used {used:,} of its {_fmt(limits.ai_calls)} AI calls this month "
        f"({percent} %, {limits.tier} tier). At 100 % AI review falls back to the local rules."
    )


def over_limit_text(tier: str, kinds: Sequence[str], checks: Sequence[LimitCheck]) -> str:
    """What the admins read when their server goes over its members or servers limit."""
    limits = limits_for(tier)
    reasons = "; ".join(c.message for c in checks if not c.allowed) or ", ".join(kinds)
    return (
        f"This server is over its {limits.tier} tier's limits ({reasons}). Moderation keeps "
        "working; XP, AI review (the local rules answer instead) and AI support answers are "
        "paused until the server is back within its limits or moves to a higher tier "
        "(ask the operator)."
    )


def back_within_text(tier: str) -> str:
    """What the admins read when their server is back within its tier's limits."""
    return (
        f"This server is back within its {limits_for(tier).tier} tier's limits: XP and AI "
        "features run again."
    )


MONTH_PATTERN: Final = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def parse_month(text: str) -> str:
    """A billing month 'YYYY-MM', checked; ValueError otherwise."""
    if not MONTH_PATTERN.fullmatch(text):
        raise ValueError(f"month must be YYYY-MM (01 to 12), not {text!r}")
    return text
