"""A burst of RSVP reactions through the real processes: issue #7's "done when" as figures.

``dcs gateway`` (discord.py) and ``dcs worker`` run as separate processes against the Temporal dev
server and a SQLite file; the Discord simulator runs here and plays 5,000 members. An event is
created through the same call the slash command and the API use; its announcement is posted by the
workflow. Then 5,000 reaction events arrive in 10 s: most members add one reaction, some change
their mind (add another, take the first off), some add and take back. The truth is what is on
the post at the end. The figure is how long until the workflow's counts, the database's row and
the embed all show the truth, and how many of those nine numbers differ from it (must be 0),
plus how many members' stored RSVP differs from their reaction.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_raid import peak_rss_mb, spawn_process, suite_env, wait_until
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from dcs.temporal import bundled_binary
from domain.events import CHOICE_EMOJI, EMOJI_CHOICE, EventSpec
from simulator import DiscordSimulator
from simulator.config import SimulatorConfig
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.events import get_event, list_rsvps
from storage.servers import ensure_server
from workflows.event_control import create_event, event_view

SINGLE_CORE = False
"""Separate processes (gateway, worker, Temporal, simulator)."""

REACTIONS = 5_000
SECONDS = 10.0
MEMBERS = 4_000


def plan(rng: random.Random, members: list[int]) -> list[tuple[int, str, bool]]:
    """Exactly REACTIONS reaction events (user, emoji, added), each member's in order."""
    emojis = list(CHOICE_EMOJI.values())
    per_member: list[list[tuple[int, str, bool]]] = []
    total = 0
    for user in members:
        first, second = rng.sample(emojis, 2)
        roll = rng.random()
        if roll < 0.15:  # changes their mind
            ops = [(user, first, True), (user, second, True), (user, first, False)]
        elif roll < 0.22:  # reacts, then takes it back
            ops = [(user, first, True), (user, first, False)]
        else:
            ops = [(user, first, True)]
        if total + len(ops) > REACTIONS:
            ops = ops[: REACTIONS - total]
        per_member.append(ops)
        total += len(ops)
        if total == REACTIONS:
            break
    # interleave members, keeping each member's own order
    events: list[tuple[int, str, bool]] = []
    queues = [list(ops) for ops in per_member]
    while queues:
        i = rng.randrange(len(queues))
        events.append(queues[i].pop(0))
        if not queues[i]:
            queues.pop(i)
    return events


def _truth(post: Any, bot_id: int) -> dict[str, int]:
    counts = {"going": 0, "maybe": 0, "declined": 0}
    seen: dict[int, list[str]] = {}
    for emoji, reaction in post.reactions.items():
        choice = EMOJI_CHOICE.get(emoji)
        for user in reaction.user_ids:
            if choice and user != bot_id:
                seen.setdefault(user, []).append(choice)
    for chosen in seen.values():
        counts[chosen[0]] += 1  # the plan leaves at most one reaction per member
    return counts


def _embed_counts(post: Any) -> dict[str, int]:
    fields = {f["name"]: f["value"] for f in post.embeds[0]["fields"]}
    return {
        "going": int(fields["✅ Going"].split("/")[0]),
        "maybe": int(fields["🤔 Maybe"]),
        "declined": int(fields["❌ Can't"]),
    }


