"""Per-server configuration: a typed, versioned model with defaults and precise errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.achievements import Counter
from domain.anti_nuke import NukePolicy, policy_from_preset
from domain.automod import AutomodRules, RuleAction, RuleConditions, RuleSpec, blocked_term_problem
from domain.automod_rules import (
    DANGEROUS_EXTENSIONS,
    AttachmentParams,
    BlockedTermsParams,
    CapsParams,
    EmojiFloodParams,
    InviteParams,
    MassMentionParams,
    RegexParams,
    RuleParams,
    ScamLinkParams,
    ZalgoParams,
    regex_problem,
)
from domain.events import zone as event_zone
from domain.lockdown import LockdownSettings
from domain.webhooks import UnsafeWebhookURL, WebhookEvent, check_url_shape

CONFIG_SCHEMA_VERSION: Literal[1] = 1

Snowflake = Annotated[int, Field(gt=0, lt=2**64)]
Action = Literal["warn", "timeout", "kick", "ban"]
SensitiveAction = Literal["warn", "timeout", "kick", "ban", "mass_delete", "lockdown"]


class _Section(BaseModel):
    """Unknown keys are errors: a typo in a config must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


AutomodActionKind = Literal[
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
]
_ACTION_PARAMS = {
    "timeout": "duration_minutes",
    "reply": "reply_text",
    "add_role": "role_id",
    "remove_role": "role_id",
    "slowmode": "seconds",
}


class AutomodActionConfig(_Section):
    """One action of a rule; a bare name ("delete") is short for {"type": "delete"}."""

    type: AutomodActionKind
    duration_minutes: int | None = Field(default=None, ge=1, le=40320)
    reply_text: str | None = Field(default=None, min_length=1, max_length=1000)
    role_id: Snowflake | None = None
    seconds: int | None = Field(default=None, ge=1, le=21600)

    @model_validator(mode="after")
    def _parameters_fit(self) -> AutomodActionConfig:
        """Each action takes exactly the parameter it needs (a timeout defaults to 10 min)."""
        wanted = _ACTION_PARAMS.get(self.type)
        if self.type == "timeout" and self.duration_minutes is None:
            object.__setattr__(self, "duration_minutes", 10)
        if wanted is not None and getattr(self, wanted) is None:
            raise ValueError(f"action {self.type!r} needs {wanted}")
        extra = [p for p in set(_ACTION_PARAMS.values()) - {wanted} if getattr(self, p) is not None]
        if extra:
            raise ValueError(f"action {self.type!r} does not take {', '.join(sorted(extra))}")
        return self

    def to_domain(self) -> RuleAction:
        """The pure domain value."""
        return RuleAction(
            self.type,
            duration_minutes=self.duration_minutes,
            text=self.reply_text,
            role_id=self.role_id,
            seconds=self.seconds,
        )


def _action_of(value: Any) -> Any:
    """Accept "delete" as well as {"type": "delete"}."""
    return {"type": value} if isinstance(value, str) else value


RuleActionItem = Annotated[AutomodActionConfig, BeforeValidator(_action_of)]


class AutomodConditions(_Section):
    """Who and where a rule judges (YAGPDB/Zeppelin style); empty lists mean everyone.

    `min_account_age_days` / `min_member_days`: only accounts / members younger than that are
    judged, so regulars are trusted.
    """

    only_roles: list[Snowflake] = Field(default_factory=list)
    ignore_roles: list[Snowflake] = Field(default_factory=list)
    only_channels: list[Snowflake] = Field(default_factory=list)
    ignore_channels: list[Snowflake] = Field(default_factory=list)
    ignore_categories: list[Snowflake] = Field(default_factory=list)
    min_account_age_days: float | None = Field(default=None, gt=0, le=36500)
    min_member_days: float | None = Field(default=None, gt=0, le=36500)
    ignore_bots: bool = True

    def to_domain(self) -> RuleConditions:
        """The pure domain value."""
        return RuleConditions(
            only_roles=frozenset(self.only_roles),
            ignore_roles=frozenset(self.ignore_roles),
            only_channels=frozenset(self.only_channels),
            ignore_channels=frozenset(self.ignore_channels),
            ignore_categories=frozenset(self.ignore_categories),
            min_account_age_days=self.min_account_age_days,
            min_member_days=self.min_member_days,
            ignore_bots=self.ignore_bots,
        )


