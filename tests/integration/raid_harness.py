"""Shared pieces of the raid lockdown tests: a worker on the simulator, starting a lockdown,
and reading the server's state back so a lift can be compared with what was there before."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from moderation_harness import configure
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.temporal import moderation_activities, raid_activities
from domain.lockdown import RaidReport, RaidSuspect
from simulator import DiscordSimulator
from storage.models import RaidIncident, RaidIncidentMember
from workflows.raid import REPORT_SIGNAL, RaidLockdownInput, RaidLockdownWorkflow

PERMS = "/channels/{channel_id}/permissions/{overwrite_id}"
GUILD = "/guilds/{guild_id}"
INCIDENT = "/guilds/{guild_id}/incident-actions"
BULK_BAN = "/guilds/{guild_id}/bulk-ban"


def make_worker(
    client: Client, queue: str, sessions, sim: DiscordSimulator, helpers, **options: Any
) -> Worker:
    http = DiscordHttp(sim.api_base, "sandbox-token")
    return Worker(
        client,
        task_queue=queue,
        workflows=[RaidLockdownWorkflow],
        activities=[
            *moderation_activities(sessions, http),
            *raid_activities(sessions, http),
            *helpers.activities(sessions),
        ],
        **options,
    )


@contextlib.asynccontextmanager
async def running(client, queue, sessions, sim, helpers, **options) -> AsyncIterator[Worker]:
    async with make_worker(client, queue, sessions, sim, helpers, **options) as worker:
        yield worker


async def configure_raid(sessions, sim: DiscordSimulator, **lockdown: Any) -> None:
    """The guild's config with #mod-log and these lockdown settings."""
    await configure(sessions, sim, raid={"lockdown": lockdown})


def suspect(sim: DiscordSimulator, user_id: int, invite: str | None = None) -> RaidSuspect:
    user = sim.world.users[user_id]
    return RaidSuspect(
        user_id=user_id,
        score=3,
        reasons=("account younger than a day",),
        username=user.username,
        joined_at=datetime.now(UTC),
        account_created_at=datetime.now(UTC) - timedelta(hours=2),
        invite_code=invite,
    )


async def start_lockdown(
    client: Client,
    queue: str,
    sim: DiscordSimulator,
    suspects: tuple[RaidSuspect, ...] = (),
    **inp: Any,
) -> WorkflowHandle[Any, Any]:
    """Signal-with-start, as the gateway does (a unique id so tests never collide)."""
    started = await client.start_workflow(
        RaidLockdownWorkflow.run,
        RaidLockdownInput(sim.world.guild_id, **inp),
        id=f"raid:{sim.world.guild_id}:{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        start_signal=REPORT_SIGNAL,
        start_signal_args=[RaidReport(datetime.now(UTC), suspects)],
    )
    return client.get_workflow_handle_for(RaidLockdownWorkflow.run, started.id)


def server_state(sim: DiscordSimulator) -> dict[str, Any]:
    """What a lockdown changes, as plain values: compare before and after a lift."""
    guild = sim.world.guilds[sim.world.guild_id]
    channels = {}
    for channel_id in guild.channel_ids:
        ch = sim.world.channels[channel_id]
        overwrites = sorted((o.id, o.type, o.allow, o.deny) for o in ch.overwrites)
        channels[ch.name] = (overwrites, ch.rate_limit_per_user)
    return {
        "verification_level": guild.verification_level,
        "invites_paused": guild.invites_disabled_until is not None
        and guild.invites_disabled_until > datetime.now(UTC),
        "channels": channels,
    }


async def incident_rows(sessions, guild_id: int) -> list[RaidIncident]:
    async with sessions() as session:
        rows = await session.scalars(
            select(RaidIncident)
            .where(RaidIncident.guild_id == guild_id)
            .order_by(RaidIncident.incident_number)
        )
        return list(rows)


async def member_rows(sessions, guild_id: int) -> list[RaidIncidentMember]:
    async with sessions() as session:
        rows = await session.scalars(
            select(RaidIncidentMember)
            .where(RaidIncidentMember.guild_id == guild_id)
            .order_by(RaidIncidentMember.id)
        )
        return list(rows)
