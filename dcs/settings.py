"""Process settings: every secret and knob comes from the environment (or a .env file)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, NonNegativeFloat, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "changethis", "your-token-here", "xxx", "todo", "secret"}

AIProvider = Literal["anthropic", "openai", "gemini", "local"]


class Settings(BaseSettings):
    """All configuration the suite's processes read; names match the product spec's secrets."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,  # a rejected value may be a secret: never echo it
    )

    # Discord
    discord_bot_token: SecretStr | None = None
    discord_client_id: str | None = None
    discord_client_secret: SecretStr | None = None
    discord_api_url: str = Field(
        default="https://discord.com/api/v10",
        description="Discord REST base; in sandbox mode the simulator's URL is used instead.",
    )
    discord_oauth_redirect_url: str | None = Field(
        default=None,
        description="OAuth2 redirect URL registered with Discord (the API's /auth/discord/callback"
        "); None: derived from the login request's own URL.",
    )
    discord_oauth_authorize_url: str = Field(
        default="https://discord.com/oauth2/authorize",
        description="Discord's OAuth2 consent page; in sandbox mode the simulator's instead.",
    )
    oauth_token_days: int = Field(
        default=7, ge=1, le=365, description="Lifetime of API tokens issued by the OAuth2 login."
    )

    # AI providers
    ai_provider: AIProvider = "anthropic"
    anthropic_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    gemini_api_key: SecretStr | None = None
    anthropic_model: str = "claude-3-5-haiku-latest"
    openai_model: str = "gpt-4o-mini"
    gemini_model: str = "gemini-2.0-flash"
    anthropic_base_url: str | None = None  # None: the SDK's default (api.anthropic.com)
    openai_base_url: str | None = None  # None: the SDK's default (api.openai.com/v1)
    gemini_base_url: str | None = None  # None: the SDK's default (generativelanguage...)
    ai_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Per-request timeout of one AI provider call."
    )
    ai_max_retries: int = Field(
        default=1, ge=0, le=3, description="SDK retries per provider before falling through."
    )
    ai_prices: dict[str, tuple[NonNegativeFloat, NonNegativeFloat]] = Field(
        default_factory=dict,
        description='USD per million tokens per model, JSON {"model": [input, output]}; over '
        "the built-in table (domain/ai_cost.py). A model in neither is counted at cost 0.",
    )

    # Telegram approvals
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Telegram Bot API base (a local Bot API server, or the sandbox's fake one).",
    )
    telegram_sandbox_port: int = Field(
        default=8766,
        description="Sandbox mode without TELEGRAM_BOT_TOKEN: where the local Telegram listens.",
    )

    webhook_secret: SecretStr | None = None
    discord_public_key: str | None = Field(
        default=None,
        description="Application public key (hex); unset answers POST /discord/webhook with 503.",
    )
    interactions_relay_host: str = Field(
        default="127.0.0.1",
        description="Where the gateway listens for the HTTP interactions the API relays to it.",
    )
    interactions_relay_port: int = Field(
        default=8767, ge=0, le=65535, description="Port of the gateway's relay (0: off)."
    )
    interactions_relay_url: str | None = Field(
        default=None,
        description="Where the API reaches the relay (default http://RELAY_HOST:RELAY_PORT).",
    )
    interactions_relay_urls: str | None = Field(
        default=None,
        description="The relay of each gateway shard group, read by the API: "
        '"0-1=http://gateway-0:8767,2-3=http://gateway-1:8767" (a guild\'s interactions go to '
        "its shard's group, direct messages to shard 0's); needs DISCORD_SHARD_COUNT and must "
        "cover every shard once. Replaces INTERACTIONS_RELAY_URL.",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Let outgoing webhooks reach loopback/private addresses (tests, LAN services).",
    )
    api_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="Requests per minute per API token (viewer, moderator)."
    )
    api_rate_limit_admin_per_minute: int = Field(
        default=300, ge=1, description="Requests per minute per admin API token."
    )
    api_auth_failure_alert_threshold: int = Field(
        default=20, ge=1, description="Failed authentications per client IP in 10 min that alert."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Storage and Temporal
    database_url: str = "sqlite+aiosqlite:///data/dcs.db"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "dcs-main"
    temporal_start_dev_server: bool = Field(
        default=True,
        description="Start `temporal server start-dev` when TEMPORAL_ADDRESS is local and free.",
    )
    temporal_ui_port: int = 8233
    data_dir: Path = Path("data")

    # Processes
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="API worker processes (0: one per CPU); rate limits are per worker.",
    )
    api_token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long an API process trusts a looked-up token (0: read it every request).",
    )
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8765
    discord_shard_count: int | None = Field(
        default=None,
        description="Total gateway shards of the bot across all gateway processes (unset: one "
        "unsharded connection, fine up to Discord's 2,500 servers per shard).",
    )
    discord_shard_ids: str | None = Field(
        default=None,
        description='Shards this gateway process connects, "0,1" or "0-3" (unset: all of '
        "DISCORD_SHARD_COUNT); needs DISCORD_SHARD_COUNT.",
    )
    gateway_priority_dispatch: bool = Field(
        default=True,
        description="Queue messages ahead of reactions and voice when the gateway falls behind.",
    )

    # Scam-link list: the shipped snapshot until the feed's first refresh lands
    scam_feed_url: str = Field(
        default="https://raw.githubusercontent.com/nikolaischunk/discord-phishing-links/main/domain-list.json",
        description="JSON list, {'domains': [...]} or one domain a line; empty turns refresh off.",
    )
    scam_feed_refresh_hours: float = Field(default=6.0, gt=0, le=24 * 7)

    # Retention (maintenance:retention): members' words, then moderation-log details, are erased
    retention_message_days: int = Field(default=30, ge=1, le=3650)
    retention_log_days: int = Field(default=90, ge=1, le=3650)

    # Encryption at rest of members' free text (storage.crypto); unset: plaintext
    data_encryption_keys: SecretStr | None = Field(
        default=None, description="Comma-separated Fernet keys; the first encrypts, all decrypt."
    )
    data_encryption_key: SecretStr | None = Field(
        default=None, description="One Fernet key (DATA_ENCRYPTION_KEYS wins when both are set)."
    )

    # Monitoring (dcs.metrics): Prometheus endpoints of each process
    metrics_api_enabled: bool = Field(
        default=True, description="Serve GET /metrics on the API (false: 404)."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, GET /metrics requires `Authorization: Bearer ...`."
    )
    metrics_port_worker: int = Field(
        default=0, ge=0, le=65535, description="Worker's Prometheus port (0: off)."
    )
    metrics_port_gateway: int = Field(
        default=0, ge=0, le=65535, description="Gateway's Prometheus port (0: off)."
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's and gateway's metrics bind to."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "discord_bot_token",
        "discord_client_secret",
        "anthropic_api_key",
        "openai_api_key",
        "gemini_api_key",
        "telegram_bot_token",
        "webhook_secret",
        "metrics_token",
        "data_encryption_keys",
        "data_encryption_key",
        mode="before",
    )
    @classmethod
    def _refuse_placeholders(cls, value: object) -> object:
        """An empty string means unset; an obvious placeholder is a mistake worth stopping for."""
        if isinstance(value, str):
            if not value.strip():
                return None
            if value.strip().lower() in _PLACEHOLDERS:
                raise ValueError("looks like a placeholder, not a real secret")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @field_validator("data_encryption_keys", "data_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        from storage.crypto import parse_keys

        if value is not None:
            parse_keys(value.get_secret_value())  # the message never contains the key
        return value

    def encryption_keys(self) -> list[str]:
        """The data keys, encrypting key first; empty when encryption at rest is off."""
        from storage.crypto import parse_keys

        raw = self.data_encryption_keys or self.data_encryption_key
        return parse_keys(raw.get_secret_value() if raw else None)

    @field_validator(
        "discord_shard_count",
        "discord_shard_ids",
        "interactions_relay_urls",
        "telegram_chat_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _valid_shards(self) -> Settings:
        """Refuse a shard layout discord.py would connect wrongly (or Discord would close)."""
        count = self.discord_shard_count
        if count is not None and count < 1:
            raise ValueError(f"DISCORD_SHARD_COUNT must be at least 1, not {count}")
        if self.discord_shard_ids is not None:
            if count is None:
                raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total shards)")
            parse_shard_ids(self.discord_shard_ids, count)
        if self.interactions_relay_urls is not None:
            if count is None:
                raise ValueError(
                    "INTERACTIONS_RELAY_URLS needs DISCORD_SHARD_COUNT (the total shards its "
                    "groups cover)"
                )
            if self.interactions_relay_url:
                raise ValueError(
                    "set INTERACTIONS_RELAY_URLS (one relay per shard group) or "
                    "INTERACTIONS_RELAY_URL (one gateway process), not both"
                )
            parse_relay_urls(self.interactions_relay_urls, count)
        return self

    @property
    def shard_ids(self) -> list[int] | None:
        """Shard ids of this process, ascending (None: unsharded, or every shard of the count)."""
        if self.discord_shard_ids is None or self.discord_shard_count is None:
            return None
        return parse_shard_ids(self.discord_shard_ids, self.discord_shard_count)

    @model_validator(mode="after")
    def _telegram_pair(self) -> Settings:
        if (self.telegram_bot_token is None) != (self.telegram_chat_id is None):
            raise ValueError("TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID must be set together")
        return self

    @property
    def sandbox(self) -> bool:
        """Without a bot token the suite talks to the local Discord simulator."""
        return self.discord_bot_token is None

    @property
    def sandbox_url(self) -> str:
        """Where the simulator listens in sandbox mode."""
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def interactions_relay_base(self) -> str | None:
        """Where the API forwards Discord HTTP interactions to the gateway (None: relay off)."""
        if self.interactions_relay_url:
            return self.interactions_relay_url.rstrip("/")
        if self.interactions_relay_port == 0:
            return None
        host = self.interactions_relay_host
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
        return f"http://{host}:{self.interactions_relay_port}"

    @property
    def interactions_relay_routes(self) -> RelayRoutes | None:
        """The relay of each shard group (INTERACTIONS_RELAY_URLS); None: one relay, or off."""
        if self.interactions_relay_urls is None or self.discord_shard_count is None:
            return None
        return parse_relay_urls(self.interactions_relay_urls, self.discord_shard_count)

    @property
    def effective_discord_api_url(self) -> str:
        """REST base the gateway and activities use."""
        return f"{self.sandbox_url}/api/v10" if self.sandbox else self.discord_api_url

    @property
    def effective_oauth_authorize_url(self) -> str:
        """Discord's OAuth2 consent page (the simulator's in sandbox mode)."""
        return (
            f"{self.sandbox_url}/oauth2/authorize"
            if self.sandbox
            else (self.discord_oauth_authorize_url)
        )

    @property
    def bot_token(self) -> str:
        """Token presented to Discord (any token works against the simulator)."""
        if self.discord_bot_token is None:
            return "sandbox-token"
        return self.discord_bot_token.get_secret_value()


def parse_shard_ids(spec: str, count: int) -> list[int]:
    """DISCORD_SHARD_IDS ("0,1", "0-3", "0-1,4") as sorted ids, each in 0..count-1 and once.

    Anything else raises ValueError with a message naming the variable and the bad part.
    """
    ids: list[int] = []
    for part in spec.split(","):
        item = part.strip()
        first, dash, last = item.partition("-")
        if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
            raise ValueError(
                f'DISCORD_SHARD_IDS: {item!r} is not a shard id or a range like "0-3"'
                ' (expected e.g. "0,1" or "0-3")'
            )
        low = int(first)
        high = int(last) if dash else low
        if high < low:
            raise ValueError(f"DISCORD_SHARD_IDS: range {item!r} runs backwards")
        if high >= count:
            raise ValueError(
                f"DISCORD_SHARD_IDS: {item!r} names shard {high}, outside 0..{count - 1}"
                f" (DISCORD_SHARD_COUNT={count})"
            )
        ids.extend(range(low, high + 1))
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"DISCORD_SHARD_IDS: shard ids {repeated} are listed more than once")
    return sorted(ids)


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord delivers a guild's events on; direct messages (no guild) come on 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class RelayRoutes:
    """Where the API relays an HTTP interaction: the relay URL of each shard, by shard id."""

    urls: tuple[str, ...]

    @property
    def shard_count(self) -> int:
        """DISCORD_SHARD_COUNT the routes were made for."""
        return len(self.urls)

    def shard_of(self, guild_id: int | None) -> int:
        """The shard Discord delivers the guild's events on (direct messages: shard 0)."""
        return shard_of(guild_id, self.shard_count)

    def url_for(self, guild_id: int | None) -> str:
        """The relay of the process connected to the guild's shard."""
        return self.urls[self.shard_of(guild_id)]


