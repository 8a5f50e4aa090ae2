"""The discord.py client: thin listeners that snapshot, ask the domain, then act or signal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC
from typing import Any, cast

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import Priority

from dcs import metrics
from dcs.self_check import SelfCheck
from dcs.server_config import ServerConfig, default_server_config
from domain.analytics import JOINS, LEAVES, MESSAGES
from domain.automod import MessageSnapshot
from domain.cases import Violation, violation_from_json, violation_to_json
from domain.priority import HIGH, report_priority
from domain.xp_tracker import XPAward
from gateway import support_ai, verification
from gateway.analytics_counters import AnalyticsCounters
from gateway.anti_nuke import AntiNukeGuard
from gateway.automod_actions import perform, snapshot_of
from gateway.command_limits import SuiteCommandTree
from gateway.commands import register as register_commands
from gateway.dispatch import EVENT_PRIORITY, PriorityDispatch
from gateway.engagement import Earned, EngagementService
from gateway.event_link import EventLink
from gateway.event_sync import EventSync
from gateway.faq import FaqService
from gateway.guild_rules import GuildRules, RulesCache
from gateway.intents import suite_intents
from gateway.invites import InviteTracker
from gateway.moderation_events import ModerationEvents
from gateway.payload_guard import PayloadGuard
from gateway.raid_link import RaidLink
from gateway.rewards import announce_earned, announce_level_up, sync_reward_roles
from gateway.sandbox import sandbox_config
from gateway.spam_guard import SpamGuard
from gateway.ticket_link import TicketLink
from gateway.tiers import TierGuard
from gateway.voice_xp import run_voice_ticker
from storage import outbox
from storage.health import heartbeat_key, write_heartbeats
from storage.levels import get_member_level, member_rank
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id

log = logging.getLogger(__name__)

CONFIG_REFRESH_SECONDS = 5.0
SIGNAL_ATTEMPTS = 3
OUTBOX_RETRY_SECONDS = 5.0
REPORT = "moderation.report"


class SuiteBot(discord.Client):
    """The suite's gateway process."""

    def __init__(
        self,
        *,
        temporal: Client,
        task_queue: str,
        sessions: async_sessionmaker[AsyncSession],
        sandbox: bool = False,
        priority_dispatch: bool = True,
        **options: object,
    ) -> None:
        super().__init__(intents=suite_intents(), **options)  # type: ignore[arg-type]
        self.temporal = temporal
        self.task_queue = task_queue
        self.sandbox = sandbox
        self.sessions = sessions
        self.self_check: SelfCheck | None = None
        self.rules = RulesCache(sessions)
        self.engagement = EngagementService(sessions, self._config_of, self._on_earned)
        self.analytics = AnalyticsCounters(sessions)  # messages, joins, leaves, FAQ hits
        self.payload_guard = PayloadGuard()
        self.payload_guard.install(self)
        self.tree: SuiteCommandTree = SuiteCommandTree(self)  # rate limits every command
        register_commands(self.tree)
        self.handled = 0
        self._background: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._role_locks: dict[tuple[int, int], asyncio.Lock] = {}
        self.invites = InviteTracker()
        self.moderation = ModerationEvents(self)
        self.spam_guard = SpamGuard(self)
        self.raid_link = RaidLink(self, self.spam_guard.lockdowns)
        self.dispatcher = PriorityDispatch()
        self.priority_dispatch = priority_dispatch
        """Off: every event runs at once, first come first served (discord.py's own way)."""
        self.anti_nuke = AntiNukeGuard(self)
        self.event_link = EventLink(self)
        self.event_sync = EventSync(self)
        self.faq = FaqService(self)
        self.tickets = TicketLink(self)
        self.tiers = TierGuard(self)  # member counts, owners, over-limit pauses, notices

    def _schedule_event(
        self,
        coro: Callable[..., Coroutine[Any, Any, Any]],
        event_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        """High events start at once; medium and low ones queue by priority (gateway.dispatch)."""
        level = EVENT_PRIORITY.get(event_name, HIGH)
        if level == HIGH or not self.dispatcher.running:
            return super()._schedule_event(coro, event_name, *args, **kwargs)
        done: asyncio.Future[None] = self.loop.create_future()

        async def job() -> None:
            try:
                await self._run_event(coro, event_name, *args, **kwargs)
            finally:
                if not done.done():
                    done.set_result(None)

        self.dispatcher.submit(level, job)
        metrics.EVENT_BACKLOG.set(self.dispatcher.backlog())
        return cast("asyncio.Task[Any]", done)  # dispatch() ignores it; a future stands in

    async def _run_event(
        self,
        coro: Callable[..., Coroutine[Any, Any, Any]],
        event_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Every handler runs here, at once or from the queue: count and time it (dcs.metrics)."""
        with metrics.observe_event(event_name):
            await super()._run_event(coro, event_name, *args, **kwargs)
        if self.dispatcher.running:
            metrics.EVENT_BACKLOG.set(self.dispatcher.backlog())

    def self_checker(self) -> SelfCheck:
        """The /selfcheck service, built on first use from the settings (tests set their own)."""
        if self.self_check is None:
            from dcs.settings import load_settings

            async def temporal() -> Client:
                return self.temporal

            self.self_check = SelfCheck(load_settings(), self.sessions, temporal)
        return self.self_check

    def gateway_connected(self) -> bool:
        """Logged in with a live gateway session (the heartbeat the health checks read)."""
        return self.is_ready() and not self.is_closed() and self.latency != float("inf")

    async def setup_hook(self) -> None:
        """Start the config refresher and the XP flusher; publish the slash commands."""
        if self.priority_dispatch:
            self.dispatcher.start()
        self._background = [
            asyncio.create_task(self._refresh_loop()),
            asyncio.create_task(self.engagement.run_flusher()),
            asyncio.create_task(self.analytics.run_flusher()),
            asyncio.create_task(run_voice_ticker(self)),
            asyncio.create_task(self._outbox_loop()),
            asyncio.create_task(self.raid_link.run_flusher()),
            asyncio.create_task(self.event_link.run_flusher()),
            asyncio.create_task(self.tickets.run()),
            asyncio.create_task(self.tiers.run()),
            asyncio.create_task(self.faq.load_models()),  # in a thread; BM25 answers meanwhile
            asyncio.create_task(
                write_heartbeats(self.sessions, self.gateway_connected, key=self.heartbeat_key())
            ),
        ]
        if not self.publishes_commands():
            return  # another shard group's process publishes them (one PUT, not one per group)
        try:
            await self.tree.sync()
        except discord.HTTPException:
            log.exception("could not sync slash commands; they keep their previous definitions")

    def heartbeat_key(self) -> str:
        """The heartbeat row of this process: `gateway`, or `gateway:4:0-1` for a shard group."""
        ids: list[int] | None = getattr(self, "shard_ids", None)  # AutoShardedClient's
        if ids is None and self.shard_id is not None:
            ids = [self.shard_id]
        return heartbeat_key(self.shard_count, ids)

    def publishes_commands(self) -> bool:
        """Whether this process publishes the global slash commands (unsharded: yes)."""
        return True

    async def close(self) -> None:
        """Stop background work (the XP flusher writes what is pending), then disconnect."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.dispatcher.stop()
        await super().close()

    def guild_config(self, guild_id: int) -> ServerConfig:
        """The guild's config as the fast path sees it (defaults before its first load)."""
        rules = self.rules.get(guild_id)
        return rules.config if rules is not None else default_server_config()

    def _config_of(self, guild_id: int) -> ServerConfig | None:
        rules = self.rules.get(guild_id)
        return rules.config if rules is not None else None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run follow-up Discord work without holding up the next message."""
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[None]) -> None:
        """Forget a finished follow-up; log its failure instead of losing it silently."""
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("follow-up task failed", exc_info=task.exception())

    async def _on_earned(self, item: Earned) -> None:
        await announce_earned(self.get_guild(item.guild_id), self.guild_config(item.guild_id), item)

    async def sync_reward_roles(self, member: discord.Member, total_xp: int) -> None:
        """Bring the member's reward roles in line with their XP, one sync per member at a time.

        Two syncs racing (a level-up and an admin's /xp) could otherwise re-add a replaced role
        from a stale role list, so each sync holds the member's lock, reads the freshest total
        and fetches the member's current roles from Discord.
        """
        key = (member.guild.id, member.id)
        lock = self._role_locks.setdefault(key, asyncio.Lock())
        async with lock:
            total = self.engagement.tracker.total(*key)
            try:
                fresh = await member.guild.fetch_member(member.id)
            except discord.NotFound:
                return
            config = self.guild_config(member.guild.id)
            await sync_reward_roles(fresh, config, total if total is not None else total_xp)
        if not lock.locked():
            self._role_locks.pop(key, None)

    async def _level_up(
        self, message: discord.Message, config: ServerConfig, award: XPAward
    ) -> None:
        """Announce with the member's rank: level-ups are rare, so write pending XP first."""
        rank = None
        if "{rank}" in config.xp.announce_template and config.xp.announce != "off":
            await self.engagement.flush()
            async with self.sessions() as session:
                rank = await member_rank(session, award.guild_id, award.user_id)
        await announce_level_up(message, config, award, rank)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """An RSVP on an event post; a reaction from someone else counts for the author."""
        self.event_link.on_reaction(payload, added=True)
        author = payload.message_author_id
        if payload.guild_id is None or author is None or author == payload.user_id:
            return
        if author == (self.user.id if self.user else None):
            return  # reactions on the bot's own posts (RSVPs, panels) are not praise
        if payload.member is not None and payload.member.bot:
            return
        self._spawn(self._count_reaction(payload.guild_id, author))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """An RSVP reaction taken off an event post."""
        self.event_link.on_reaction(payload, added=False)

    async def on_scheduled_event_create(self, event: discord.ScheduledEvent) -> None:
        """A Discord scheduled event by a person becomes one of ours (events.discord_sync)."""
        await self.event_sync.on_create(event)

    async def on_scheduled_event_update(
        self, before: discord.ScheduledEvent, after: discord.ScheduledEvent
    ) -> None:
        """An edit or cancellation made in Discord reaches the event's workflow."""
        await self.event_sync.on_update(after)

    async def on_scheduled_event_delete(self, event: discord.ScheduledEvent) -> None:
        """Deleted in Discord: the linked event is cancelled."""
        await self.event_sync.on_delete(event)

    async def on_scheduled_event_user_add(
        self, event: discord.ScheduledEvent, user: discord.User
    ) -> None:
        """'Interested' in Discord counts as going."""
        await self.event_sync.on_interest(event, user.id, on=True)

    async def on_scheduled_event_user_remove(
        self, event: discord.ScheduledEvent, user: discord.User
    ) -> None:
        """Interest taken back withdraws the RSVP."""
        await self.event_sync.on_interest(event, user.id, on=False)

    async def _count_invite(self, guild_id: int, inviter_id: int) -> None:
        await self.engagement.bump(guild_id, inviter_id, "invites")

    async def _count_reaction(self, guild_id: int, author_id: int) -> None:
        await self.engagement.bump(guild_id, author_id, "reactions_received")

    async def on_member_join(self, member: discord.Member) -> None:
        """Credit the inviter; a member who comes back gets their reward roles again."""
        self.spam_guard.on_member_join(member)  # raid detection first: no REST before it
        self.analytics.count(member.guild.id, JOINS)
        self._spawn(self.moderation.on_member_join(member))  # a running sanction holds
        self.tiers.on_members_changed(member.guild.id)
        self._spawn(verification.gate_new_member(self, member))  # after raid detection
        code, inviter = await self.invites.used_by_join(member.guild)
        self.raid_link.on_invite(member.guild.id, member.id, code)
        if inviter is not None and inviter != member.id:
            self._spawn(self._count_invite(member.guild.id, inviter))
        async with self.sessions() as session:
            row = await get_member_level(session, member.guild.id, member.id)
        if row is not None and row.xp > 0:
            await self.sync_reward_roles(member, row.xp)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Moderation buttons, menus and forms (slash commands go through the tree)."""
        if not await self.tree.allow_component(interaction):
            return  # too fast: already answered
        if await self.event_link.on_interaction(interaction):
            return  # an RSVP button
        if await self.tickets.on_interaction(interaction):
            return  # a ticket button, the close form or a rating
        if await self.faq.on_interaction(interaction):
            return  # a "Did this help?" button
        await self.moderation.on_interaction(interaction)
        await verification.on_interaction(self, interaction)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member who leaves has no verification deadline left (nor a raid removal)."""
        self.raid_link.on_member_left(payload.guild_id, payload.user.id)
        self.tiers.on_members_changed(payload.guild_id)
        self.analytics.count(payload.guild_id, LEAVES)
        await verification.member_left(self, payload.guild_id, payload.user.id)

    async def on_audit_log_entry_create(self, entry: discord.AuditLogEntry) -> None:
        """Anti-nuke first (it may hold the actor); then hand-made sanctions become cases."""
        await self.anti_nuke.on_audit_log_entry(entry)
        await self.moderation.on_audit_log_entry(entry)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Remember the channel as it was, so an anti-nuke restore can bring it back."""
        self.anti_nuke.on_channel_delete(channel)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        """A ticket's new private thread: its messages now reach the ticket's workflow."""
        self.tickets.on_space_created(thread)

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        """A ticket's new channel (tickets.mode = channel)."""
        self.tickets.on_space_created(channel)

    async def on_guild_role_delete(self, role: discord.Role) -> None:
        """Remember the role as it was, for an anti-nuke restore."""
        self.anti_nuke.on_role_delete(role)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Each guild in GUILD_CREATE gets its rules compiled before messages are judged."""
        rules = await self.rules.load(guild.id, guild.name)
        if self.sandbox and rules.version == 0:
            await self.rules.seed(guild.id, sandbox_config(guild))
        self._spawn(self.invites.load(guild))
        self._spawn(self.tiers.on_guild(guild))  # owner, member count, the tier's limits

    async def on_invite_create(self, invite: discord.Invite) -> None:
        """Keep the invite snapshot current so the next join is attributed right."""
        self.invites.on_create(invite)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A server that adds the bot is registered with default config."""
        await self.rules.load(guild.id, guild.name)
        await self.tiers.on_guild(guild)  # an extra server of its owner is flagged, not refused

    async def on_message(self, message: discord.Message) -> None:
        """The fast path: judge in-process, delete at once, and report to the member's workflow."""
        if message.guild is None or message.author == self.user:
            return
        if not message.author.bot:
            self.analytics.count(message.guild.id, MESSAGES, at=message.created_at)
        self.tickets.on_message(message)  # a dict lookup: resets a ticket's inactivity timer
        snapshot = snapshot_of(message, self.invites.codes(message.guild.id))
        if snapshot is None:
            return
        rules = self.rules.get(snapshot.guild_id)
        if rules is None:
            assert message.guild is not None
            rules = await self.rules.load(message.guild.id, message.guild.name)
        judgement = rules.automod.judge(snapshot)
        self.handled += 1
        if judgement is not None:
            outcome = "deleted" if judgement.deletes else "kept"
            metrics.FASTPATH_VERDICTS.labels("automod", outcome).inc()
            await perform(self, message, judgement, rules.config)
            if not judgement.deletes:  # automod left it up: spam windows still count it
                await self.spam_guard.on_message(message, snapshot, rules.config)
            return
        if snapshot.author_is_bot:
            return
        if await self.spam_guard.on_message(message, snapshot, rules.config):
            metrics.FASTPATH_VERDICTS.labels("spam", "flagged").inc()
            return  # flagged as spam: no XP
        paused = self.tiers.paused(snapshot.guild_id)  # over the tier's limits: no XP, no AI
        if paused or not support_ai.observe(self, message, rules.config):  # talking to the bot
            self.faq.observe(message, rules.config)  # a question is answered off this path
        if not paused:
            await self._award_xp(message, snapshot, rules)

    async def _award_xp(
        self, message: discord.Message, snapshot: MessageSnapshot, rules: GuildRules
    ) -> None:
        """XP for a message that passed automod; a level-up is announced off the hot path."""
        award = await self.engagement.award(
            self.engagement.rules_for(snapshot.guild_id, rules.config, rules.version),
            guild_id=snapshot.guild_id,
            user_id=snapshot.author_id,
            channel_id=snapshot.channel_id,
            role_ids=snapshot.author_role_ids,
            now=message.created_at.astimezone(UTC),
        )
        if award is None or not award.leveled_up or award.total_after is None:
            return
        self._spawn(self._level_up(message, rules.config, award))
        if isinstance(message.author, discord.Member):
            self._spawn(self.sync_reward_roles(message.author, award.total_after))

    async def _delete(self, message: discord.Message) -> None:
        try:
            await message.delete()
        except discord.NotFound:
            log.info("message %s already gone", message.id)
        except discord.Forbidden:
            log.warning("missing permission to delete in channel %s", message.channel.id)

    async def _report(self, violation: Violation) -> None:
        """Signal-with-start; if Temporal cannot be reached, keep the report in the outbox."""
        for attempt in range(1, SIGNAL_ATTEMPTS + 1):
            try:
                await self._start_report(violation)
                return
            except Exception as exc:
                if attempt == SIGNAL_ATTEMPTS:
                    await self._keep(violation, exc)
                    return
                await asyncio.sleep(0.2 * 2**attempt)

    async def _start_report(self, violation: Violation) -> None:
        await self.temporal.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(violation.guild_id, violation.user_id),
            id=moderation_workflow_id(violation.guild_id, violation.user_id),
            task_queue=self.task_queue,
            start_signal="report",
            start_signal_args=[violation],
            priority=Priority(priority_key=report_priority(violation.source)),
        )

    async def _keep(self, violation: Violation, exc: Exception) -> None:
        async with self.sessions() as session, session.begin():
            await outbox.put(session, REPORT, violation_to_json(violation))
        log.warning("Temporal unreachable (%s); %s kept in the outbox", exc, violation.source_key)

    async def drain_outbox(self) -> int:
        """Hand kept reports to Temporal, oldest first; stop at the first failure."""
        async with self.sessions() as session:
            entries = await outbox.oldest(session)
        sent = 0
        for entry in entries:
            try:
                await self._start_report(violation_from_json(entry.payload))
            except Exception as exc:
                async with self.sessions() as session, session.begin():
                    await outbox.failed(session, entry.id, repr(exc))
                break
            async with self.sessions() as session, session.begin():
                await outbox.done(session, entry.id)
            sent += 1
        return sent

    async def _outbox_loop(self) -> None:
        """Retry kept reports every few seconds."""
        while True:
            await asyncio.sleep(OUTBOX_RETRY_SECONDS)
            try:
                await self.drain_outbox()
            except Exception:
                log.exception("outbox drain failed")

    async def _refresh_loop(self) -> None:
        """Recompile guilds whose config changed, every few seconds."""
        while True:
            await asyncio.sleep(CONFIG_REFRESH_SECONDS)
            try:
                changed = await self.rules.refresh()
                if changed:
                    log.info("reloaded config for guilds %s", changed)
            except Exception:
                log.exception("config refresh failed")


class ShardedSuiteBot(SuiteBot, discord.AutoShardedClient):
    """The gateway process for a group of shards (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS).

    Discord sends each guild's events on shard `(guild_id >> 22) % shard_count` only, so this
    process sees, caches and acts on exactly the guilds of its shards; everything the fast path
    keeps in memory (rules, spam and raid windows, XP cooldowns, invite snapshots) is per guild
    and so lives in one process. Direct messages arrive on shard 0 only.
    """

    def publishes_commands(self) -> bool:
        """The process with shard 0 publishes the global slash commands."""
        return self.shard_ids is None or 0 in self.shard_ids


def build_bot(
    *,
    shard_count: int | None = None,
    shard_ids: list[int] | None = None,
    **options: Any,
) -> SuiteBot:
    """The gateway's client: unsharded without a shard count, else the shards it names.

    `shard_ids` None with a count connects every shard 0..count-1 from this one process.
    """
    if shard_count is None:
        if shard_ids is not None:
            raise ValueError("shard ids need a shard count")
        return SuiteBot(**options)
    return ShardedSuiteBot(shard_count=shard_count, shard_ids=shard_ids, **options)
