"""Plain values the automod fast path works with: the message, rule actions, conditions, verdicts.

Kept apart from the rule checkers so that :mod:`domain.automod` and :mod:`domain.automod_rules`
can both use them without importing each other. Time is never read here: a snapshot carries
``now`` (the message's own timestamp), so judging the same message twice gives the same answer.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACTION_KINDS = frozenset(
    {
        "delete",
        "warn",
        "timeout",
        "escalate",
        "alert",
        "reply",
        "add_role",
        "remove_role",
        "slowmode",
        "raise_raid_level",
    }
)
"""What a rule may ask for. warn/timeout/escalate go to the member's moderation workflow."""
SANCTIONS = ("timeout", "warn", "escalate")
"""Actions the moderation workflow carries out, strongest first."""
DAY = timedelta(days=1)
REASONS = {
    "blocked_terms": "Blocked term",
    "regex": "Matched pattern",
    "invites": "Invite link",
    "scam_links": "Scam link",
    "mass_mentions": "Mass mentions",
    "caps": "Excessive caps",
    "zalgo": "Zalgo text",
    "emoji_flood": "Emoji flood",
    "attachments": "Blocked attachment",
}
"""How each rule kind reads in a case reason, e.g. 'Invite link (abc123)'."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """A file on a message: its name and, when Discord knows it, its content type."""

    filename: str
    content_type: str | None = None

    @property
    def extension(self) -> str:
        """Lower-case extension without the dot ('' when the name has none)."""
        _, dot, ext = self.filename.rpartition(".")
        return ext.lower() if dot else ""


@dataclass(frozen=True, slots=True)
class MessageSnapshot:
    """What automod needs of a chat message, detached from any Discord library.

    Everything after ``content`` is optional so a bare snapshot (tests, dry runs) stays short;
    ``now`` is the message's timestamp, used for the account-age and membership conditions.
    """

    guild_id: int
    channel_id: int
    author_id: int
    author_role_ids: frozenset[int]
    author_is_bot: bool
    content: str
    parent_id: int | None = None
    """The channel a thread belongs to, so channel conditions also cover its threads."""
    category_id: int | None = None
    mention_count: int = 0
    """Distinct users and roles mentioned."""
    attachments: tuple[AttachmentInfo, ...] = ()
    account_created_at: datetime | None = None
    joined_at: datetime | None = None
    now: datetime | None = None
    own_invite_codes: AbstractSet[str] = field(default_factory=frozenset)
    """The server's own invite codes (a live view is fine): linking to them is allowed."""


@dataclass(frozen=True, slots=True)
class RuleAction:
    """One thing a rule asks for, with the parameter its kind needs."""

    kind: str
    duration_minutes: int | None = None
    """timeout: how long."""
    text: str | None = None
    """reply: what to say ({mention} is the author)."""
    role_id: int | None = None
    """add_role / remove_role: which role."""
    seconds: int | None = None
    """slowmode: the per-user delay to set on the channel."""

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown automod action {self.kind!r}")
        needs = {
            "timeout": self.duration_minutes,
            "reply": self.text,
            "add_role": self.role_id,
            "remove_role": self.role_id,
            "slowmode": self.seconds,
        }
        if self.kind in needs and needs[self.kind] is None:
            raise ValueError(f"automod action {self.kind!r} needs its parameter")

    def describe(self) -> str:
        """Short human form for logs and dry runs, e.g. 'timeout 10m'."""
        if self.kind == "timeout":
            return f"timeout {self.duration_minutes}m"
        if self.kind == "slowmode":
            return f"slowmode {self.seconds}s"
        if self.kind in ("add_role", "remove_role"):
            return f"{self.kind} {self.role_id}"
        return self.kind


