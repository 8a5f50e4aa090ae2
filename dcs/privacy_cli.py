"""`dcs user export|erase --server ID --user ID`: the GDPR endpoints from the shell.

The same code as `GET /api/servers/{id}/users/{userId}/export` and `DELETE .../users/{userId}`;
export prints the JSON document, erase prints the counts (the audit entry's actor is `cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from dcs.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `user` subcommand and its `export` and `erase` actions."""
    user = sub.add_parser("user", help="export or erase what the suite holds about a member")
    actions = user.add_subparsers(dest="subcommand", required=True)
    for name, text in [
        ("export", "print every row naming the member in the server, as JSON"),
        ("erase", "delete or anonymise every row naming the member in the server"),
    ]:
        action = actions.add_parser(name, help=text)
        action.add_argument("--server", type=int, required=True, help="guild id")
        action.add_argument("--user", type=int, required=True, help="the member's Discord id")
    return user


async def _run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from storage.engine import create_engine, make_sessionmaker
    from storage.privacy import erase_member_audited, export_member

    engine = create_engine(settings.database_url)
    try:
        sessions = make_sessionmaker(engine)
        if args.subcommand == "export":
            async with sessions() as session:
                tables = await export_member(session, args.server, args.user)
            return {"server_id": str(args.server), "user_id": str(args.user), "tables": tables}
        workflows = await _terminate(args, settings)
        async with sessions() as session, session.begin():
            counts = await erase_member_audited(
                session, args.server, args.user, actor="cli", workflows=dict(workflows)
            )
        return {"deleted": counts.deleted, "anonymised": counts.anonymised, "workflows": workflows}
    finally:
        await engine.dispose()


async def _terminate(args: argparse.Namespace, settings: Settings) -> dict[str, str]:
    from api.routers.privacy import terminate_member_workflows
    from dcs.temporal import connect

    try:
        client = await asyncio.wait_for(connect(settings), timeout=10)
    except Exception:  # reported as "unreachable": erase again once Temporal is back
        client = None
    return dict(await terminate_member_workflows(client, args.server, args.user))


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the action and print its JSON result."""
    print(json.dumps(asyncio.run(_run(args, settings)), indent=2, default=str))
    return 0