def _default_rule_actions() -> list[AutomodActionConfig]:
    return [AutomodActionConfig(type="delete")]


class _AutomodRule(_Section):
    """What every rule kind has: a name, conditions, actions and a strike weight."""

    name: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    enabled: bool = True
    conditions: AutomodConditions = Field(default_factory=AutomodConditions)
    actions: list[RuleActionItem] = Field(
        default_factory=_default_rule_actions, min_length=1, max_length=10
    )
    strike_weight: int = Field(default=1, ge=0, le=100)

    @property
    def rule_name(self) -> str:
        """The rule's name; by default its kind."""
        return self.name or str(getattr(self, "kind", "rule"))

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        raise NotImplementedError

    def to_domain(self) -> RuleSpec:
        """The pure domain rule."""
        return RuleSpec(
            self.rule_name,
            self.params(),
            tuple(action.to_domain() for action in self.actions),
            self.strike_weight,
            self.conditions.to_domain(),
        )


def _term_can_match(term: str) -> str:
    problem = blocked_term_problem(term)
    if problem is not None:
        raise ValueError(problem)
    return term


def _regex_runs(pattern: str) -> str:
    problem = regex_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


BlockedTerm = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_term_can_match)]
RegexPattern = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_regex_runs)]


class BlockedTermsRule(_AutomodRule):
    """Words and phrases; `*` at an end is a wildcard; evasions are folded away."""

    kind: Literal["blocked_terms"]
    terms: list[BlockedTerm] = Field(min_length=1, max_length=100_000)
    normalise_evasions: bool = True

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return BlockedTermsParams(tuple(self.terms), self.normalise_evasions)


class RegexRule(_AutomodRule):
    """Patterns in RE2 syntax (linear time: no look-arounds or back-references)."""

    kind: Literal["regex"]
    patterns: list[RegexPattern] = Field(min_length=1, max_length=10_000)
    case_sensitive: bool = False

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return RegexParams(tuple(self.patterns), self.case_sensitive)


class InviteRule(_AutomodRule):
    """Discord invite links, except to allowed codes and (by default) the server's own."""

    kind: Literal["invites"]
    allowed_codes: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{2,32}$")]] = Field(
        default_factory=list, max_length=1000
    )
    allow_own_invites: bool = True

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return InviteParams(frozenset(self.allowed_codes), self.allow_own_invites)


Domain = Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]


class ScamLinkRule(_AutomodRule):
    """Phishing and scam links (the shipped domain list, look-alikes and lures)."""

    kind: Literal["scam_links"]
    allowed_domains: list[Domain] = Field(default_factory=list, max_length=1000)

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return ScamLinkParams(frozenset(self.allowed_domains))


class MassMentionRule(_AutomodRule):
    """More than `max_mentions` distinct users and roles mentioned at once."""

    kind: Literal["mass_mentions"]
    max_mentions: int = Field(default=5, ge=1, le=100)

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return MassMentionParams(self.max_mentions)


class CapsRule(_AutomodRule):
    """More than `max_percent` of the letters in capitals (messages of `min_letters` or more)."""

    kind: Literal["caps"]
    max_percent: int = Field(default=70, ge=1, le=99)
    min_letters: int = Field(default=10, ge=1, le=4000)

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return CapsParams(self.max_percent, self.min_letters)


class ZalgoRule(_AutomodRule):
    """A character carrying more than `max_marks` combining marks."""

    kind: Literal["zalgo"]
    max_marks: int = Field(default=3, ge=1, le=50)

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return ZalgoParams(self.max_marks)


class EmojiFloodRule(_AutomodRule):
    """More than `max_emojis` emojis in one message."""

    kind: Literal["emoji_flood"]
    max_emojis: int = Field(default=10, ge=1, le=500)

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return EmojiFloodParams(self.max_emojis)


Extension = Annotated[str, Field(pattern=r"^\.?[A-Za-z0-9]{1,16}$")]


class AttachmentRule(_AutomodRule):
    """Files by extension (executables by default) or content type prefix."""

    kind: Literal["attachments"]
    blocked_extensions: list[Extension] = Field(
        default_factory=lambda: sorted(DANGEROUS_EXTENSIONS), max_length=500
    )
    allowed_extensions: list[Extension] = Field(default_factory=list, max_length=500)
    blocked_content_types: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )

    def params(self) -> RuleParams:
        """The kind's settings as a pure domain value."""
        return AttachmentParams(
            frozenset(self.blocked_extensions),
            frozenset(self.allowed_extensions),
            tuple(self.blocked_content_types),
        )


