"""Bearer API tokens: stored hashed, scoped to one server (or all), with a role.

A live token's lookup is cached in the process for a few seconds (API_TOKEN_CACHE_SECONDS,
default 5; 0 turns it off), keyed by the token's hash: a dashboard polling every second costs
one token query per TTL instead of one per request. Expiry is checked on every request against
the cached `expires_at`, so an expired token is refused at once. A revocation (or any change or
deletion of the token's row) made through the ORM in this process, as `storage.tokens.revoke_token`
and `rotate_token` do, empties the cache when its transaction commits. One made by another process
(`dcs token revoke` from a shell, another API worker, another replica) is seen by this process
at most API_TOKEN_CACHE_SECONDS later: that is the staleness bound. Unknown, revoked and expired
tokens are never cached, so a new token works at once and every refusal is counted.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.ratelimit import check_rate, record_auth_failure
from storage.models import APIToken
from storage.tokens import find_token

log = logging.getLogger(__name__)

ROLE_RANK = {"viewer": 0, "moderator": 1, "admin": 2}
TOKEN_PREFIX = "dcs_"  # noqa: S105 - a visible prefix, not a secret
DEFAULT_TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MAX_ENTRIES = 10_000


def new_token_secret() -> str:
    """A fresh token the user sees once; only its hash is stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 is right for high-entropy random tokens (no password stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's id, role and server scope (None = every server)."""

    token_id: int
    name: str
    role: str
    guild_id: int | None

    def require(self, guild_id: int, role: str) -> None:
        """Refuse a call outside the token's server or above its role."""
        if self.guild_id is not None and self.guild_id != guild_id:
            raise ApiError(403, "forbidden", "This token is not valid for that server.")
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            raise ApiError(
                403, "forbidden", f"This needs the {role} role; the token is {self.role}."
            )


@dataclass(frozen=True)
class _Cached:
    caller: Caller
    expires_at: datetime | None  # the token's own expiry
    fresh_until: float  # time.monotonic() after which the row is read again


class TokenCache:
    """Live tokens by hash for `ttl` seconds; emptied when this process changes a token row.

    `generation` guards the race of a lookup that read the row before a revocation committed and
    would store it after: `put` drops the entry when an invalidation happened in between.
    """

    def __init__(self, ttl: float, max_entries: int = TOKEN_CACHE_MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[str, _Cached] = {}
        _CACHES.add(self)

    def get(self, token_hash: str, now: datetime) -> Caller | None:
        """The cached caller while fresh and the token unexpired; None means: read the row."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.fresh_until <= time.monotonic() or (
            entry.expires_at is not None and entry.expires_at <= now
        ):
            self._entries.pop(token_hash, None)
            return None
        return entry.caller

    def put(
        self, token_hash: str, caller: Caller, expires_at: datetime | None, generation: int
    ) -> None:
        """Remember a live token read while `generation` was current."""
        if self.ttl <= 0 or generation != self.generation:
            return
        if token_hash not in self._entries and len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry: stay bounded
        self._entries[token_hash] = _Cached(caller, expires_at, time.monotonic() + self.ttl)

    def clear(self) -> None:
        """Forget every token (a token row changed) and fail lookups already in flight."""
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def invalidate_token_caches() -> None:
    """Empty every token cache of this process (every app built in it)."""
    for cache in list(_CACHES):
        cache.clear()


_TOUCHED = "dcs_api_tokens_changed"


@event.listens_for(Session, "after_flush")
def _note_token_changes(session: Session, _context: Any) -> None:
    """A flush that changed or deleted a token row: empty the caches now and after the commit."""
    if any(isinstance(obj, APIToken) for obj in itertools.chain(session.dirty, session.deleted)):
        session.info[_TOUCHED] = True
        invalidate_token_caches()


@event.listens_for(Session, "after_commit")
def _drop_cached_tokens(session: Session) -> None:
    """Once the change is visible to other transactions, drop what was read before it."""
    if session.info.pop(_TOUCHED, False):
        invalidate_token_caches()


@event.listens_for(Session, "after_rollback")
def _forget_token_changes(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def _token_cache(request: Request) -> TokenCache:
    """The app's cache, built on first use with the TTL from the settings."""
    state = request.app.state
    cache: TokenCache | None = getattr(state, "token_cache", None)
    if cache is None:
        cache = state.token_cache = TokenCache(_settings_ttl())
    return cache


def _settings_ttl() -> float:
    from dcs.settings import Settings

    try:
        return float(Settings().api_token_cache_seconds)
    except ValueError as exc:
        log.warning("settings unreadable, token cache %ss: %s", DEFAULT_TOKEN_CACHE_SECONDS, exc)
        return DEFAULT_TOKEN_CACHE_SECONDS


_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_READ_ONLY = "_dcs_read_only"
READ_ONLY_SESSION = "dcs_read_only"
"""`session.info` key set on a read-only request's session; `_refuse_writes` checks it."""


def read_only(endpoint: _Endpoint) -> _Endpoint:
    """Mark an endpoint whose request only ever reads (put it under `@router.get(...)`).

    Its session refuses any write (a flush or a statement other than a SELECT) with a
    RuntimeError. Such an endpoint's hot query may run outside any transaction
    (`storage.direct_select.DirectSelect`: one SELECT on a pooled connection, no `BEGIN` or
    `ROLLBACK`), so the statements of one request do not share a snapshot: mark only endpoints
    whose answer does not depend on that.
    """
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY_SESSION):
        raise RuntimeError("a read-only request's session cannot write (see api.auth.read_only)")


@event.listens_for(Session, "do_orm_execute")
def _refuse_writes(state: Any) -> None:
    if not state.is_select and state.session.info.get(READ_ONLY_SESSION):
        raise RuntimeError("a read-only request's session runs SELECTs only (api.auth.read_only)")


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's database session, shared by `authenticate` and the endpoint.

    FastAPI resolves a dependency once per request, so a request opens one session, not two,
    and it takes a connection only when something uses it. An endpoint marked `read_only` gets
    a session that refuses writes.
    """
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        if getattr(request.scope.get("endpoint"), _READ_ONLY, False):
            session.info[READ_ONLY_SESSION] = True
        yield session


async def authenticate(
    request: Request, session: Annotated[AsyncSession | None, Depends(request_session)] = None
) -> Caller:
    """Resolve the Authorization header to a live token or answer 401.

    Refusals are counted per client IP and token prefix (api.ratelimit); a live token over its
    role's per-minute rate gets 429. The token is read in the request's own session (then its
    transaction is ended, so the endpoint may open one), unless the cache knows it. Called
    directly, without a session (`await authenticate(request)`), it opens one when it must.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        record_auth_failure(request, "", "no bearer token")
        raise ApiError(401, "unauthorized", "Send an API token: 'Authorization: Bearer <token>'.")
    secret = token.strip()
    token_hash = hash_token(secret)
    cache = _token_cache(request)
    now = datetime.now(UTC)
    caller = cache.get(token_hash, now)
    if caller is None:
        if session is None:
            async with request.app.state.sessions() as own:
                caller = await _look_up(own, cache, token_hash, now)
        else:
            caller = await _look_up(session, cache, token_hash, now)
    if caller is None:
        record_auth_failure(request, secret, "unknown, revoked or expired token")
        raise ApiError(401, "unauthorized", "The API token is unknown, revoked or expired.")
    check_rate(request, caller.token_id, caller.role)
    return caller


async def _look_up(
    session: AsyncSession, cache: TokenCache, token_hash: str, now: datetime
) -> Caller | None:
    """Read a live token's row (and cache it); the session's transaction is ended after."""
    generation = cache.generation
    row = await find_token(session, token_hash, now=now)
    caller = None
    if row is not None:
        caller = Caller(token_id=row.id, name=row.name, role=row.role, guild_id=row.guild_id)
        cache.put(token_hash, caller, row.expires_at, generation)
        session.expunge(row)
    await session.rollback()  # a read only: the endpoint may begin its own transaction
    return caller
