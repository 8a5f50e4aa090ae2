"""AI review as plain values: what the reviewer is asked and the verdict it must return.

The `ai_review` activity (activities/ai_review.py) takes a :class:`ReviewRequest` and returns a
validated :class:`ReviewVerdict`; the moderation workflow calls it only for messages the fast
path flagged or a person reported, never for every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReviewAction = Literal["none", "warn", "mute", "kick", "ban"]
REVIEW_ACTIONS: tuple[str, ...] = ("none", "warn", "mute", "kick", "ban")
REVIEW_ACTIVITY = "ai_review"


@dataclass(frozen=True)
class ReviewRequest:
    """One message to judge, with the server's own rules and culture, and what surrounds it."""

    guild_id: int
    user_id: int
    message: str
    flagged_by: str
    """The rule that flagged it, or 'report' when a person did."""
    rules: str = ""
    culture: str = ""
    context: tuple[str, ...] = ()
    tier: str = "starter"


@dataclass(frozen=True)
class ReviewVerdict:
    """A validated verdict; `provider` says who gave it ('anthropic', ..., 'local')."""

    action: ReviewAction
    categories: tuple[str, ...]
    confidence: float
    reason: str
    provider: str
    budget_exhausted: bool = False
    """True when the server's monthly AI budget is spent and the local classifier answered."""
