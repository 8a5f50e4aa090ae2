"""API tokens: create, find a live one by hash, list, revoke."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import APIToken
from storage.servers import ensure_server_exists


async def create_token(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    token_hash: str,
    guild_id: int | None,
    expires_at: datetime | None,
) -> APIToken:
    """Store a new token's hash; a server-scoped token registers the server if needed."""
    if guild_id is not None:
        await ensure_server_exists(session, guild_id)
    row = APIToken(
        name=name, role=role, token_hash=token_hash, guild_id=guild_id, expires_at=expires_at
    )
    session.add(row)
    await session.flush()
    return row


async def find_token(session: AsyncSession, token_hash: str, *, now: datetime) -> APIToken | None:
    """The token with this hash if it is neither revoked nor expired."""
    row = await session.scalar(select(APIToken).where(APIToken.token_hash == token_hash))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row


async def list_tokens(session: AsyncSession) -> list[APIToken]:
    """Every token, newest first (hashes stay in the database)."""
    return list(await session.scalars(select(APIToken).order_by(APIToken.id.desc())))


async def revoke_token(session: AsyncSession, token_id: int, *, now: datetime) -> bool:
    """Mark a token revoked; False when there is no such token."""
    row = await session.get(APIToken, token_id)
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now
    return True
