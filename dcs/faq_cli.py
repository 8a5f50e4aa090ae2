"""`dcs faq import --server ID FILE`: load a Markdown or CSV knowledge base from the shell.

The same parser and the same all-or-nothing rule as `POST /api/servers/{id}/faq/import`: a bad
file prints every problem and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from domain.faq import EntryDraft, parse_entries


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `faq` subcommand and its `import` action."""
    faq = sub.add_parser("faq", help="manage a server's FAQ knowledge base")
    actions = faq.add_subparsers(dest="subcommand", required=True)
    load = actions.add_parser("import", help="import a Markdown or CSV file (all or nothing)")
    load.add_argument("--server", type=int, required=True, help="guild id")
    load.add_argument("--replace", action="store_true", help="remove existing entries first")
    load.add_argument("--format", choices=["markdown", "csv"], default=None)
    load.add_argument("file", type=Path)
    return faq


async def store_entries(
    database_url: str, guild_id: int, drafts: list[EntryDraft], replace: bool
) -> int:
    """Write the entries in one transaction; the number stored."""
    from storage.engine import create_engine, make_sessionmaker
    from storage.faq import create_entries

    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            rows = await create_entries(session, guild_id, drafts, replace=replace)
    finally:
        await engine.dispose()
    return len(rows)


def run_import(args: argparse.Namespace, database_url: str) -> int:
    """Parse the file; on any problem print them all and exit 1, else store and report."""
    try:
        content = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else None)
    drafts, problems = parse_entries(content, fmt)
    if problems:
        print(f"{args.file}: not imported, {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    count = asyncio.run(store_entries(database_url, args.server, drafts, args.replace))
    print(f"imported {count} FAQ entries into server {args.server}")
    return 0
