"""Snapshots of the scam-domain feed: a new row only when the list changed (by SHA-256)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ScamDomainList
from storage.types import utcnow


@dataclass(frozen=True)
class ScamListSnapshot:
    """One stored list, as the gateway and the activity need it."""

    id: int
    source: str
    domains: tuple[str, ...]
    domain_count: int
    sha256: str
    fetched_at: datetime


def list_digest(domains: Iterable[str]) -> str:
    """SHA-256 of the sorted, de-duplicated list: the same domains give the same digest."""
    body = "\n".join(sorted(set(domains)))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _snapshot(row: ScamDomainList) -> ScamListSnapshot:
    return ScamListSnapshot(
        id=row.id,
        source=row.source,
        domains=tuple(row.domains),
        domain_count=row.domain_count,
        sha256=row.sha256,
        fetched_at=row.fetched_at,
    )


async def latest_id(session: AsyncSession) -> int | None:
    """Id of the newest snapshot (cheap: the gateway polls it)."""
    return await session.scalar(select(func.max(ScamDomainList.id)))


async def latest(session: AsyncSession) -> ScamListSnapshot | None:
    """The newest stored snapshot, or None before the first successful refresh."""
    row = await session.scalar(select(ScamDomainList).order_by(ScamDomainList.id.desc()).limit(1))
    return None if row is None else _snapshot(row)


async def save_if_changed(
    session: AsyncSession,
    *,
    source: str,
    domains: Iterable[str],
    fetched_at: datetime | None = None,
) -> tuple[ScamListSnapshot, bool]:
    """Store the list unless the newest snapshot holds the same domains; (snapshot, stored?)."""
    ordered = sorted(set(domains))
    digest = list_digest(ordered)
    newest = await session.scalar(
        select(ScamDomainList).order_by(ScamDomainList.id.desc()).limit(1)
    )
    if newest is not None and newest.sha256 == digest:
        return _snapshot(newest), False
    row = ScamDomainList(
        source=source[:500],
        domains=ordered,
        domain_count=len(ordered),
        sha256=digest,
        fetched_at=fetched_at or utcnow(),
    )
    session.add(row)
    await session.flush()
    return _snapshot(row), True
