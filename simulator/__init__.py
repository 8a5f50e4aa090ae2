"""Local Discord API v10 simulator (REST + gateway) that the real discord.py can use."""

from .config import ChannelSpec, MemberSpec, RateLimitConfig, RoleSpec, SeedSpec, SimulatorConfig
from .discordpy import point_discord_py_at
from .errors import DiscordAPIError
from .faults import FaultRule
from .gateway import DispatchedEvent, ReceivedOp
from .intents import Intent
from .interactions import InteractionRecord, InteractionResponse
from .permissions import Perm
from .recorder import RecordedRequest
from .server import DiscordSimulator
from .snowflake import DISCORD_EPOCH_MS, SnowflakeGenerator, snowflake_time
from .world import World

__all__ = [
    "DISCORD_EPOCH_MS",
    "ChannelSpec",
    "DiscordAPIError",
    "DiscordSimulator",
    "DispatchedEvent",
    "FaultRule",
    "Intent",
    "InteractionRecord",
    "InteractionResponse",
    "MemberSpec",
    "Perm",
    "RateLimitConfig",
    "ReceivedOp",
    "RecordedRequest",
    "RoleSpec",
    "SeedSpec",
    "SimulatorConfig",
    "SnowflakeGenerator",
    "World",
    "point_discord_py_at",
    "snowflake_time",
]
