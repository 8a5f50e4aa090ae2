"""Health marks: the gateway's heartbeat, and which failing checks were already alerted about.

A row per key in `health_marks`. Every gateway process upserts its own heartbeat every
HEARTBEAT_SECONDS, "connected" or "disconnected": `gateway` when unsharded, `gateway:<count>:<ids>`
for a shard group (`gateway:4:0-1`: shards 0 and 1 of 4). So any process (the API's readiness
probe, the worker's health-check schedule) can tell live gateways from dead or disconnected ones
without talking to them, group by group (`domain.health.gateway_result`). `alert:<check>` rows
mark a failing check the staff were told about; the row goes when the check recovers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.health import GATEWAY_MARK, HEARTBEAT_SECONDS, GatewayMark, gateway_mark_key
from storage.models import HealthMark
from storage.upsert import insert

log = logging.getLogger(__name__)

GATEWAY_KEY = GATEWAY_MARK
"""The unsharded gateway's heartbeat key (a shard group's: `gateway_mark_key`)."""
ALERT_PREFIX = "alert:"


async def put_mark(session: AsyncSession, key: str, at: datetime, detail: str = "") -> None:
    """Create or overwrite one mark."""
    stmt = insert(session, HealthMark).values(key=key, at=at, detail=detail)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["key"], set_={"at": at, "detail": detail})
    )


async def get_mark(session: AsyncSession, key: str) -> HealthMark | None:
    """One mark, or None."""
    return await session.get(HealthMark, key)


def heartbeat_key(shard_count: int | None, shard_ids: Iterable[int] | None = None) -> str:
    """The heartbeat key of a gateway process with these shards (`gateway` when unsharded)."""
    return gateway_mark_key(shard_count, shard_ids)


async def gateway_marks(session: AsyncSession) -> list[GatewayMark]:
    """Every gateway process's heartbeat, of any shard layout (`gateway`, `gateway:*`)."""
    rows = await session.scalars(
        select(HealthMark).where(
            or_(HealthMark.key == GATEWAY_KEY, HealthMark.key.startswith(GATEWAY_KEY + ":"))
        )
    )
    return [GatewayMark(row.key, row.at, row.detail) for row in rows]


async def alerted_checks(session: AsyncSession) -> set[str]:
    """Names of the checks currently marked as alerted."""
    rows = await session.scalars(
        select(HealthMark.key).where(HealthMark.key.startswith(ALERT_PREFIX))
    )
    return {key.removeprefix(ALERT_PREFIX) for key in rows}


async def claim_alert(session: AsyncSession, check: str, at: datetime, detail: str) -> bool:
    """Mark `check` as alerted; False when it already was (someone else told the staff)."""
    stmt = insert(session, HealthMark).values(key=ALERT_PREFIX + check, at=at, detail=detail)
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    return bool(getattr(result, "rowcount", 0))


async def clear_alert(session: AsyncSession, check: str) -> bool:
    """Forget the alert of a recovered check; True when there was one."""
    result = await session.execute(delete(HealthMark).where(HealthMark.key == ALERT_PREFIX + check))
    return bool(getattr(result, "rowcount", 0))


async def write_heartbeats(
    sessions: async_sessionmaker[AsyncSession],
    connected: Callable[[], bool],
    every_s: float = HEARTBEAT_SECONDS,
    key: str = GATEWAY_KEY,
) -> None:
    """A gateway process's loop: upsert `key` with "connected" or "disconnected" until cancelled.

    A database hiccup skips one beat (the probe tolerates three missed beats) instead of ending it.
    """
    while True:
        state = "connected" if connected() else "disconnected"
        try:
            async with sessions() as session, session.begin():
                await put_mark(session, key, datetime.now(UTC), state)
        except Exception:
            log.warning("could not write the gateway heartbeat %s", key, exc_info=True)
        await asyncio.sleep(every_s)