@dataclass(frozen=True, slots=True)
class RuleConditions:
    """Who and where a rule applies to (YAGPDB/Zeppelin style); empty sets mean 'everyone'.

    ``min_account_age_days`` / ``min_member_days``: the rule only judges accounts (or members)
    younger than that, so trusted regulars are left alone. Unknown ages count as young.
    """

    only_roles: frozenset[int] = frozenset()
    ignore_roles: frozenset[int] = frozenset()
    only_channels: frozenset[int] = frozenset()
    ignore_channels: frozenset[int] = frozenset()
    ignore_categories: frozenset[int] = frozenset()
    min_account_age_days: float | None = None
    min_member_days: float | None = None
    ignore_bots: bool = True
    _account_age: timedelta | None = field(init=False, repr=False, compare=False)
    _member_age: timedelta | None = field(init=False, repr=False, compare=False)
    _channels: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Worked out once, so the per-message check is a few comparisons.
        account, member = self.min_account_age_days, self.min_member_days
        object.__setattr__(self, "_account_age", None if account is None else DAY * account)
        object.__setattr__(self, "_member_age", None if member is None else DAY * member)
        object.__setattr__(self, "_channels", bool(self.only_channels or self.ignore_channels))

    @property
    def trivial(self) -> bool:
        """True when only the bot check applies (the common case; judged without calls)."""
        return self == _NO_CONDITIONS

    def applies(self, message: MessageSnapshot) -> bool:
        """Whether this rule judges ``message`` at all."""
        if message.author_is_bot and self.ignore_bots:
            return False
        if self.only_roles and self.only_roles.isdisjoint(message.author_role_ids):
            return False
        if self.ignore_roles and not self.ignore_roles.isdisjoint(message.author_role_ids):
            return False
        if self._channels and not self._channel_applies(message.channel_id, message.parent_id):
            return False
        if self.ignore_categories and message.category_id in self.ignore_categories:
            return False
        now = message.now
        if now is None:
            return True
        account, member = self._account_age, self._member_age
        if account is not None and message.account_created_at is not None:
            if now - message.account_created_at >= account:
                return False
        if member is not None and message.joined_at is not None:
            if now - message.joined_at >= member:
                return False
        return True

    def _channel_applies(self, channel: int, parent: int | None) -> bool:
        """Channel conditions; a thread also counts as being in its parent channel."""
        only, ignore = self.only_channels, self.ignore_channels
        if only and channel not in only and parent not in only:
            return False
        return not (ignore and (channel in ignore or parent in ignore))


_NO_CONDITIONS = RuleConditions()


@dataclass(frozen=True, slots=True)
class AutomodVerdict:
    """One rule a message broke: which, what matched, and what the rule wants done."""

    rule: str
    """The rule's name (unique in the server's config)."""
    kind: str
    detail: str
    """What matched: the term, the pattern, the invite code, '7 mentions' ..."""
    excerpt: str
    strike_weight: int
    actions: tuple[RuleAction, ...]

    @property
    def term(self) -> str:
        """Older name of :attr:`detail`."""
        return self.detail

    @property
    def action(self) -> str:
        """The strongest sanction this rule names, else its first action ('delete')."""
        return strongest_action(self.actions)

    @property
    def reason(self) -> str:
        """How the case reads, e.g. 'Blocked term (free nitro)'."""
        return f"{REASONS.get(self.kind, self.rule)} ({self.detail})"


def strongest_action(actions: tuple[RuleAction, ...]) -> str:
    """The strongest action: timeout > warn > escalate > delete > the first other; else allow."""
    kinds = {a.kind for a in actions}
    for kind in (*SANCTIONS, "delete"):
        if kind in kinds:
            return kind
    return actions[0].kind if actions else "allow"


def merge_actions(verdicts: tuple[AutomodVerdict, ...]) -> tuple[RuleAction, ...]:
    """The actions of every verdict, each done once: the longest timeout, one reply per text."""
    merged: dict[tuple[str, object], RuleAction] = {}
    for verdict in verdicts:
        for action in verdict.actions:
            key: tuple[str, object]
            if action.kind in ("add_role", "remove_role"):
                key = (action.kind, action.role_id)
            else:
                key = (action.kind, None)
            kept = merged.get(key)
            if kept is None or _outweighs(action, kept):
                merged[key] = action
    return tuple(merged.values())


def _outweighs(action: RuleAction, kept: RuleAction) -> bool:
    """A longer timeout or a longer slowmode wins over a shorter one."""
    if action.kind == "timeout":
        return (action.duration_minutes or 0) > (kept.duration_minutes or 0)
    if action.kind == "slowmode":
        return (action.seconds or 0) > (kept.seconds or 0)
    return False


@dataclass(frozen=True, slots=True)
class Judgement:
    """Every rule a message broke, in rule order; the gateway acts on the merged actions."""

    verdicts: tuple[AutomodVerdict, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the rules that hit."""
        return tuple(v.rule for v in self.verdicts)

    @property
    def strike_weight(self) -> int:
        """Strike points the member earns for this message: the rules' weights summed."""
        return sum(v.strike_weight for v in self.verdicts)

    @property
    def actions(self) -> tuple[RuleAction, ...]:
        """Each action once (see :func:`merge_actions`)."""
        return merge_actions(self.verdicts)

    @property
    def action(self) -> str:
        """The strongest action overall (see :func:`strongest_action`)."""
        return strongest_action(self.actions)

    @property
    def deletes(self) -> bool:
        """Whether any rule asks for the message to go."""
        return any(a.kind == "delete" for v in self.verdicts for a in v.actions)

    @property
    def reason(self) -> str:
        """Every verdict's reason; a raid-level request is noted for the raid workflow."""
        reason = "; ".join(v.reason for v in self.verdicts)
        if self.has("raise_raid_level"):
            reason += "; raid level raise requested"
        return reason

    def has(self, kind: str) -> bool:
        """Whether any rule asks for an action of this kind."""
        return any(a.kind == kind for v in self.verdicts for a in v.actions)
