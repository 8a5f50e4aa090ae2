"""Per-server configuration: a typed, versioned model with defaults and precise errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class XPConfig(_Section):
    """MEE6-style defaults: 15-25 XP a message, at most once a minute."""

    enabled: bool = True
    min_gain: int = Field(default=15, ge=0, le=10_000)
    max_gain: int = Field(default=25, ge=0, le=10_000)
    cooldown_seconds: int = Field(default=60, ge=0, le=86_400)
    curve: Literal["mee6", "linear", "flat"] = "mee6"
    no_xp_channel_ids: list[Snowflake] = Field(default_factory=list)
    no_xp_role_ids: list[Snowflake] = Field(default_factory=list)

    @model_validator(mode="after")
    def _range(self) -> XPConfig:
        if self.min_gain > self.max_gain:
            raise ValueError(f"min_gain ({self.min_gain}) exceeds max_gain ({self.max_gain})")
        return self


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
    raid: RaidConfig = Field(default_factory=RaidConfig)


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
