"""Per-server configuration: a typed, versioned model with defaults and precise errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.achievements import Counter
from domain.automod import blocked_term_problem

CONFIG_SCHEMA_VERSION: Literal[1] = 1

Snowflake = Annotated[int, Field(gt=0, lt=2**64)]
Action = Literal["warn", "timeout", "kick", "ban"]
SensitiveAction = Literal["warn", "timeout", "kick", "ban", "mass_delete", "lockdown"]


class _Section(BaseModel):
    """Unknown keys are errors: a typo in a config must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AutomodConfig(_Section):
    """Blocked words and the action the fast path takes on a hit."""

    enabled: bool = True
    blocked_terms: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100_000
    )
    normalise_evasions: bool = True
    action: Literal["delete", "warn", "timeout"] = "delete"
    strike_weight: int = Field(default=1, ge=0, le=100)
    exempt_role_ids: list[Snowflake] = Field(default_factory=list)
    exempt_channel_ids: list[Snowflake] = Field(default_factory=list)

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
    approver_telegram_ids: list[int] = Field(default_factory=list)
    approver_role_ids: list[Snowflake] = Field(default_factory=list)


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


class RaidConfig(_Section):
    """Join-rate thresholds; presets set sensible numbers."""

    preset: Literal["relaxed", "standard", "strict"] = "standard"
    join_threshold: int = Field(default=10, ge=2, le=10_000)
    window_seconds: int = Field(default=10, ge=1, le=3600)
    new_account_hours: int = Field(default=24, ge=1, le=24 * 365)


class ServerConfig(_Section):
    """Everything one Discord server can configure; `version` is the schema version."""

    version: Literal[1] = CONFIG_SCHEMA_VERSION
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    tier: Literal["starter", "growth", "scale", "enterprise"] = "starter"
    mod_log_channel_id: Snowflake | None = None
    rules: str = Field(default="", max_length=4000)
    culture: str = Field(default="", max_length=2000)
    automod: AutomodConfig = Field(default_factory=AutomodConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    xp: XPConfig = Field(default_factory=XPConfig)
    achievements: list[AchievementConfig] | None = Field(
        default=None, max_length=200, description="None: the built-in set; [] turns them off"
    )
    raid: RaidConfig = Field(default_factory=RaidConfig)

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
