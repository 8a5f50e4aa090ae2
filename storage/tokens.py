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


async def rotate_token(
    session: AsyncSession, token_id: int, *, token_hash: str, now: datetime
) -> APIToken | None:
    """Revoke a live token and store its replacement (same name, server, role and lifetime).

    The replacement keeps the old token's lifetime (expires_at - created_at) counted from now, so
    a 90-day token is replaced by a 90-day token. None when the token is unknown, revoked or
    expired: a dead credential is replaced with `create`, on purpose, not revived.
    """
    old = await session.get(APIToken, token_id)
    if old is None or old.revoked_at is not None:
        return None
    expires_at = old.expires_at
    if expires_at is not None:
        if expires_at <= now:
            return None
        expires_at = now + (expires_at - old.created_at)
    old.revoked_at = now
    return await create_token(
        session,
        name=old.name,
        role=old.role,
        token_hash=token_hash,
        guild_id=old.guild_id,
        expires_at=expires_at,
    )


async def revoke_token(session: AsyncSession, token_id: int, *, now: datetime) -> bool:
    """Mark a token revoked; False when there is no such token."""
    row = await session.get(APIToken, token_id)
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now
    return True
