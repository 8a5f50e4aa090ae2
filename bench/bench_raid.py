"""A raid and a spam flood through the real processes: issue #4's "done when" as figures.

The suite runs as it does in production, as separate processes: ``dcs gateway`` (discord.py, the
fast path) and ``dcs worker`` (every workflow and activity) against the Temporal dev server and a
SQLite file; the Discord simulator runs here, in the bench process, and plays Discord. 60 regular
members chat throughout. Three phases:

1. **Spam flood**: 50 accounts post 10,000 messages (the simulator is told to deliver them even
   after the spammers are timed out, as a measure of handling rate; real Discord would cut a
   timed-out member's flood short). Every spam message must end up deleted. Figures: spam
   messages handled per second (first post to last delete) and the gateway's peak RSS.
2. **Raid**: 1,000 joins in 60 s, 80% of them accounts younger than a day. Detection latency is
   the simulator's arrival time of the lockdown's first REST call minus the dispatch time of the
   join that crossed the threshold (found by replaying the same joins, at their dispatch times,
   through the same detector). The worker is killed (SIGKILL) mid-lockdown and replaced; the
   removal is approved (bulk ban, 200 a call); /unlock; the overwrites must come back exactly.
3. **Raid under a backlog**: a fresh gateway (empty detector windows) gets the same raid while
   the 50 accounts flood another 10,000 messages (medium priority in the gateway, spam reports at
   Temporal priority 2) and 20,000 reactions pour in at 2,000 a second (engagement, low); the
   same latency is measured, and every spam message must again end up deleted.

False positives: regular members who were suspected, sanctioned, or lost a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from automod_data import chat_vocabulary, clean_message
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from approvals.decisions import submit_decision
from dcs.server_config import parse_server_config
from dcs.temporal import bundled_binary
from domain.approvals import ApprovalDecision
from domain.lockdown import UnlockRequest
from domain.raid import JoinEvent, RaidDetector
from gateway.spam_guard import raid_rules
from simulator import DiscordSimulator
from simulator.config import SimulatorConfig
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.models import ModerationCase, PendingApproval, RaidIncidentMember
from storage.servers import ensure_server, get_server_config, put_server_config
from workflows.raid import raid_workflow_id
from workflows.raid_control import lockdown_status, unlock

SINGLE_CORE = False
"""Separate processes (gateway, worker, Temporal, simulator): one pinned core would time the
scheduler, not the path."""

REGULARS = 60
SPAMMERS = 50
BACKLOG_RATE = 2_000.0
"""Reactions a second while the raid starts."""


@dataclass(frozen=True)
class Scale:
    """How big the drill is: the issue's figures by default, smaller for the end-to-end test."""

    spam_messages: int = 10_000
    joins: int = 1_000
    join_seconds: float = 60.0
    young_share: float = 0.8
    backlog_reactions: int = 20_000
    settle_seconds: float = 20.0
    compare_fifo: bool = True
    """Also run the backlog raid with the gateway's priority dispatch off."""


FULL = Scale()
SPAM = "🔥 FREE NITRO giveaway for everyone!! claim it now in my server, dm me {tag} 🔥"


def suite_env(port: int, db: str, target: str, queue: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=db,
        TEMPORAL_ADDRESS=target,
        TEMPORAL_TASK_QUEUE=queue,
        TEMPORAL_START_DEV_SERVER="false",
        SANDBOX_HOST="127.0.0.1",
        SANDBOX_PORT=str(port),
        TELEGRAM_SANDBOX_PORT="1",
        DATA_DIR=str(data),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        SCAM_FEED_URL="",
    )
    return env