AutomodRuleConfig = Annotated[
    BlockedTermsRule
    | RegexRule
    | InviteRule
    | ScamLinkRule
    | MassMentionRule
    | CapsRule
    | ZalgoRule
    | EmojiFloodRule
    | AttachmentRule,
    Field(discriminator="kind"),
]


def _default_automod_rules() -> list[AutomodRuleConfig]:
    """A fresh server is protected from invite spam, scam links and mass mentions."""
    return [
        InviteRule(kind="invites"),
        ScamLinkRule(
            kind="scam_links",
            actions=[
                AutomodActionConfig(type="delete"),
                AutomodActionConfig(type="timeout", duration_minutes=60),
                AutomodActionConfig(type="alert"),
            ],
            strike_weight=3,
        ),
        MassMentionRule(
            kind="mass_mentions",
            actions=[
                AutomodActionConfig(type="delete"),
                AutomodActionConfig(type="timeout", duration_minutes=10),
            ],
            strike_weight=2,
        ),
    ]


class AutomodConfig(_Section):
    """Blocked words and the typed rules the fast path judges every message with.

    `blocked_terms`/`action`/`strike_weight` are the original blocked-terms rule (named
    `blocked_terms`); `rules` adds any number of typed rules. Exempt roles and channels apply
    to every rule.
    """

    enabled: bool = True
    blocked_terms: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100_000
    )
    normalise_evasions: bool = True
    action: Literal["delete", "warn", "timeout"] = "delete"
    strike_weight: int = Field(default=1, ge=0, le=100)
    exempt_role_ids: list[Snowflake] = Field(default_factory=list)
    exempt_channel_ids: list[Snowflake] = Field(default_factory=list)
    rules: list[AutomodRuleConfig] = Field(default_factory=_default_automod_rules, max_length=200)

    @model_validator(mode="after")
    def _terms_can_match(self) -> AutomodConfig:
        """A term that can never match is a mistake the admin should hear about."""
        problems = []
        for index, term in enumerate(self.blocked_terms):
            problem = blocked_term_problem(term, normalise_evasions=self.normalise_evasions)
            if problem is not None:
                problems.append(f"term {index}: {problem}")
        if problems:
            raise ValueError("; ".join(problems[:10]))
        return self

    @model_validator(mode="after")
    def _unique_rule_names(self) -> AutomodConfig:
        """Verdicts and dry runs name rules, so two rules must not share a name."""
        names = ["blocked_terms"] if self.blocked_terms else []
        names += [rule.rule_name for rule in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"two rules are named {', '.join(duplicated)}; give each rule its own `name`"
            )
        return self

    def to_domain(self) -> AutomodRules:
        """The pure domain rules (nothing when automod is off; disabled rules left out)."""
        if not self.enabled:
            return AutomodRules()
        return AutomodRules(
            blocked_terms=tuple(self.blocked_terms),
            normalise_evasions=self.normalise_evasions,
            action=self.action,
            strike_weight=self.strike_weight,
            exempt_role_ids=frozenset(self.exempt_role_ids),
            exempt_channel_ids=frozenset(self.exempt_channel_ids),
            rules=tuple(rule.to_domain() for rule in self.rules if rule.enabled),
        )


class LadderStep(_Section):
    """Reaching `points` active strike points triggers `action`."""

    points: int = Field(ge=1, le=1000)
    action: Action
    duration_minutes: int | None = Field(default=None, ge=1, le=40320)


class EscalationConfig(_Section):
    """Warn -> timeout -> kick -> ban, by active strike points; strikes decay after a while."""

    steps: list[LadderStep] = Field(
        default_factory=lambda: [
            LadderStep(points=1, action="warn"),
            LadderStep(points=3, action="timeout", duration_minutes=10),
            LadderStep(points=5, action="timeout", duration_minutes=60 * 24),
            LadderStep(points=7, action="kick"),
            LadderStep(points=10, action="ban"),
        ],
        min_length=1,
    )
    strike_decay_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[LadderStep]) -> list[LadderStep]:
        points = [s.points for s in steps]
        if points != sorted(set(points)):
            raise ValueError("ladder steps must have strictly increasing points")
        return steps


def _default_sensitive() -> list[SensitiveAction]:
    return ["kick", "ban", "mass_delete", "lockdown"]


