"""Bearer API tokens: stored hashed, scoped to one server (or all), with a role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError
from api.ratelimit import check_rate, record_auth_failure
from storage.tokens import find_token

ROLE_RANK = {"viewer": 0, "moderator": 1, "admin": 2}
TOKEN_PREFIX = "dcs_"  # noqa: S105 - a visible prefix, not a secret


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


async def authenticate(request: Request) -> Caller:
    """Resolve the Authorization header to a live token or answer 401.

    Refusals are counted per client IP and token prefix (api.ratelimit); a live token over its
    role's per-minute rate gets 429.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        record_auth_failure(request, "", "no bearer token")
        raise ApiError(401, "unauthorized", "Send an API token: 'Authorization: Bearer <token>'.")
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        row = await find_token(session, hash_token(token.strip()), now=datetime.now(UTC))
    if row is None:
        record_auth_failure(request, token.strip(), "unknown, revoked or expired token")
        raise ApiError(401, "unauthorized", "The API token is unknown, revoked or expired.")
    check_rate(request, row.id, row.role)
    return Caller(token_id=row.id, name=row.name, role=row.role, guild_id=row.guild_id)