def spawn_process(what: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dcs", what],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_until(probe: Any, timeout: float, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(step)
    raise TimeoutError(f"not met within {timeout}s: {probe}")


class Drill:
    """The simulator, the processes, and what the phases measure."""

    def __init__(
        self,
        sim: DiscordSimulator,
        client: Client,
        sessions: Any,
        env: dict[str, str],
        scale: Scale = FULL,
    ) -> None:
        self.scale = scale
        self.sim = sim
        self.client = client
        self.sessions = sessions
        self.env = env
        self.guild = sim.world.guild_id
        self.logdir = Path(env["DATA_DIR"])
        self.gateway: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.regulars: list[int] = []
        self.regular_messages: list[tuple[int, int]] = []
        self.authors: dict[int, int] = {}
        self.lost_regular_messages = 0
        self.reactions_sent = 0
        self.reaction_round = 0
        self.spam_task: asyncio.Task[dict[str, float]] | None = None
        self.chatting = True

    # -- processes ---------------------------------------------------------------------------

    async def start_gateway(self) -> None:
        self.sim.clear_requests()
        self.gateway = spawn_process("gateway", self.env, self.logdir / "gateway.log")
        await wait_until(lambda: self.sim.requests("PUT", None) or None, 90)  # commands synced
        await asyncio.sleep(3.0)  # guild config loaded, invites read

    def stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.gateway.wait(20)
            self.gateway.kill()

    def start_worker(self) -> None:
        self.worker = spawn_process("worker", self.env, self.logdir / "worker.log")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(10)

    # -- people ------------------------------------------------------------------------------

    def seed(self) -> list[int]:
        """Regulars (old accounts, long-standing members) and the spammers (a day in)."""
        world, guild = self.sim.world, self.sim.world.guilds[self.guild]
        now = datetime.now(UTC)
        for i in range(REGULARS):
            user = world.add_user(f"regular{i:02d}", created_at=now - timedelta(days=900 + i))
            self.sim.engine.add_member(guild, user, joined_at=now - timedelta(days=300))
            self.regulars.append(user.id)
        spammers = []
        for i in range(SPAMMERS):
            user = world.add_user(f"promo{i:02d}", created_at=now - timedelta(days=3))
            self.sim.engine.add_member(guild, user, joined_at=now - timedelta(days=1))
            spammers.append(user.id)
        return spammers

    async def chatter(self) -> None:
        """Each regular posts ordinary chat every 15-30 s (about 3 messages a second in all).

        Lines come from the automod corpus's templates plus two words of its vocabulary: the
        templates alone repeat often enough that four members would post the very same line,
        which real members rarely do (and the same-text rule rightly treats as a raid).
        """
        rng = random.Random(5)
        words = sorted(chat_vocabulary())
        channels = ("general", "support", "events")

        async def member(user: int) -> None:
            await asyncio.sleep(rng.uniform(0, 20))
            while self.chatting:
                text = f"{clean_message(rng)} {rng.choice(words)} {rng.choice(words)}"
                msg = await self.sim.post_message(rng.choice(channels), user, text)
                self.regular_messages.append((msg.channel_id, msg.id))
                self.authors[msg.id] = user
                await asyncio.sleep(rng.uniform(15, 30))

        await asyncio.gather(*(member(u) for u in self.regulars))

    # -- phase 1 -----------------------------------------------------------------------------

    async def flood(self, spammers: list[int]) -> dict[str, float]:
        channels = [self.sim.world.channel(n) for n in ("general", "support", "events")]
        posted: list[tuple[int, int]] = []
        start = time.time()
        for k in range(self.scale.spam_messages // SPAMMERS):
            for i, user in enumerate(spammers):
                channel = channels[(k + i) % len(channels)]
                msg = await self.sim.post_message(channel, user, SPAM.format(tag=f"#{i}"))
                posted.append((channel, msg.id))
            await asyncio.sleep(0)
        last_post = time.time()
        await wait_until(lambda: self._all_gone(posted), 300, step=0.2)
        done = time.time()
        return {
            "posted": len(posted),
            "seconds": done - start,
            "post_seconds": last_post - start,
            "rate": len(posted) / (done - start),
        }

    def _all_gone(self, ids: list[tuple[int, int]]) -> bool:
        messages = self.sim.world.messages
        return not any(m in messages.get(c, {}) for c, m in ids)

    # -- phases 2 and 3 ----------------------------------------------------------------------

    async def raid(
        self, prefix: str, backlog: int = 0, spammers: list[int] | None = None
    ) -> dict[str, float]:
        """Run the wave, alone or with reactions and a spam flood pouring in; latencies in ms."""
        t0 = time.time()
        flood = asyncio.create_task(self._react(backlog)) if backlog else None
        if spammers:
            self.spam_task = asyncio.create_task(self.flood(spammers))
        await asyncio.sleep(1.0 if backlog or spammers else 0)  # the backlog is flowing
        wave = asyncio.create_task(
            self.sim.mass_join(
                self.scale.joins,
                self.scale.join_seconds,
                young_share=self.scale.young_share,
                name_prefix=prefix,
            )
        )
        first = await wait_until(lambda: self._lock_call(t0), 60, step=0.01)
        crossing = await self._crossing(t0)
        detected = self._detected_at(t0)
        self.wave = wave
        if flood is not None:
            self.reactions_sent = await flood
        return {
            "total": (first.timestamp - crossing) * 1000,
            "detect": (detected - crossing) * 1000 if detected else float("nan"),
            "lock": (first.timestamp - detected) * 1000 if detected else float("nan"),
        }

    async def _react(self, count: int) -> int:
        """Reactions on regulars' messages at BACKLOG_RATE a second: engagement work."""
        pairs = [(c, m, u) for (c, m) in self.regular_messages for u in self.regulars[:40]]
        rounds = (("👍", "🔥", "😂", "🎉", "❤️"), ("👀", "✅", "💯", "🙏", "😮"))
        emojis = rounds[self.reaction_round % len(rounds)]  # a repeat reaction sends nothing
        self.reaction_round += 1
        sent, start = 0, time.monotonic()
        for c, m, u in pairs:
            for e in emojis:
                if sent >= count:
                    return sent
                with contextlib.suppress(Exception):
                    await self.sim.add_reaction(c, m, u, e)
                    sent += 1
                    ahead = start + sent / BACKLOG_RATE - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        return sent

    def _detected_at(self, since: float) -> float | None:
        """When the gateway logged the raid (its log and this process share the clock)."""
        for line in (self.logdir / "gateway.log").read_text().splitlines():
            if "raid in guild" not in line:
                continue
            at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
            if at.timestamp() >= since:
                return at.timestamp()
        return None

    def _lock_call(self, since: float) -> Any:
        for r in self.sim.requests("PATCH", "/guilds/{guild_id}"):
            if r.timestamp >= since and isinstance(r.json, dict) and "verification_level" in r.json:
                return r
        return None

    async def _crossing(self, since: float) -> float:
        """Replay the wave's joins through the gateway's detector: when did it cross?"""
        config = await self._config()
        detector = RaidDetector(raid_rules(config))
        for d in self.sim.dispatched("GUILD_MEMBER_ADD"):
            if d.at < since:
                continue
            user = d.data["user"]
            created = datetime.fromtimestamp(((int(user["id"]) >> 22) + 1420070400000) / 1000, UTC)
            at = datetime.fromtimestamp(d.at, UTC)
            event = JoinEvent(int(user["id"]), at, created, user["username"], True)
            signal_ = detector.observe_join(event, at)
            if signal_ is not None and signal_.escalated and signal_.level == "raid":
                return d.at
        raise RuntimeError("the replayed joins never reached the raid level")

    async def _config(self) -> Any:
        async with self.sessions() as session:
            raw, _ = await get_server_config(session, self.guild)
        return parse_server_config(raw)

    async def approve_removal(self) -> int:
        """Approve the lockdown's removal proposals; the number of members banned."""
        await self.wave
        decided: set[str] = set()

        async def pending() -> list[PendingApproval]:
            async with self.sessions() as session:
                rows = await session.scalars(
                    select(PendingApproval).where(
                        PendingApproval.workflow_id == raid_workflow_id(self.guild),
                        PendingApproval.status == "pending",
                    )
                )
                return [r for r in rows if r.id not in decided]

        rows = await wait_until(pending, 180, step=0.5)
        for row in rows:
            decision = ApprovalDecision(row.id, "approve", "bench:approver", "api")
            await submit_decision(self.sessions, self.client, decision)
            decided.add(row.id)
        status = await wait_until(lambda: self._removed(), 180, step=0.5)
        return int(status.removed)

    async def _removed(self) -> Any:
        status = await lockdown_status(self.client, self.guild)
        return (
            status
            if status is not None and status.removed and not status.pending_approval_ids
            else None
        )

    async def lift(self) -> None:
        await unlock(self.client, self.guild, UnlockRequest("bench", "drill over"))
        await wait_until(lambda: self._ended(), 120, step=0.5)

    async def _ended(self) -> bool:
        return await lockdown_status(self.client, self.guild) is None

    def state(self) -> Any:
        guild = self.sim.world.guilds[self.guild]
        chans = {
            c: sorted(
                (o.id, o.type, o.allow, o.deny) for o in self.sim.world.channels[c].overwrites
            )
            for c in guild.channel_ids
        }
        return guild.verification_level, chans

    async def false_positives(self) -> int:
        regulars = set(self.regulars)
        messages = self.sim.world.messages
        lost = {(c, m) for c, m in self.regular_messages if m not in messages.get(c, {})}
        bad = {self.authors[m] for _c, m in lost}
        async with self.sessions() as session:
            cases = await session.scalars(
                select(ModerationCase.user_id).where(ModerationCase.user_id.in_(regulars))
            )
            suspects = await session.scalars(
                select(RaidIncidentMember.user_id).where(RaidIncidentMember.user_id.in_(regulars))
            )
            bad.update(cases)
            bad.update(suspects)
        guild = self.sim.world.guilds[self.guild]
        bad.update(u for u in regulars if u in guild.bans)
        self.lost_regular_messages = len(lost)
        return len(bad)


async def run_drill(workdir: Path, scale: Scale = FULL) -> dict[str, Any]:
    """Run the drill; what it measured (figures and checks)."""
    db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_database_async(db)
    engine = create_engine(db)
    sessions = make_sessionmaker(engine)
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal")
    )
    config = SimulatorConfig(enforce_member_restrictions=False)
    out: dict[str, Any] = {}
    try:
        sim = DiscordSimulator(config)
        await sim.start(port=0)
        port = int(sim.base_url.rsplit(":", 1)[1])
        target = temporal.client.service_client.config.target_host
        env = suite_env(port, db, target, f"bench-raid-{uuid.uuid4().hex[:8]}", workdir)
        drill = Drill(sim, temporal.client, sessions, env, scale)
        spammers = drill.seed()
        async with sessions() as session, session.begin():
            await ensure_server(session, drill.guild, "Sandbox Community")
            await put_server_config(
                session,
                drill.guild,
                {
                    "mod_log_channel_id": sim.world.channel("mod-log"),
                    "raid": {"lockdown": {"quiet_minutes": 60}},
                },
                expected_version=None,
                changed_by="bench",
            )
        drill.start_worker()
        await drill.start_gateway()
        chatter = asyncio.create_task(drill.chatter())
        try:
            out["flood"] = await drill.flood(spammers)
            assert drill.gateway is not None
            out["flood_peak_rss_mb"] = peak_rss_mb(drill.gateway.pid)
            await asyncio.sleep(scale.settle_seconds)  # the flood's reports drain: quiet
            before = drill.state()
            out["latency"] = await drill.raid("raider")
            await asyncio.sleep(5)
            drill.kill_worker()  # mid-lockdown: nothing may be lost
            await asyncio.sleep(2)
            drill.start_worker()
            out["removed"] = await drill.approve_removal()
            await drill.lift()
            out["restored_exactly"] = drill.state() == before
            drill.stop_gateway()
            await drill.start_gateway()  # a fresh detector for the next wave
            out["backlog_latency"] = await drill.raid(
                "wave", backlog=scale.backlog_reactions, spammers=spammers
            )
            out["reactions_sent"] = drill.reactions_sent
            assert drill.spam_task is not None
            out["flood_during_raid"] = await drill.spam_task  # every spam message deleted
            await drill.wave
            await drill.lift()
            out["restored_exactly_2"] = drill.state() == before
            out["restored_exactly_3"] = True
            if scale.compare_fifo:  # the same again, with the gateway's priority dispatch off
                drill.stop_gateway()
                drill.env["GATEWAY_PRIORITY_DISPATCH"] = "false"
                await drill.start_gateway()
                out["no_priority_latency"] = await drill.raid(
                    "fifo", backlog=scale.backlog_reactions, spammers=spammers
                )
                assert drill.spam_task is not None
                await drill.spam_task
                await drill.wave
                await drill.lift()
                out["restored_exactly_3"] = drill.state() == before
        finally:
            drill.chatting = False
            chatter.cancel()
            drill.stop_gateway()
            if drill.worker is not None:
                drill.worker.kill()
            out["false_positive_members"] = await drill.false_positives()
            out["lost_regular_messages"] = drill.lost_regular_messages
            out["regular_messages"] = len(drill.regular_messages)
            await sim.stop()
    finally:
        await temporal.shutdown()
        await engine.dispose()
    return out


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``."""
    with tempfile.TemporaryDirectory(prefix="dcs-bench-raid-") as tmp:
        out = asyncio.run(run_drill(Path(tmp)))
    flood = out["flood"]
    common = {
        "joins": FULL.joins,
        "join_seconds": FULL.join_seconds,
        "young_share": FULL.young_share,
        "removed": out["removed"],
        "restored_exactly": out["restored_exactly"]
        and out["restored_exactly_2"]
        and out["restored_exactly_3"],
        "worker_killed_mid_lockdown": True,
    }
    return {
        "raid_detect_latency_ms": {
            "value": round(out["latency"]["total"], 1),
            "unit": "ms",
            "max": 5000.0,
            "crossing_to_detection_ms": round(out["latency"]["detect"], 1),
            "detection_to_first_lock_call_ms": round(out["latency"]["lock"], 1),
            **common,
        },
        "raid_detect_latency_with_backlog_ms": {
            "value": round(out["backlog_latency"]["total"], 1),
            "unit": "ms",
            "max": 5000.0,
            "crossing_to_detection_ms": round(out["backlog_latency"]["detect"], 1),
            "detection_to_first_lock_call_ms": round(out["backlog_latency"]["lock"], 1),
            "backlog_reactions": out["reactions_sent"],
            "backlog_rate_per_s": BACKLOG_RATE,
            "spam_messages_during_raid": out["flood_during_raid"]["posted"],
            "spam_flood_during_raid_msgs_per_s": round(out["flood_during_raid"]["rate"], 1),
            "without_priority_dispatch_ms": round(out["no_priority_latency"]["total"], 1),
            "without_priority_crossing_to_detection_ms": round(
                out["no_priority_latency"]["detect"], 1
            ),
        },
        "spam_flood_msgs_per_s": {
            "value": round(flood["rate"], 1),
            "unit": "msgs/s",
            "messages": flood["posted"],
            "accounts": SPAMMERS,
            "seconds": round(flood["seconds"], 2),
            "all_deleted": True,
        },
        "flood_peak_rss_mb": {"value": round(out["flood_peak_rss_mb"], 1), "unit": "MB"},
        "raid_false_positive_members": {
            "value": out["false_positive_members"],
            "unit": "members",
            "regulars": REGULARS,
            "regular_messages": out["regular_messages"],
            "regular_messages_lost": out["lost_regular_messages"],
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