class ApprovalsConfig(_Section):
    """Which actions wait for a person, for how long, and who may decide."""

    sensitive_actions: list[SensitiveAction] = Field(default_factory=_default_sensitive)
    timeout_minutes: int = Field(default=24 * 60, ge=1, le=7 * 24 * 60)
    timeout_policy: Literal["reject", "fallback"] = "reject"
    fallback_action: Action = "timeout"
    fallback_duration_minutes: int = Field(default=60, ge=1, le=40320)
    approver_telegram_ids: list[int] = Field(default_factory=list)
    approver_role_ids: list[Snowflake] = Field(default_factory=list)


class ModerationConfig(_Section):
    """How the member's moderation workflow talks to members and staff."""

    dm_members: bool = True
    """Tell the member by DM of a warning, timeout, kick or ban (before a kick or ban)."""
    appeals_enabled: bool = True
    """A banned or timed-out member gets an Appeal button in that DM."""
    alert_after_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    """An approval pending this long alerts the staff (Telegram and the mod-log), once."""
    ai_review: bool = True
    """Messages automod flags for the ladder, and moderators' reports, go to the AI reviewer."""


class _GainRange(_Section):
    """A range of XP per award and the cooldown between two awards."""

    min_gain: int = Field(default=15, ge=0, le=10_000)
    max_gain: int = Field(default=25, ge=0, le=10_000)
    cooldown_seconds: int = Field(default=60, ge=0, le=86_400)

    @model_validator(mode="after")
    def _range(self) -> _GainRange:
        if self.min_gain > self.max_gain:
            raise ValueError(f"min_gain ({self.min_gain}) exceeds max_gain ({self.max_gain})")
        return self


class VoiceXPConfig(_GainRange):
    """XP per minute in voice, only for unmuted, undeafened members with company."""

    enabled: bool = False
    min_gain: int = Field(default=5, ge=0, le=10_000)
    max_gain: int = Field(default=10, ge=0, le=10_000)
    min_listeners: int = Field(default=1, ge=1, le=100, description="other members needed")


class RoleReward(_Section):
    """Reaching `level` grants `role_id`."""

    level: int = Field(ge=1, le=1000)
    role_id: Snowflake


Multiplier = Annotated[float, Field(ge=0, le=10)]


class XPConfig(_GainRange):
    """MEE6-style defaults: 15-25 XP a message, at most once a minute, 5n^2 + 50n + 100 a level."""

    enabled: bool = True
    curve: Literal["mee6", "linear", "flat"] = "mee6"
    max_level: int | None = Field(default=None, ge=1, le=1000)
    no_xp_channel_ids: list[Snowflake] = Field(default_factory=list)
    no_xp_role_ids: list[Snowflake] = Field(default_factory=list)
    channel_multipliers: dict[Snowflake, Multiplier] = Field(default_factory=dict)
    role_multipliers: dict[Snowflake, Multiplier] = Field(default_factory=dict)
    voice: VoiceXPConfig = Field(default_factory=VoiceXPConfig)
    role_rewards: list[RoleReward] = Field(default_factory=list, max_length=100)
    stack_rewards: bool = True
    announce: Literal["channel", "dm", "off"] = "channel"
    announce_channel_id: Snowflake | None = None
    announce_template: str = Field(
        default="GG {mention}, you just reached level {level}!", min_length=1, max_length=500
    )
    streak_timezone: str = Field(default="UTC", max_length=64)

    @field_validator("role_rewards")
    @classmethod
    def _one_reward_per_level(cls, rewards: list[RoleReward]) -> list[RoleReward]:
        levels = [r.level for r in rewards]
        if len(levels) != len(set(levels)):
            raise ValueError("two role rewards for the same level")
        return sorted(rewards, key=lambda r: r.level)

    @field_validator("announce_template")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        try:
            template.format(mention="@m", name="m", level=1, rank=1, xp=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder {exc}; use {{mention}}, {{name}}, {{level}}, {{rank}}, {{xp}}"
            ) from None
        return template

    @field_validator("streak_timezone")
    @classmethod
    def _real_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return name


