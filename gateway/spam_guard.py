"""Spam and raid detection on the gateway's fast path (issue #4, first integration step).

Per guild, one :class:`domain.spam.SpamTracker` and one :class:`domain.raid.RaidDetector`,
built from the guild's config (``raid.preset`` picks both presets for now; the raid section's
numbers are passed only where a server changed them, so a preset's own numbers stand
otherwise). Both are rebuilt, losing their windows, when those settings change.

* :meth:`SpamGuard.on_message` (after automod, for messages automod did not delete): a verdict
  deletes the flagged messages, reports the offence to the member's moderation workflow
  (``spam:{message_id}``, as automod reports) and, when it says so, alerts the mod-log channel
  (at most once a minute per guild).
* :meth:`SpamGuard.on_member_join`: a raid-level signal starts the guild's lockdown workflow
  (`raid:{guild}`, through :class:`gateway.raid_link.RaidLink`) and feeds it the suspects; with
  automatic lockdown off it posts one mod-log alert per episode instead.

Detection is synchronous and in-process; only the actions it calls for touch the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import discord

from dcs.server_config import RaidConfig, ServerConfig
from dcs.spam_model import shipped_model
from domain.automod import MessageSnapshot
from domain.cases import Violation
from domain.raid import JoinEvent, RaidDetector, RaidRules, RaidSignal, message_key
from domain.spam import Preset, SpamMessage, SpamRules, SpamTracker, SpamVerdict
from gateway.raid_link import RaidLink

log = logging.getLogger(__name__)

ALERT_COOLDOWN_SECONDS = 60.0
"""Spam alerts to one guild's mod-log: at most one per this many seconds."""
MAX_SEEN_POSTERS = 100_000
"""Members remembered per guild as having posted (oldest forgotten first)."""
BULK_LIMIT = 100
"""Discord's bulk delete takes 2 to 100 messages (all younger than 14 days: spam is fresh)."""
SPAM_COLOUR = 0xE67E22
RAID_COLOUR = 0xC0392B
_RAID_DEFAULTS = {
    name: RaidConfig.model_fields[name].default
    for name in ("join_threshold", "window_seconds", "new_account_hours")
}


class GuardHost(Protocol):
    """What the guard needs of the bot (SuiteBot provides it)."""

    def get_channel(self, channel_id: int, /) -> Any:
        """A cached channel by id."""
        ...

    def guild_config(self, guild_id: int) -> ServerConfig:
        """The guild's config as the fast path sees it."""
        ...

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...

    async def _report(self, violation: Violation) -> None: ...

    @property
    def raid_link(self) -> RaidLink:
        """Hands raid signals to the guild's lockdown workflow."""
        ...


def spam_preset(config: ServerConfig) -> Preset:
    """The guild's spam preset: its own, else the raid preset."""
    return config.spam.preset or config.raid.preset


def spam_rules(config: ServerConfig) -> SpamRules:
    """The guild's spam thresholds."""
    return SpamRules.preset(spam_preset(config))


def raid_rules(config: ServerConfig) -> RaidRules:
    """The guild's raid thresholds: the preset, with the numbers the server changed."""
    raid = config.raid
    changed = {
        name: getattr(raid, name)
        for name, default in _RAID_DEFAULTS.items()
        if getattr(raid, name) != default
    }
    return RaidRules.from_preset(raid.preset, **changed)


def _raid_key(config: ServerConfig) -> tuple[object, ...]:
    raid = config.raid
    return (raid.preset, raid.join_threshold, raid.window_seconds, raid.new_account_hours)


@dataclass
class _GuildGuard:
    """One guild's detectors and the little state the gateway keeps around them."""

    spam_preset: str
    tracker: SpamTracker
    raid_key: tuple[object, ...]
    raid: RaidDetector
    seen: dict[int, None] = field(default_factory=dict)
    """Members seen posting, oldest first (a bounded, insertion-ordered set)."""
    last_alert: float = float("-inf")
    raid_alerted: bool = False


