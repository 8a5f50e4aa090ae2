"""Activity: a server's moderation policy, read from its config for every report it handles."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from dcs.server_config import ConfigError, ServerConfig, default_server_config, parse_server_config
from domain.ladder import LadderRung, ModerationPolicy
from storage.servers import get_server_config


def policy_from_config(config: ServerConfig) -> ModerationPolicy:
    """The parts of a server's config the moderation workflow works with."""
    esc, appr, mod = config.escalation, config.approvals, config.moderation
    return ModerationPolicy(
        ladder=tuple(LadderRung(s.points, s.action, s.duration_minutes) for s in esc.steps),
        strike_decay_days=esc.strike_decay_days,
        sensitive_actions=tuple(appr.sensitive_actions),
        approval_timeout_minutes=appr.timeout_minutes,
        timeout_policy=appr.timeout_policy,
        fallback_action=appr.fallback_action,
        fallback_duration_minutes=appr.fallback_duration_minutes,
        alert_after_minutes=mod.alert_after_minutes,
        dm_members=mod.dm_members,
        appeals_enabled=mod.appeals_enabled,
        mod_log_channel_id=config.mod_log_channel_id,
        rules=config.rules,
        culture=config.culture,
        tier=config.tier,
        language=config.language,
    )


class ModerationPolicyActivities:
    """Reads the server's config; a missing or (somehow) invalid stored config means defaults."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="load_moderation_policy")
    async def load_moderation_policy(self, guild_id: int) -> ModerationPolicy:
        """The guild's current moderation policy."""
        async with self._sessions() as session:
            raw, _version = await get_server_config(session, guild_id)
        if raw is None:
            return policy_from_config(default_server_config())
        try:
            return policy_from_config(parse_server_config(raw))
        except ConfigError as exc:  # validated on write; a stored bad config is a bug to see
            activity.logger.warning("guild %s has an invalid stored config: %s", guild_id, exc)
            return policy_from_config(default_server_config())