class AchievementConfig(_Section):
    """A badge granted once when a member's counter reaches the threshold."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=200)
    counter: Counter
    threshold: int = Field(ge=1, le=10_000_000)
    role_id: Snowflake | None = None
    xp_bonus: int = Field(default=0, ge=0, le=1_000_000)


class LockdownConfig(_Section):
    """What the `raid:{guild}` lockdown changes, and when it lifts itself."""

    auto: bool = True
    """Start a lockdown when the detector reaches the raid level (else alert only)."""
    channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)
    """Channels to lock; empty: every text channel @everyone can post in."""
    exclude_channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)
    verification_level: int = Field(default=3, ge=0, le=4)
    """Raised to at least this (3 = high: members must have been on Discord 10 minutes)."""
    pause_invites: bool = True
    slowmode_seconds: int = Field(default=0, ge=0, le=21600)
    """0 leaves slowmode alone; otherwise locked channels get at least this."""
    quiet_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    """Lift by itself after this long without raid activity."""
    reminder_minutes: int = Field(default=60, ge=5, le=24 * 60)
    propose_removal: bool = True
    """Ask (through the approval path) to remove the accounts that joined during the raid."""
    removal_action: Literal["ban", "kick"] = "ban"
    delete_message_hours: int = Field(default=1, ge=0, le=168)
    """With a ban: delete the raiders' messages of this many hours."""


class RaidConfig(_Section):
    """Join-rate thresholds; presets set sensible numbers."""

    preset: Literal["relaxed", "standard", "strict"] = "standard"
    join_threshold: int = Field(default=10, ge=2, le=10_000)
    window_seconds: int = Field(default=10, ge=1, le=3600)
    new_account_hours: int = Field(default=24, ge=1, le=24 * 365)
    lockdown: LockdownConfig = Field(default_factory=LockdownConfig)


class SpamConfig(_Section):
    """Spam windows on the fast path (rate, duplicates, bursts, same-text raids)."""

    enabled: bool = True
    preset: Literal["relaxed", "standard", "strict"] | None = None
    """None: follow `raid.preset`."""


NukeKind = Literal[
    "channel_delete", "role_delete", "ban", "kick", "webhook_create", "dangerous_grant"
]


class AntiNukeConfig(_Section):
    """One actor destroying the server fast is quarantined at once; restores wait for a person."""

    enabled: bool = True
    preset: Literal["relaxed", "standard", "strict"] = "standard"
    window_seconds: int | None = Field(default=None, ge=5, le=3600)
    """None: the preset's window."""
    thresholds: dict[NukeKind, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict)
    """Per-kind overrides of the preset's thresholds."""
    trusted_user_ids: list[Snowflake] = Field(default_factory=list, max_length=100)
    trusted_role_ids: list[Snowflake] = Field(default_factory=list, max_length=100)
    quarantine_role_id: Snowflake | None = None
    """None: a role named "Quarantine" without permissions is found or created."""
    bot_action: Literal["strip", "kick"] = "strip"
    """A rogue bot: strip its managed role's dangerous permissions, or kick it."""

    def to_domain(self) -> NukePolicy:
        """The pure policy the watch uses."""
        return policy_from_preset(
            self.preset,
            window_seconds=self.window_seconds,
            overrides={str(k): v for k, v in self.thresholds.items()},
            trusted_user_ids=frozenset(self.trusted_user_ids),
            trusted_role_ids=frozenset(self.trusted_role_ids),
            enabled=self.enabled,
        )


class VerificationRaidConfig(_Section):
    """How a raid tightens the gate for members who join during it."""

    timeout_minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)
    """The shorter deadline (the normal one wins if it is shorter still)."""
    challenge: bool = True
    """A challenge instead of the button."""
    kick: bool = True
    """Kick at the deadline even when `on_timeout` is quarantine."""


class VerificationConfig(_Section):
    """The new-member gate: a Verify button or a small challenge, a role on success, a deadline."""

    enabled: bool = False
    mode: Literal["button", "challenge"] = "button"
    channel_id: Snowflake | None = None
    """Where `/verification panel` posts the Verify button (None: the channel it is run in)."""
    verified_role_id: Snowflake | None = None
    unverified_role_id: Snowflake | None = None
    """Given on join and removed on success."""
    quarantine_role_id: Snowflake | None = None
    """Given when the deadline passes with `on_timeout: quarantine` (None: keep the unverified
    role)."""
    timeout_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    on_timeout: Literal["kick", "quarantine"] = "kick"
    max_attempts: int = Field(default=3, ge=1, le=20)
    raid: VerificationRaidConfig = Field(default_factory=VerificationRaidConfig)

    @model_validator(mode="after")
    def _usable(self) -> VerificationConfig:
        """An enabled gate needs a role to grant, and a quarantine needs a role to hold."""
        if not self.enabled:
            return self
        if self.verified_role_id is None:
            raise ValueError("an enabled gate needs verified_role_id")
        holding = self.quarantine_role_id or self.unverified_role_id
        if self.on_timeout == "quarantine" and holding is None:
            raise ValueError("on_timeout quarantine needs quarantine_role_id or unverified_role_id")
        return self