_SHARD_RANGE = re.compile(r"\s*\d+\s*(?:-\s*\d+\s*)?")


def _relay_url(shards: str, url: str) -> str:
    """A relay base URL: http(s), a host, an optional port and path, nothing else.

    Errors name the entry by its shards, never the URL (which might carry credentials).
    """
    where = f"INTERACTIONS_RELAY_URLS: the relay of shards {shards.strip()!r}"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(
            f"{where} is not an http(s) URL with a host and a valid port"
            ' (expected e.g. "0-1=http://gateway-0:8767")'
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{where} has a query, fragment or credentials; a relay URL takes none")
    return url.rstrip("/")


def parse_relay_urls(spec: str, count: int) -> RelayRoutes:
    """INTERACTIONS_RELAY_URLS ("0-1=http://gateway-0:8767,2-3=http://gateway-1:8767").

    Comma-separated `SHARDS=URL` entries, SHARDS a shard id or a range "a-b" of 0..count-1 (give a
    group with scattered shards one entry per range, with the same URL). Every shard must have
    exactly one relay; anything else raises ValueError naming the variable and the problem.
    """
    owner: dict[int, str] = {}
    for part in spec.split(","):
        item = part.strip()
        shards, eq, url = item.partition("=")
        if not eq or not shards.strip() or not url.strip():
            raise ValueError(
                f'INTERACTIONS_RELAY_URLS: {item.partition("=")[0]!r} is not "SHARDS=URL": one '
                "entry per shard id or range, comma-separated"
                ' (expected e.g. "0-1=http://gateway-0:8767,2-3=http://gateway-1:8767")'
            )
        if not _SHARD_RANGE.fullmatch(shards):
            raise ValueError(
                f"INTERACTIONS_RELAY_URLS: {shards.strip()!r} is not a shard id or "
                'a range like "0-1"'
            )
        try:
            ids = parse_shard_ids(shards, count)
        except ValueError as exc:
            raise ValueError(
                str(exc).replace("DISCORD_SHARD_IDS: ", "INTERACTIONS_RELAY_URLS: ", 1)
            ) from None
        base = _relay_url(shards, url.strip())
        for shard in ids:
            if shard in owner:
                raise ValueError(
                    f"INTERACTIONS_RELAY_URLS: shard {shard} is given two relays "
                    f"({owner[shard]} and {base}); each shard belongs to one group"
                )
            owner[shard] = base
    missing = [shard for shard in range(count) if shard not in owner]
    if missing:
        raise ValueError(
            f"INTERACTIONS_RELAY_URLS: shards {missing} of {count} have no relay "
            f"(DISCORD_SHARD_COUNT={count}: every shard 0..{count - 1} needs one)"
        )
    return RelayRoutes(tuple(owner[shard] for shard in range(count)))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; overrides win (tests and the CLI use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
