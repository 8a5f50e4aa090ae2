"""Per-guild compiled rules for the fast path, loaded from the database and kept fresh."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dcs.scam_snapshot import shipped_detector
from dcs.server_config import ConfigError, ServerConfig, default_server_config, parse_server_config
from domain.automod import AutomodRules, CompiledAutomod, compile_automod
from domain.automod_rules import ScamDetector
from gateway.scam_list import ScamListCache
from storage.servers import (
    VersionConflict,
    config_versions,
    ensure_server,
    get_server_config,
    put_server_config,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuildRules:
    """Everything the fast path needs for one guild, compiled once per config version."""

    guild_id: int
    version: int
    config: ServerConfig
    automod: CompiledAutomod


def automod_rules(config: ServerConfig) -> AutomodRules:
    """Translate the validated config section into the pure domain rules."""
    return config.automod.to_domain()


def compile_config(config: ServerConfig, detector: ScamDetector | None = None) -> CompiledAutomod:
    """The config's automod rules compiled for the fast path, with the scam-link detector.

    Without a detector passed in, the shipped snapshot's is used (dry runs, tests).
    """
    rules = automod_rules(config)
    needs_detector = any(rule.kind == "scam_links" for rule in rules.rules)
    if needs_detector and detector is None:
        detector = shipped_detector()
    return compile_automod(rules, scam_detector=detector if needs_detector else None)


def compile_guild_rules(
    guild_id: int, version: int, raw: dict | None, detector: ScamDetector | None = None
) -> GuildRules:
    """Compile a stored config; a bad stored config falls back to defaults, loudly."""
    try:
        config = parse_server_config(raw) if raw is not None else default_server_config()
    except ConfigError as exc:
        log.error("guild %s has an invalid stored config, using defaults: %s", guild_id, exc)
        config = default_server_config()
    automod = compile_config(config, detector)
    if automod.skipped:
        log.warning("guild %s: automod rules %s cannot run", guild_id, list(automod.skipped))
    return GuildRules(guild_id, version, config, automod)


class RulesCache:
    """Holds compiled rules per guild; `refresh` reloads only guilds whose version moved.

    Scam-link rules use the newest stored feed snapshot (else the shipped one); when the feed
    workflow stores a newer snapshot, every guild is recompiled with it.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._rules: dict[int, GuildRules] = {}
        self.scams = ScamListCache(sessions)

    def get(self, guild_id: int) -> GuildRules | None:
        """Compiled rules for a guild the gateway has seen."""
        return self._rules.get(guild_id)

    async def load(self, guild_id: int, name: str) -> GuildRules:
        """Register the guild (first sight) and compile its rules."""
        async with self._sessions() as session, session.begin():
            await ensure_server(session, guild_id, name)
            raw, version = await get_server_config(session, guild_id)
        rules = compile_guild_rules(guild_id, version, raw, self.scams.detector)
        self._rules[guild_id] = rules
        return rules

    async def seed(self, guild_id: int, config: dict[str, Any]) -> GuildRules:
        """Store a first config for a guild that has none (sandbox demo), then compile it."""
        async with self._sessions() as session, session.begin():
            try:
                version = await put_server_config(
                    session, guild_id, config, expected_version=0, changed_by="sandbox"
                )
            except VersionConflict:
                raw, version = await get_server_config(session, guild_id)
                config = raw or config
        rules = compile_guild_rules(guild_id, version, config, self.scams.detector)
        self._rules[guild_id] = rules
        return rules

    async def refresh(self) -> list[int]:
        """Recompile guilds whose stored config version (or the scam list) changed; their ids."""
        if not self._rules:
            return []
        new_scam_list = await self.scams.refresh()
        async with self._sessions() as session:
            versions = await config_versions(session, list(self._rules))
        changed = [g for g, v in versions.items() if new_scam_list or self._rules[g].version != v]
        for guild_id in changed:
            async with self._sessions() as session:
                raw, version = await get_server_config(session, guild_id)
            self._rules[guild_id] = compile_guild_rules(guild_id, version, raw, self.scams.detector)
        return changed