class CommandRate(_Section):
    """`uses` per `seconds`."""

    uses: int = Field(ge=1, le=10_000)
    seconds: int = Field(ge=1, le=3600)


class CommandsConfig(_Section):
    """Rate limits on the suite's own slash commands and buttons, so it cannot be used to spam."""

    enabled: bool = True
    per_member: CommandRate = Field(default_factory=lambda: CommandRate(uses=5, seconds=10))
    per_guild: CommandRate = Field(default_factory=lambda: CommandRate(uses=60, seconds=10))
    exempt_managers: bool = True
    """Members with Manage Server are not limited."""


class EventsConfig(_Section):
    """Community events: the server's zone and the defaults a new event takes."""

    timezone: str | None = None
    """IANA zone in which times without an offset are read (None: each event must give one)."""
    channel_id: Snowflake | None = None
    """Where announcements go by default."""
    ping_role_id: Snowflake | None = None
    reminders_minutes: list[Annotated[int, Field(ge=0, le=43_200)]] = Field(
        default_factory=lambda: [1440, 60, 0], max_length=10
    )
    xp_reward: int = Field(default=50, ge=0, le=10_000)
    discord_sync: bool = False
    """Mirror events to Discord scheduled events, and their edits back."""
    manager_role_ids: list[Snowflake] = Field(default_factory=list, max_length=50)
    """Roles that may manage events besides members with Manage Events."""

    @field_validator("timezone")
    @classmethod
    def _real_zone(cls, name: str | None) -> str | None:
        if name is not None:
            event_zone(name)  # ValueError with a message a member can act on
        return name


class TicketCategoryConfig(_Section):
    """One kind of ticket, with the staff roles that answer it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    description: str = Field(default="", max_length=100)
    role_ids: list[Snowflake] = Field(default_factory=list, max_length=20)


class TicketsConfig(_Section):
    """Support tickets: where they open, who answers, and when they are chased or closed."""

    enabled: bool = True
    mode: Literal["thread", "channel"] = "thread"
    """A private thread under `parent_channel_id`, or a private channel in that category."""
    parent_channel_id: Snowflake | None = None
    """A text channel (thread mode) or a category (channel mode); None: where /ticket is used."""
    log_channel_id: Snowflake | None = None
    """Where closed tickets' transcripts are posted as a file."""
    support_role_ids: list[Snowflake] = Field(default_factory=list, max_length=20)
    categories: list[TicketCategoryConfig] = Field(default_factory=list, max_length=25)
    max_open_per_member: int = Field(default=1, ge=1, le=50)
    staff_reminder_minutes: int | None = Field(default=60, ge=1, le=7 * 24 * 60)
    """Remind staff when the member has waited this long for a reply (None: never)."""
    auto_close_hours: float | None = Field(default=48, ge=0, le=90 * 24)
    """Close after this long without any message (0 or None: never)."""
    warning_hours: float = Field(default=12, ge=0, le=30 * 24)
    """Warn the member this long before an auto-close."""
    ask_rating: bool = True

    @field_validator("categories")
    @classmethod
    def _unique_names(cls, items: list[TicketCategoryConfig]) -> list[TicketCategoryConfig]:
        names = [c.name for c in items]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate ticket categories: {', '.join(duplicated)}")
        return items


class FaqConfig(_Section):
    """FAQ answers: when the bot answers a question from the knowledge base, and where."""

    enabled: bool = True
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Combined lexical/semantic confidence (0..1) an answer needs; below it a ticket is offered."""
    languages: list[Literal["en", "es", "de", "fr", "pt"]] = Field(
        default=["en"], min_length=1, max_length=5
    )
    """Languages messages are detected among (the fewer, the faster and surer)."""
    allow_channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)
    """Only these channels (and their threads); empty: every channel."""
    deny_channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)
    channel_cooldown_seconds: int = Field(default=30, ge=0, le=86_400)
    member_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    suggest_ticket: bool = True
    """Below the threshold, reply with an 'Open a ticket' button."""


class SupportAIConfig(_Section):
    """AI answers grounded on the FAQ, and talking to the bot (needs an AI provider key)."""

    enabled: bool = True
    answer_mentions: bool = True
    """A mention of the bot, or a reply to one of its messages, gets an answer."""
    translate: bool = True
    """An FAQ answer only in another language may be translated into the member's."""
    member_interval_seconds: int = Field(default=60, ge=0, le=86_400)
    """At most one AI answer to a member per this many seconds."""
    max_faq_entries_in_prompt: int = Field(default=8, ge=1, le=50)
    """The matcher's top entries sent to the model (all of them when there are fewer)."""
    allow_channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)
    """Only these channels (and their threads) for mentions; empty: every channel."""
    deny_channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)


