"""Helpers shared by the memory benchmarks: RSS and CPU of a process tree, a least-squares
slope, and guilds added to the Discord simulator's world (it seeds only one)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def children(pid: int, proc: Path = PROC) -> list[int]:
    """Every descendant of `pid` (through each of its threads' children lists)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in (proc / str(current) / "task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in kids:
                if int(kid) not in found:
                    found.append(int(kid))
                    todo.append(int(kid))
    return found


def vm_rss_kb(status_text: str) -> int:
    """The VmRSS line of a /proc/<pid>/status text, in kB (0 when absent: a zombie)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int, proc: Path = PROC) -> float:
    """Resident memory of `pid` and all its descendants, in MB (MiB, as /proc counts kB)."""
    total = 0
    for p in [pid, *children(pid, proc)]:
        try:
            total += vm_rss_kb((proc / str(p) / "status").read_text())
        except OSError:
            continue
    return total / 1024


def cpu_seconds(stat_text: str) -> float:
    """utime + stime of a /proc/<pid>/stat text, in seconds."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_s(pid: int, proc: Path = PROC) -> float:
    """CPU time used so far by `pid` and its live descendants, in seconds."""
    total = 0.0
    for p in [pid, *children(pid, proc)]:
        try:
            total += cpu_seconds((proc / str(p) / "stat").read_text())
        except OSError:
            continue
    return total


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        raise ValueError("a slope needs at least two points")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        raise ValueError("all x are equal")
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(v, 2) for v in os.getloadavg()]


async def settle(
    pid: int, idle_share: float = 0.05, window: float = 3.0, limit: float = 300.0
) -> float:
    """Wait until the process tree uses under `idle_share` of a core for `window` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = tree_cpu_s(pid)
        await asyncio.sleep(window)
        if tree_cpu_s(pid) - before < idle_share * window:
            return time.monotonic()
    raise TimeoutError(f"process {pid} still busy after {limit}s")


@dataclass
class BuiltGuild:
    """A guild added to the simulator: its id, owner, channels by name, roles, members."""

    id: int
    owner_id: int
    channels: dict[str, int]
    roles: dict[str, int]
    member_ids: list[int]


CHANNELS = ("welcome", "general", "support", "mod-log", "events", "off-topic")
ROLES = ("Muted", "Member", "Moderator")


def add_guild(sim: Any, name: str, members: int, now: datetime | None = None) -> BuiltGuild:
    """Add a guild like the sandbox's (roles, text channels, a category) with its own owner,
    `members` members and the bot, straight into the simulator's world (`World.add_guild`;
    before the gateway connects, so it arrives in GUILD_CREATE)."""
    from simulator.models import Channel, ChannelType, Member, Overwrite, Role
    from simulator.permissions import MODERATOR, Perm

    world = sim.world
    now = now or datetime.now(UTC)
    created = now - timedelta(days=400)
    guild = world.add_guild(name, created_at=created, bot_role_position=len(ROLES) + 1)
    mine = next(r for r in guild.roles.values() if r.bot_id == world.bot_id)
    roles: dict[str, int] = {}
    perms = {"Moderator": int(MODERATOR)}
    for position, role_name in enumerate(ROLES, start=1):
        role = Role(world.new_id(created), role_name, perms.get(role_name, 0), position)
        guild.roles[role.id] = role
        roles[role_name] = role.id
    category = world.add_channel(
        Channel(world.new_id(created), ChannelType.GUILD_CATEGORY, guild.id, "Community")
    )
    channels: dict[str, int] = {}
    for position, channel_name in enumerate(CHANNELS):
        overwrites = []
        if channel_name == "mod-log":
            overwrites = [
                Overwrite(guild.id, 0, 0, int(Perm.VIEW_CHANNEL)),
                Overwrite(roles["Moderator"], 0, int(Perm.VIEW_CHANNEL)),
                Overwrite(mine.id, 0, int(Perm.VIEW_CHANNEL)),
            ]
        channel = Channel(
            world.new_id(created),
            ChannelType.GUILD_TEXT,
            guild.id,
            channel_name,
            position,
            parent_id=category.id,
            overwrites=overwrites,
        )
        channels[channel_name] = world.add_channel(channel).id
    guild.system_channel_id = channels["welcome"]
    ids: list[int] = []
    for i in range(members):
        user = world.add_user(f"{name}-m{i}", created_at=now - timedelta(days=300 + i % 900))
        member_roles = [roles["Member"]] + ([roles["Moderator"]] if i == 0 else [])
        guild.members[user.id] = Member(
            user.id, guild.id, joined_at=now - timedelta(days=10 + i % 200), roles=member_roles
        )
        ids.append(user.id)
    return BuiltGuild(guild.id, guild.owner_id, channels, roles, ids)
