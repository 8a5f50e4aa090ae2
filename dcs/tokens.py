"""`dcs token create|list|revoke|rotate`: manage API tokens from the shell."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from api.auth import hash_token, new_token_secret
from dcs.settings import Settings
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.tokens import create_token, list_tokens, revoke_token, rotate_token


async def issue_token(
    settings: Settings, *, name: str, role: str, guild_id: int | None, expires_days: int | None
) -> str:
    """Create a token and return its secret (shown once, stored only as a hash)."""
    secret = new_token_secret()
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await create_token(
                session,
                name=name,
                role=role,
                token_hash=hash_token(secret),
                guild_id=guild_id,
                expires_at=expires,
            )
    finally:
        await engine.dispose()
    return secret


async def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch the token subcommands."""
    await upgrade_database_async(settings.database_url)
    if args.subcommand == "create":
        secret = await issue_token(
            settings,
            name=args.name,
            role=args.role,
            guild_id=args.server,
            expires_days=args.expires_days,
        )
        print(secret)
        return 0
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if args.subcommand == "list":
                for t in await list_tokens(session):
                    state = "revoked" if t.revoked_at else "active"
                    scope = t.guild_id if t.guild_id is not None else "all"
                    print(f"{t.id}\t{t.name}\t{t.role}\tserver={scope}\t{state}")
                return 0
            if args.subcommand == "rotate":
                secret = new_token_secret()
                new = await rotate_token(
                    session, args.token_id, token_hash=hash_token(secret), now=datetime.now(UTC)
                )
                if new is None:
                    print(f"no active token {args.token_id}")
                    return 1
                await session.flush()
                print(f"token {args.token_id} revoked; replacement id {new.id} (shown once):")
                print(secret)
                return 0
            if await revoke_token(session, args.token_id, now=datetime.now(UTC)):
                print(f"token {args.token_id} revoked")
                return 0
            print(f"no token {args.token_id}")
            return 1
    finally:
        await engine.dispose()