class WebhookConfig(_Section):
    """One outgoing webhook: the events it receives, POSTed as signed JSON (docs/security.md)."""

    url: str = Field(max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=10)
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """The shape only; the address is checked at delivery time (DNS may change)."""
        try:
            check_url_shape(value)
        except UnsafeWebhookURL as exc:
            raise ValueError(str(exc)) from None
        return value


class ServerConfig(_Section):
    """Everything one Discord server can configure; `version` is the schema version."""

    version: Literal[1] = CONFIG_SCHEMA_VERSION
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    # Not read: tiers are billing, kept in servers.tier and set by the operator (docs/tiers.md);
    # the key stays so stored configs that carry it still validate.
    tier: Literal["starter", "growth", "scale", "enterprise"] = "starter"
    mod_log_channel_id: Snowflake | None = None
    rules: str = Field(default="", max_length=4000)
    culture: str = Field(default="", max_length=2000)
    automod: AutomodConfig = Field(default_factory=AutomodConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    xp: XPConfig = Field(default_factory=XPConfig)
    achievements: list[AchievementConfig] | None = Field(
        default=None, max_length=200, description="None: the built-in set; [] turns them off"
    )
    raid: RaidConfig = Field(default_factory=RaidConfig)
    spam: SpamConfig = Field(default_factory=SpamConfig)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    anti_nuke: AntiNukeConfig = Field(default_factory=AntiNukeConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    faq: FaqConfig = Field(default_factory=FaqConfig)
    tickets: TicketsConfig = Field(default_factory=TicketsConfig)
    support_ai: SupportAIConfig = Field(default_factory=SupportAIConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list, max_length=10)

    @field_validator("achievements")
    @classmethod
    def _unique_keys(cls, items: list[AchievementConfig] | None) -> list[AchievementConfig] | None:
        keys = [a.key for a in items or []]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise ValueError(f"duplicate achievement keys: {', '.join(duplicated)}")
        return items


class ConfigError(ValueError):
    """A config was rejected; `problems` lists each one as 'path: message'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid server config: " + "; ".join(problems))
        self.problems = problems


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(config)"


def parse_server_config(data: Any) -> ServerConfig:
    """Validate raw JSON into a ServerConfig or raise ConfigError naming every bad field."""
    if not isinstance(data, dict):
        raise ConfigError([f"(config): expected a JSON object, got {type(data).__name__}"])
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(problems) from None


def default_server_config() -> ServerConfig:
    """The config a server gets when it has none."""
    return ServerConfig()


def stored_or_default(raw: Any) -> ServerConfig:
    """A stored config, or the defaults when there is none or it no longer validates.

    For readers that must go on with something (a sweep, a reply); writes are validated.
    """
    if raw is None:
        return default_server_config()
    try:
        return parse_server_config(raw)
    except ConfigError:
        return default_server_config()


def lockdown_settings(config: ServerConfig) -> LockdownSettings:
    """The lockdown part of a server's config as the raid workflow's plain values."""
    lock = config.raid.lockdown
    return LockdownSettings(
        channel_ids=tuple(lock.channel_ids),
        exclude_channel_ids=tuple(lock.exclude_channel_ids),
        verification_level=lock.verification_level,
        pause_invites=lock.pause_invites,
        slowmode_seconds=lock.slowmode_seconds,
        quiet_minutes=lock.quiet_minutes,
        reminder_minutes=lock.reminder_minutes,
        propose_removal=lock.propose_removal,
        removal_action=lock.removal_action,
        delete_message_hours=lock.delete_message_hours,
        approval_timeout_minutes=config.approvals.timeout_minutes,
        mod_log_channel_id=config.mod_log_channel_id,
    )
