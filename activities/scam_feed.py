"""Refresh the scam-domain list from the configured feed and keep a snapshot when it changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.scam_links import FeedError, parse_domain_feed
from storage.scam_domains import save_if_changed

log = logging.getLogger(__name__)

MALFORMED_FEED = "MalformedScamFeed"
"""Error type of a feed that is not a usable list: retrying cannot fix it."""
FETCH_FAILED = "ScamFeedFetchFailed"
MAX_FEED_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RefreshScamFeedInput:
    """Where the feed is, and how patiently to retry a fetch that failed."""

    url: str
    max_attempts: int = 5
    retry_initial_seconds: float = 30.0


@dataclass(frozen=True)
class ScamFeedResult:
    """The snapshot in force after the refresh, and whether this refresh stored it."""

    snapshot_id: int
    changed: bool
    domain_count: int
    sha256: str


class ScamFeedActivities:
    """Fetches the feed over HTTP (client injected, or one per call) and stores snapshots."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient | None = None,
        *,
        max_bytes: int = MAX_FEED_BYTES,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._max_bytes = max_bytes

    @activity.defn(name="refresh_scam_feed")
    async def refresh_scam_feed(self, inp: RefreshScamFeedInput) -> ScamFeedResult:
        """Fetch, validate and store the list; a malformed feed leaves the stored one alone."""
        body = await self._fetch(inp.url)
        try:
            text = body.decode("utf-8-sig")
            domains = parse_domain_feed(text)
        except (UnicodeDecodeError, FeedError) as exc:
            raise ApplicationError(
                f"scam feed {inp.url} is malformed: {exc}", type=MALFORMED_FEED, non_retryable=True
            ) from exc
        async with self._sessions() as session, session.begin():
            snapshot, changed = await save_if_changed(session, source=inp.url, domains=domains)
        log.info(
            "scam feed %s: %d domains, %s (snapshot %d)",
            inp.url,
            snapshot.domain_count,
            "stored" if changed else "unchanged",
            snapshot.id,
        )
        return ScamFeedResult(snapshot.id, changed, snapshot.domain_count, snapshot.sha256)

    async def _fetch(self, url: str) -> bytes:
        """The feed's bytes; network errors and bad statuses are retryable, oversize is not."""
        if self._http is not None:
            return await self._read(self._http, url)
        async with httpx.AsyncClient(timeout=60.0, follow_redirects=True) as client:
            return await self._read(client, url)

    async def _read(self, client: httpx.AsyncClient, url: str) -> bytes:
        try:
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
                if resp.status_code != 200:
                    raise ApplicationError(
                        f"scam feed {url} answered HTTP {resp.status_code}", type=FETCH_FAILED
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise ApplicationError(
                            f"scam feed {url} is larger than {self._max_bytes:,} bytes",
                            type=MALFORMED_FEED,
                            non_retryable=True,
                        )
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ApplicationError(
                f"scam feed {url} could not be fetched: {exc!r}", type=FETCH_FAILED
            ) from exc
        return b"".join(chunks)
