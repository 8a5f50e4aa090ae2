"""Guild rows: existence, versioned configuration with history, and per-guild number counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Server, ServerConfigHistory
from storage.types import utcnow
from storage.upsert import insert


class VersionConflict(Exception):
    """The config changed since the caller read it; re-read, merge and try again."""

    def __init__(self, guild_id: int, expected: int, actual: int) -> None:
        super().__init__(f"guild {guild_id}: config is at version {actual}, not {expected}")
        self.guild_id = guild_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """One stored version of a guild's config, and who stored it."""

    guild_id: int
    version: int
    config: dict[str, Any]
    changed_by: str
    changed_at: datetime


async def ensure_server(session: AsyncSession, guild_id: int, name: str) -> None:
    """Insert the guild, or refresh its name: guilds get renamed."""
    now = utcnow()
    stmt = insert(session, Server).values(id=guild_id, name=name, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Server.id],
        set_={"name": name, "updated_at": now},
        where=Server.name != name,
    )
    await session.execute(stmt)


async def ensure_server_exists(session: AsyncSession, guild_id: int) -> None:
    """Insert a nameless guild row if missing, so rows that reference it can be written."""
    now = utcnow()
    stmt = insert(session, Server).values(id=guild_id, created_at=now, updated_at=now)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[Server.id]))


async def lock_server(session: AsyncSession, guild_id: int) -> None:
    """Create if needed and lock the guild row until commit, serialising per-guild writers.

    On SQLite the insert already holds the database write lock (transactions are IMMEDIATE).
    """
    await ensure_server_exists(session, guild_id)
    await session.execute(select(Server.id).where(Server.id == guild_id).with_for_update())


async def get_server_config(
    session: AsyncSession, guild_id: int
) -> tuple[dict[str, Any] | None, int]:
    """The guild's stored config and its version; (None, 0) for a guild never configured."""
    row = (
        await session.execute(
            select(Server.config, Server.config_version).where(Server.id == guild_id)
        )
    ).one_or_none()
    return (None, 0) if row is None else (row.config, row.config_version)


async def config_versions(session: AsyncSession, guild_ids: list[int]) -> dict[int, int]:
    """Current config version of each known guild among `guild_ids`, to spot changed configs."""
    if not guild_ids:
        return {}
    rows = await session.execute(
        select(Server.id, Server.config_version).where(Server.id.in_(guild_ids))
    )
    return {guild_id: version for guild_id, version in rows}


async def put_server_config(
    session: AsyncSession,
    guild_id: int,
    config: dict[str, Any],
    *,
    expected_version: int | None,
    changed_by: str,
    now: datetime | None = None,
) -> int:
    """Store a new config version and its history row; with `expected_version`, only if current.

    Raises `VersionConflict` (having changed nothing) when another writer got there first.
    """
    now = now or utcnow()
    version = await _bump_config(session, guild_id, config, expected_version, now)
    if version is None:
        _, actual = await get_server_config(session, guild_id)
        raise VersionConflict(guild_id, expected_version or 0, actual)
    session.add(
        ServerConfigHistory(
            guild_id=guild_id, version=version, config=config, changed_by=changed_by, changed_at=now
        )
    )
    await session.flush()
    return version


async def list_server_config_history(
    session: AsyncSession, guild_id: int, *, limit: int = 50
) -> list[ConfigVersion]:
    """Stored config versions, newest first."""
    rows = await session.scalars(
        select(ServerConfigHistory)
        .where(ServerConfigHistory.guild_id == guild_id)
        .order_by(ServerConfigHistory.version.desc())
        .limit(limit)
    )
    return [
        ConfigVersion(r.guild_id, r.version, r.config, r.changed_by, r.changed_at) for r in rows
    ]


async def allocate_case_number(session: AsyncSession, guild_id: int) -> int:
    """The guild's next case number; the row stays locked until commit, so numbers never repeat."""
    return await _take_next(session, guild_id, Server.next_case_number)


async def allocate_ticket_number(session: AsyncSession, guild_id: int) -> int:
    """The guild's next ticket number, allocated like case numbers."""
    return await _take_next(session, guild_id, Server.next_ticket_number)


async def _take_next(
    session: AsyncSession, guild_id: int, counter: InstrumentedAttribute[int]
) -> int:
    """Increment a per-guild counter in one statement and return the value it had."""
    await ensure_server_exists(session, guild_id)
    stmt = (
        update(Server)
        .where(Server.id == guild_id)
        .values({counter: counter + 1})
        .returning(counter)
        .execution_options(synchronize_session=False)
    )
    taken: int = (await session.execute(stmt)).scalar_one() - 1
    return taken


async def _bump_config(
    session: AsyncSession,
    guild_id: int,
    config: dict[str, Any],
    expected: int | None,
    now: datetime,
) -> int | None:
    """Write the config if the version matches; the new version, or None on a conflict."""
    stmt = (
        update(Server)
        .where(Server.id == guild_id)
        .values(config=config, config_version=Server.config_version + 1, updated_at=now)
        .returning(Server.config_version)
        .execution_options(synchronize_session=False)
    )
    if expected is not None:
        stmt = stmt.where(Server.config_version == expected)
    for _ in range(2):  # the second pass covers a guild inserted by a concurrent writer
        version: int | None = (await session.execute(stmt)).scalar_one_or_none()
        if version is not None or expected not in (None, 0):
            return version
        if await _insert_configured(session, guild_id, config, now):
            return 1
    return None


async def _insert_configured(
    session: AsyncSession, guild_id: int, config: dict[str, Any], now: datetime
) -> bool:
    """Insert a guild at config version 1; False if another writer inserted it first."""
    stmt = (
        insert(session, Server)
        .values(id=guild_id, config=config, config_version=1, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[Server.id])
        .returning(Server.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
