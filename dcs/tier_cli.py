"""`dcs tier set|show` and `dcs usage report`: tiers and billing for the operator.

Tiers are billing, so they are changed here (or by an operator's all-servers admin token on
`PUT /api/servers/{id}/tier`), never by a server's own admins; each change is audit-logged with
the actor `cli` and re-evaluates the account's limits at once (docs/tiers.md).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import UTC, datetime
from typing import Any

from domain.tiers import TIERS, parse_month


def _month(text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `tier` and `usage` subcommands."""
    tier = sub.add_parser("tier", help="show or change a server's tier (billing; audit-logged)")
    actions = tier.add_subparsers(dest="subcommand", required=True)
    put = actions.add_parser("set", help="put a server on a tier; its limits apply at once")
    put.add_argument("--server", type=int, required=True, help="guild id")
    put.add_argument("--tier", choices=TIERS, required=True)
    show = actions.add_parser("show", help="a server's tier, limits and this month's usage")
    show.add_argument("--server", type=int, required=True, help="guild id")
    usage = sub.add_parser("usage", help="usage reports for billing")
    uactions = usage.add_subparsers(dest="subcommand", required=True)
    report = uactions.add_parser(
        "report", help="one row per server: tier, members, AI calls, tokens and cost"
    )
    report.add_argument("--month", type=_month, default=None, help="YYYY-MM (default: this month)")
    report.add_argument("--format", choices=["csv", "json"], default="csv")
    report.add_argument("--server", type=int, default=None, help="only this guild")
    return tier, usage


def run_tier(args: argparse.Namespace, database_url: str) -> int:
    """`dcs tier set|show`: print the outcome as JSON."""
    print(json.dumps(asyncio.run(_tier(args, database_url)), indent=2))
    return 0


def run_usage(args: argparse.Namespace, database_url: str) -> int:
    """`dcs usage report`: the month's rows as CSV (with a header) or a JSON list."""
    from storage.tiers import REPORT_COLUMNS, report_csv_row

    month = args.month or datetime.now(UTC).strftime("%Y-%m")
    rows = asyncio.run(_report(database_url, month, args.server))
    if args.format == "json":
        print(json.dumps([r.to_json(month) for r in rows], indent=2))
        return 0
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow(report_csv_row(row, month))
    return 0


async def _tier(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    from storage.engine import create_engine, make_sessionmaker
    from storage.tiers import set_tier, usage_report

    engine = create_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        month = datetime.now(UTC).strftime("%Y-%m")
        if args.subcommand == "set":
            async with sessions() as session, session.begin():
                change = await set_tier(session, args.server, args.tier, actor="cli")
            return {
                "server_id": str(args.server),
                "before": change.before,
                "after": change.after,
                "changed": change.before != change.after,
                "limit_changes": [
                    {"server_id": str(c.guild_id), "before": c.before, "after": c.after}
                    for c in change.changes
                ],
            }
        async with sessions() as session:
            rows = await usage_report(session, month, [args.server])
        if not rows:
            return {"server_id": str(args.server), "error": "unknown server"}
        return rows[0].to_json(month)
    finally:
        await engine.dispose()


async def _report(database_url: str, month: str, server: int | None) -> list[Any]:
    from storage.engine import create_engine, make_sessionmaker
    from storage.tiers import usage_report

    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await usage_report(session, month, None if server is None else [server])
    finally:
        await engine.dispose()
