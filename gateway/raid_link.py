"""The gateway's side of a lockdown: hand raid signals to `raid:{guild}`, batched, high priority.

The first raid-level signal of a guild starts the lockdown at once (signal-with-start, so a
lockdown already running just hears about it). Later suspects, members leaving and the invites
raiders used are gathered and sent once a second per guild: a 1,000-join raid becomes a few dozen
signals, not a thousand. Starts carry Temporal's highest task priority, so a backlog of XP or
analytics work never holds a lockdown back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dcs.server_config import ServerConfig, lockdown_settings
from domain.lockdown import RaidReport, RaidSuspect
from domain.raid import RaidSignal, Suspect
from workflows.raid import REPORT_SIGNAL, RaidLockdownInput, raid_workflow_id
from workflows.raid_control import lockdown_status, start_lockdown

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
REFRESH_EVERY = 15
"""Flushes between checks that the guilds' lockdowns still run."""
MAX_REMEMBERED_SUSPECTS = 20_000
"""Suspects per guild the gateway remembers (to pass on invites and departures)."""


class LinkHost(Protocol):
    """What the link needs of the bot."""

    temporal: Client
    task_queue: str

    def get_guild(self, guild_id: int, /) -> Any:
        """A cached guild."""
        ...


@dataclass
class _Outgoing:
    """What waits for the next flush of one guild."""

    suspects: dict[int, RaidSuspect] = field(default_factory=dict)
    left: list[int] = field(default_factory=list)
    reasons: tuple[str, ...] = ()


class RaidLink:
    """Per-guild batching of raid reports to the lockdown workflows of one gateway."""

    def __init__(self, bot: LinkHost, lockdowns: set[int]) -> None:
        self.bot = bot
        self.lockdowns = lockdowns
        """Guilds with a lockdown running, shared with the spam guard (raid_active)."""
        self._out: dict[int, _Outgoing] = {}
        self._suspects: dict[int, dict[int, None]] = {}
        self._invites: dict[int, dict[int, str]] = {}
        """Recent joiners' invite codes per guild (a join is attributed before it is suspected)."""
        self._starting: set[int] = set()

    # -- from the fast path -----------------------------------------------------------------

    def on_raid_signal(self, guild_id: int, signal: RaidSignal, config: ServerConfig) -> bool:
        """A raid-level signal; True when it starts a lockdown now."""
        suspects = [self._suspect(guild_id, s) for s in signal.suspects]
        self._remember(guild_id, (s.user_id for s in suspects))
        if guild_id in self.lockdowns or guild_id in self._starting:
            out = self._out.setdefault(guild_id, _Outgoing())
            out.suspects.update((s.user_id, s) for s in suspects)
            out.reasons = signal.reasons
            return False
        if not config.raid.lockdown.auto:
            return False
        self._starting.add(guild_id)
        report = RaidReport(signal.at, tuple(suspects), signal.reasons)
        inp = RaidLockdownInput(
            guild_id,
            trigger="detected",
            started_by="raid detector",
            reason="; ".join(signal.reasons)[:500] or "raid detected",
            settings=lockdown_settings(config),
        )
        asyncio.get_running_loop().create_task(self._start(inp, report))
        return True

    def on_activity(self, guild_id: int) -> None:
        """A join or message at an elevated reading: the raid goes on (the lift waits).

        A report with nothing in it is enough: any report resets the lockdown's quiet period.
        """
        if guild_id in self.lockdowns:
            self._out.setdefault(guild_id, _Outgoing())

    def on_member_left(self, guild_id: int, user_id: int) -> None:
        """A suspect left: nothing to remove any more."""
        if guild_id in self.lockdowns and user_id in self._suspects.get(guild_id, {}):
            self._out.setdefault(guild_id, _Outgoing()).left.append(user_id)

    def on_invite(self, guild_id: int, user_id: int, code: str | None) -> None:
        """The invite a member joined through (known a moment after the join, by REST)."""
        if code is None:
            return
        recent = self._invites.setdefault(guild_id, {})
        recent[user_id] = code
        if len(recent) > MAX_REMEMBERED_SUSPECTS:
            del recent[next(iter(recent))]
        if user_id not in self._suspects.get(guild_id, {}):
            return  # not (yet) a suspect: the code waits in `recent` for the signal
        out = self._out.setdefault(guild_id, _Outgoing())
        known = out.suspects.get(user_id) or RaidSuspect(user_id, 0, ())
        out.suspects[user_id] = replace(known, invite_code=code)

    # -- to Temporal -------------------------------------------------------------------------

    async def run_flusher(self) -> None:
        """Send what gathered, once a second per guild; forget ended lockdowns now and then."""
        ticks = 0
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            ticks += 1
            try:
                await self.flush()
                if ticks % REFRESH_EVERY == 0:
                    await self.refresh()
            except Exception:  # one failure must not end the loop
                log.exception("raid report flush failed")

    async def flush(self) -> None:
        """Signal each guild's lockdown with what gathered since the last flush."""
        for guild_id in list(self._out):
            if guild_id in self._starting:
                continue  # the start carries the first report; the rest follow it
            out = self._out.pop(guild_id)
            report = RaidReport(
                datetime.now(UTC), tuple(out.suspects.values()), out.reasons, tuple(out.left)
            )
            handle = self.bot.temporal.get_workflow_handle(raid_workflow_id(guild_id))
            try:
                await handle.signal(REPORT_SIGNAL, report)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                self.lockdowns.discard(guild_id)  # lifted meanwhile

    async def refresh(self) -> None:
        """Forget lockdowns that ended (lifted by time, /unlock or the API)."""
        for guild_id in list(self.lockdowns):
            status = await lockdown_status(self.bot.temporal, guild_id)
            if status is None or not status.active:
                self.lockdowns.discard(guild_id)

    def note_started(self, guild_id: int) -> None:
        """A lockdown started elsewhere (/lockdown, the API): treat the guild as locked."""
        self.lockdowns.add(guild_id)

    async def _start(self, inp: RaidLockdownInput, report: RaidReport) -> None:
        try:
            await start_lockdown(self.bot.temporal, self.bot.task_queue, inp, report)
            self.lockdowns.add(inp.guild_id)
            log.warning("raid lockdown started in guild %s: %s", inp.guild_id, inp.reason)
        except Exception:
            log.exception("could not start the lockdown of guild %s", inp.guild_id)
        finally:
            self._starting.discard(inp.guild_id)

    # -- helpers -----------------------------------------------------------------------------

    def _suspect(self, guild_id: int, s: Suspect) -> RaidSuspect:
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(s.user_id) if guild is not None else None
        code = self._invites.get(guild_id, {}).get(s.user_id)
        if member is None:
            return RaidSuspect(s.user_id, s.score, s.reasons, invite_code=code)
        joined = member.joined_at.astimezone(UTC) if member.joined_at else None
        return RaidSuspect(
            s.user_id, s.score, s.reasons, member.name, joined,
            member.created_at.astimezone(UTC), code,
        )  # fmt: skip

    def _remember(self, guild_id: int, user_ids: Iterable[int]) -> None:
        known = self._suspects.setdefault(guild_id, {})
        for user_id in user_ids:
            known[user_id] = None
        while len(known) > MAX_REMEMBERED_SUSPECTS:
            del known[next(iter(known))]