async def run_burst(workdir: Path) -> dict[str, Any]:
    """Create an event, send the burst, and wait for every view of the counts to agree."""
    db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_database_async(db)
    engine = create_engine(db)
    sessions = make_sessionmaker(engine)
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal")
    )
    sim = DiscordSimulator(SimulatorConfig(enforce_member_restrictions=False))
    await sim.start(port=0)
    gateway = worker = None
    try:
        world, guild_id = sim.world, sim.world.guild_id
        guild = world.guilds[guild_id]
        now = datetime.now(UTC)
        members: list[int] = []
        for i in range(MEMBERS):
            fan = world.add_user(f"fan{i:04d}", created_at=now - timedelta(days=400))
            sim.engine.add_member(guild, fan, joined_at=now - timedelta(days=100))
            members.append(fan.id)
        async with sessions() as session, session.begin():
            await ensure_server(session, guild_id, "Sandbox Community")
        port = int(sim.base_url.rsplit(":", 1)[1])
        queue = f"bench-rsvp-{uuid.uuid4().hex[:8]}"
        env = suite_env(port, db, temporal.client.service_client.config.target_host, queue, workdir)
        worker = spawn_process("worker", env, workdir / "worker.log")
        gateway = spawn_process("gateway", env, workdir / "gateway.log")
        # the commands synced: connected
        await wait_until(lambda: sim.requests("PUT", None) or None, 90)
        await asyncio.sleep(3.0)
        spec = EventSpec(
            title="Launch party",
            start=now + timedelta(days=1),
            timezone="Europe/Berlin",
            channel_id=world.channel("events"),
            reminders=(),
        )
        event_id = await create_event(
            temporal.client, sessions, queue, guild_id, spec, world.owner_id, now
        )

        async def posted() -> Any:
            view = await event_view(temporal.client, guild_id, event_id)
            return view if view.message_id else None

        view = await wait_until(posted, 60)
        post = world.get_message(world.channel("events"), view.message_id)
        await asyncio.sleep(2.0)  # the gateway sees the post's row before members react
        events = plan(random.Random(42), members)
        started = time.monotonic()
        step = SECONDS / len(events)
        for i, (user, emoji, added) in enumerate(events):
            if added:
                sim.engine.add_reaction(post, user, emoji)
            else:
                sim.engine.remove_reaction(post, user, emoji)
            lag = started + (i + 1) * step - time.monotonic()
            if lag > 0:
                await asyncio.sleep(lag)
        sent_in = time.monotonic() - started
        truth = _truth(post, world.bot_id)

        async def agreed() -> dict[str, dict[str, int]] | None:
            views = await _views(temporal.client, sessions, guild_id, event_id, post)
            return views if all(v == truth for v in views.values()) else None

        try:
            await wait_until(agreed, 120, step=0.25)
            settled = time.monotonic() - started
        except TimeoutError:
            settled = float("nan")
        views = await _views(temporal.client, sessions, guild_id, event_id, post)
        mismatches = sum(views[w][k] != truth[k] for w in views for k in truth)
        stored = await _stored(sessions, guild_id, event_id)
        members_wrong = _members_wrong(post, stored, world.bot_id)
        return {
            "sent": len(events),
            "sent_in_s": sent_in,
            "settled_s": settled,
            "truth": truth,
            "views": views,
            "mismatches": mismatches,
            "members_wrong": members_wrong,
            "gateway_rss_mb": peak_rss_mb(gateway.pid),
            "worker_rss_mb": peak_rss_mb(worker.pid),
        }
    finally:
        for proc in (gateway, worker):
            if proc is not None:
                proc.kill()
        await sim.stop()
        await temporal.shutdown()
        await engine.dispose()


async def _views(
    client: Client, sessions: Any, guild_id: int, event_id: int, post: Any
) -> dict[str, dict[str, int]]:
    view = await event_view(client, guild_id, event_id)
    async with sessions() as session:
        row = await get_event(session, guild_id, event_id)
    assert row is not None
    return {
        "workflow": {
            "going": view.counts.going,
            "maybe": view.counts.maybe,
            "declined": view.counts.declined,
        },
        "database": {
            "going": row.going_count,
            "maybe": row.maybe_count,
            "declined": row.declined_count,
        },
        "embed": _embed_counts(post),
    }


async def _stored(sessions: Any, guild_id: int, event_id: int) -> dict[int, str]:
    stored: dict[int, str] = {}
    cursor = None
    async with sessions() as session:
        while True:
            page = await list_rsvps(session, guild_id, event_id, 0, cursor=cursor, limit=100)
            stored.update((r.user_id, r.status) for r in page.items)
            cursor = page.next_cursor
            if not cursor:
                return stored


def _members_wrong(post: Any, stored: dict[int, str], bot_id: int) -> int:
    actual: dict[int, str] = {}
    for emoji, reaction in post.reactions.items():
        for user in reaction.user_ids:
            if emoji in EMOJI_CHOICE and user != bot_id:
                actual[user] = EMOJI_CHOICE[emoji]
    return sum(stored.get(u) != c for u, c in actual.items()) + len(set(stored) - set(actual))


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``."""
    with tempfile.TemporaryDirectory(prefix="dcs-bench-rsvp-") as tmp:
        out = asyncio.run(run_burst(Path(tmp)))
    common = {
        "members": MEMBERS,
        "sent_over_s": round(out["sent_in_s"], 2),
        "truth": out["truth"],
        "members_with_wrong_stored_rsvp": out["members_wrong"],
    }
    return {
        "rsvp_burst_reactions": {"value": out["sent"], "unit": "reactions", **common},
        "rsvp_burst_mismatches": {
            "value": out["mismatches"],
            "unit": "counts",
            "max": 0,
            "compared": "going/maybe/declined in the workflow, the events row and the embed",
            **common,
        },
        "rsvp_burst_seconds": {
            "value": round(out["settled_s"], 2),
            "unit": "s",
            "measured": "first reaction to every count right everywhere",
            "gateway_peak_rss_mb": round(out["gateway_rss_mb"], 1),
            "worker_peak_rss_mb": round(out["worker_rss_mb"], 1),
        },
    }