def _exempt(message: discord.Message) -> bool:
    """Bots, and members who may manage messages where they post (or administer the server)."""
    author = message.author
    if author.bot:
        return True
    if not isinstance(author, discord.Member):
        return False
    channel = message.channel
    if hasattr(channel, "permissions_for"):
        perms = channel.permissions_for(author)
    else:
        perms = author.guild_permissions
    return perms.manage_messages or perms.administrator


class SpamGuard:
    """The per-guild spam trackers and raid detectors of one gateway process."""

    def __init__(self, bot: GuardHost, *, clock: Any = time.time) -> None:
        self.bot = bot
        self.clock = clock
        self.started_at = datetime.now(UTC)
        self._guilds: dict[int, _GuildGuard] = {}
        self.verdicts = 0
        self.lockdowns: set[int] = set()
        """Guilds whose lockdown workflow is running (kept by the raid wiring)."""
        self.raid_signals: list[RaidSignal] = []
        """Raid-level signals seen (most recent last, a few kept), for logs and tests."""

    # -- state per guild ------------------------------------------------------------------

    def _guard(self, guild_id: int, config: ServerConfig) -> _GuildGuard:
        """The guild's detectors, rebuilt when the settings they were built from changed."""
        guard = self._guilds.get(guild_id)
        preset = spam_preset(config)
        if guard is None:
            key = _raid_key(config)
            guard = _GuildGuard(
                preset,
                SpamTracker(spam_rules(config), text_model=shipped_model()),
                key,
                RaidDetector(raid_rules(config)),
            )
            self._guilds[guild_id] = guard
            return guard
        if guard.spam_preset != preset:
            guard.spam_preset = preset
            guard.tracker = SpamTracker(spam_rules(config), text_model=shipped_model())
        return guard

    def _raid_guard(self, guild_id: int, config: ServerConfig) -> _GuildGuard:
        guard = self._guard(guild_id, config)
        key = _raid_key(config)
        if guard.raid_key != key:
            guard.raid_key = key
            guard.raid = RaidDetector(raid_rules(config))
            guard.raid_alerted = False
        return guard

    def raid_active(self, guild_id: int) -> bool:
        """Whether the guild is under a raid as the fast path sees it (detector or lockdown)."""
        guard = self._guilds.get(guild_id)
        detected = guard is not None and guard.raid.level != "none"
        return detected or guild_id in self.lockdowns

    def forget_guild(self, guild_id: int) -> None:
        """Drop a guild's state (the bot left it)."""
        self._guilds.pop(guild_id, None)

    def _first_message(self, guard: _GuildGuard, member: discord.abc.User) -> bool:
        """Whether this is the member's first message in the server, as far as we can tell.

        Only members who joined while this process was watching qualify: after a restart
        everyone is unseen, and an old member's message is not a newcomer's first one.
        """
        seen = guard.seen
        if member.id in seen:
            return False
        seen[member.id] = None
        if len(seen) > MAX_SEEN_POSTERS:
            del seen[next(iter(seen))]
        joined = getattr(member, "joined_at", None)
        return joined is not None and joined >= self.started_at

    # -- messages -------------------------------------------------------------------------

    async def on_message(
        self, message: discord.Message, snapshot: MessageSnapshot, config: ServerConfig
    ) -> bool:
        """Judge a message; True when it was flagged and deleted (it earns no XP then)."""
        if _exempt(message) or not config.spam.enabled:
            return False
        now = self.clock()
        try:
            guard = self._guard(snapshot.guild_id, config)
            first = self._first_message(guard, message.author)
            spam = SpamMessage.from_snapshot(snapshot, message.id, first_message=first)
            verdict = guard.tracker.observe(spam, now)
            self._observe_raid_message(guard, message, config)
        except Exception:  # a detector bug must not take XP and the rest down with it
            log.exception("spam detection failed for message %s", message.id)
            return False
        if verdict is None:
            return False
        self.verdicts += 1
        await self._act(message, verdict, config, guard, now)
        return verdict.deletes

    def _observe_raid_message(
        self, guard: _GuildGuard, message: discord.Message, config: ServerConfig
    ) -> None:
        """Recently joined members' messages feed the raid detector (message raids)."""
        joined = getattr(message.author, "joined_at", None)
        if joined is None or message.guild is None:
            return
        now = datetime.now(UTC)
        if now - joined > timedelta(hours=guard.raid.rules.message_member_hours):
            return  # most messages: long-standing members are no message raiders
        detector = self._raid_guard(message.guild.id, config).raid
        signal = detector.observe_message(
            message.author.id, message_key(message.content), joined, now
        )
        self._after_raid_observe(message.guild.id, guard, signal, config)

    async def _act(
        self,
        message: discord.Message,
        verdict: SpamVerdict,
        config: ServerConfig,
        guard: _GuildGuard,
        now: float,
    ) -> None:
        """Delete now, report, then alert off the hot path."""
        if verdict.delete_ids:
            await self._delete(message, verdict.delete_ids)
        violation = violation_of_spam(message, verdict, config)
        if violation is not None:
            await self.bot._report(violation)
        if verdict.alert and now - guard.last_alert >= ALERT_COOLDOWN_SECONDS:
            guard.last_alert = now
            self.bot._spawn(self._spam_alert(message, verdict, config))
        log.info(
            "spam in guild %s by %s: %s (%d deleted)",
            verdict.guild_id,
            verdict.author_id,
            verdict.reason,
            len(verdict.delete_ids),
        )

    async def _delete(self, message: discord.Message, ids: tuple[tuple[int, int], ...]) -> None:
        """Delete per channel: the bulk endpoint for two or more, else one by one."""
        by_channel: dict[int, list[int]] = {}
        for channel_id, message_id in ids:
            by_channel.setdefault(channel_id, []).append(message_id)
        for channel_id, message_ids in by_channel.items():
            channel = (
                message.channel if channel_id == message.channel.id
                else self.bot.get_channel(channel_id)
            )  # fmt: skip
            if channel is None or not hasattr(channel, "get_partial_message"):
                log.info("channel %s not visible; spam left there", channel_id)
                continue
            try:
                if 2 <= len(message_ids) <= BULK_LIMIT and hasattr(channel, "delete_messages"):
                    try:
                        await channel.delete_messages([discord.Object(i) for i in message_ids])
                        continue
                    except discord.NotFound:
                        pass  # one was already gone: delete the rest one by one
                for message_id in message_ids:
                    try:
                        await channel.get_partial_message(message_id).delete()
                    except discord.NotFound:
                        pass
            except discord.Forbidden:
                log.warning("missing permission to delete spam in channel %s", channel_id)
            except discord.HTTPException as exc:
                log.warning("could not delete spam in channel %s: %s", channel_id, exc)

    async def _spam_alert(
        self, message: discord.Message, verdict: SpamVerdict, config: ServerConfig
    ) -> None:
        embed = discord.Embed(title="Spam alert", description=verdict.reason, colour=SPAM_COLOUR)
        embed.add_field(name="Member", value=f"{message.author.mention} ({message.author.id})")
        embed.add_field(name="Channel", value=f"<#{verdict.channel_id}>")
        embed.add_field(name="Deleted", value=str(len(verdict.delete_ids)))
        if verdict.timeout_minutes:
            embed.add_field(name="Timeout", value=f"{verdict.timeout_minutes} min")
        if verdict.raid_member_ids:
            embed.add_field(name="Members posting it", value=str(len(verdict.raid_member_ids)))
        embed.set_footer(text=f"offence level {verdict.offence_level}")
        await self._post_mod_log(config, embed)

    # -- joins ----------------------------------------------------------------------------

    def on_member_join(self, member: discord.Member) -> RaidSignal | None:
        """Feed the join to the guild's raid detector; a raid-level signal alerts the mods.

        The join is timed on arrival, not by Discord's ``joined_at``: a clock apart from
        Discord's would otherwise push every join out of (or into) the windows.
        """
        if member.bot:
            return None
        guild_id = member.guild.id
        config = self.bot.guild_config(guild_id)
        now = datetime.now(UTC)
        event = JoinEvent(
            user_id=member.id,
            joined_at=now,
            account_created_at=member.created_at,
            username=member.name,
            has_default_avatar=member.avatar is None,
            invite_code=None,  # the invite tracker reads invites by REST, too late for this
        )
        try:
            guard = self._raid_guard(guild_id, config)
            signal = guard.raid.observe_join(event, now)
            self._after_raid_observe(guild_id, guard, signal, config)
        except Exception:  # the join's other handling (sanctions, invites, roles) goes on
            log.exception("raid detection failed for member %s", member.id)
            return None
        return signal

    def _after_raid_observe(
        self, guild_id: int, guard: _GuildGuard, signal: RaidSignal | None, config: ServerConfig
    ) -> None:
        """Start (or feed) the lockdown; alert once per episode; a calm detector ends it."""
        if guard.raid.level == "none":
            guard.raid_alerted = False
            return
        link = self.bot.raid_link
        link.on_activity(guild_id)
        auto = config.raid.lockdown.auto
        if signal is not None and signal.level == "raid":
            link.on_raid_signal(guild_id, signal, config)
        if signal is None or signal.level != "raid" or guard.raid_alerted:
            return
        guard.raid_alerted = True
        self.raid_signals = [*self.raid_signals[-9:], signal]
        log.warning(
            "raid in guild %s (%s): %s; %d suspects",
            guild_id,
            signal.kind,
            "; ".join(signal.reasons),
            len(signal.suspects),
        )
        if not auto:  # a lockdown alerts the staff itself, in Discord and on Telegram
            self.bot._spawn(self._raid_alert(signal, config))

    async def _raid_alert(self, signal: RaidSignal, config: ServerConfig) -> None:
        embed = discord.Embed(
            title=f"Raid alert: level {signal.level}",
            description="\n".join(signal.reasons)[:4000],
            colour=RAID_COLOUR,
        )
        embed.add_field(name="Suspects", value=str(len(signal.suspects)))
        embed.add_field(name="Detected from", value=f"{signal.kind}s")
        embed.set_footer(
            text="Automatic lockdown is off: /lockdown starts one; review the new members."
        )
        await self._post_mod_log(config, embed)

    async def _post_mod_log(self, config: ServerConfig, embed: discord.Embed) -> None:
        """Post to the mod-log channel; a server without one (or a refusal) is only logged."""
        if config.mod_log_channel_id is None:
            return
        channel = self.bot.get_channel(config.mod_log_channel_id)
        if channel is None or not hasattr(channel, "send"):
            log.info("mod-log channel %s not visible; alert dropped", config.mod_log_channel_id)
            return
        try:
            await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("could not post to mod-log %s: %s", config.mod_log_channel_id, exc)


def violation_of_spam(
    message: discord.Message, verdict: SpamVerdict, config: ServerConfig
) -> Violation | None:
    """The report for a spam verdict; None within an ongoing burst (no new offence)."""
    if verdict.strike_weight == 0 and verdict.timeout_minutes == 0:
        return None
    timeout = verdict.timeout_minutes > 0
    return Violation(
        guild_id=verdict.guild_id,
        user_id=verdict.author_id,
        source_key=f"spam:{message.id}",
        source="spam",
        action="timeout" if timeout else "delete",
        reason=verdict.reason,
        occurred_at=message.created_at.astimezone(UTC),
        rule=",".join(dict.fromkeys(verdict.kinds)),
        points=verdict.strike_weight,
        channel_id=verdict.channel_id,
        message_id=message.id,
        excerpt=message.content[:200] or None,
        mod_log_channel_id=config.mod_log_channel_id,
        duration_minutes=verdict.timeout_minutes if timeout else None,
        explicit=timeout,
    )
