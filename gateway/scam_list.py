"""The scam-link detector the gateway uses: the newest stored feed snapshot, else the shipped one.

The gateway calls :meth:`ScamListCache.refresh` every few seconds alongside the config poll;
that costs one ``max(id)`` query, and the list is loaded (and the detector rebuilt, off the
event loop) only when a newer snapshot has been stored by the feed workflow.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dcs.scam_snapshot import shipped_detector
from domain.scam_links import ScamLinkDetector
from storage.scam_domains import latest, latest_id

log = logging.getLogger(__name__)


class ScamListCache:
    """Holds the current detector; swaps it when a newer snapshot appears in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._detector: ScamLinkDetector | None = None
        self._snapshot_id: int | None = None

    @property
    def detector(self) -> ScamLinkDetector:
        """The detector in force (the shipped snapshot until a stored one has been loaded)."""
        if self._detector is None:
            self._detector = shipped_detector()
        return self._detector

    @property
    def snapshot_id(self) -> int | None:
        """Id of the stored snapshot in use, or None while the shipped one is."""
        return self._snapshot_id

    async def refresh(self) -> bool:
        """Load a newer stored snapshot if there is one; True when the detector changed.

        A database error keeps the detector in force (logged), so a blip never drops the list.
        """
        try:
            async with self._sessions() as session:
                newest = await latest_id(session)
                if newest is None or newest == self._snapshot_id:
                    return False
                snapshot = await latest(session)
        except SQLAlchemyError:
            log.warning("could not read the scam-domain snapshot; keeping the current list")
            return False
        if snapshot is None:
            return False
        self._detector = await asyncio.to_thread(ScamLinkDetector, snapshot.domains)
        self._snapshot_id = snapshot.id
        log.info(
            "scam-link list: snapshot %d from %s (%d domains)",
            snapshot.id,
            snapshot.source,
            snapshot.domain_count,
        )
        return True
