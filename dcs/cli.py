"""The `dcs` command: up, worker, api, gateway, simulator, migrate, demo, token."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError

from dcs.settings import Settings, load_settings


def _settings() -> Settings:
    """Load settings or exit with a message naming each bad variable."""
    try:
        return load_settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        ]
        print("Invalid configuration:\n" + "\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def _run_async(factory: Callable[[Settings], Coroutine[Any, Any, None]]) -> int:
    """Run a process; SIGTERM cancels it so workers and servers shut down cleanly."""
    from dcs.processes import configure_logging

    settings = _settings()
    configure_logging(settings)

    async def _main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await factory(settings)

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_main())
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    """Bring the database schema to the newest migration."""
    from storage.engine import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    print(f"database at {settings.database_url.split('@')[-1]} is up to date")
    return 0


def cmd_up(_: argparse.Namespace) -> int:
    """Migrate, then run every process under the supervisor until Ctrl-C."""
    from dcs.sandbox import prepare_sandbox, print_banner
    from dcs.supervisor import Supervisor
    from storage.engine import upgrade_database

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.database_url)
    token_file = asyncio.run(prepare_sandbox(settings)) if settings.sandbox else None
    supervisor = Supervisor(settings)
    try:
        supervisor.start()
    except (RuntimeError, FileNotFoundError) as exc:
        supervisor.stop()
        print(f"could not start the suite: {exc}", file=sys.stderr)
        return 1
    print_banner(settings, token_file)
    code = supervisor.watch()
    supervisor.stop()
    return code


def cmd_worker(_: argparse.Namespace) -> int:
    """Run a Temporal worker with every workflow and activity."""
    from dcs.processes import run_worker

    return _run_async(run_worker)


def cmd_api(_: argparse.Namespace) -> int:
    """Serve the REST management API."""
    from dcs.processes import run_api

    return _run_async(run_api)


def cmd_gateway(_: argparse.Namespace) -> int:
    """Connect to Discord (or the sandbox simulator) and run the fast path."""
    from dcs.processes import run_gateway

    return _run_async(run_gateway)


def cmd_telegram(_: argparse.Namespace) -> int:
    """Run the Telegram approval bot (Approve / Reject / Modify buttons)."""
    from dcs.processes import run_telegram

    return _run_async(run_telegram)


def cmd_simulator(_: argparse.Namespace) -> int:
    """Run the local Discord simulator that sandbox mode talks to."""
    from dcs.sandbox import run_simulator

    return _run_async(run_simulator)


def cmd_demo(args: argparse.Namespace) -> int:
    """Drive a short scripted scenario through the sandbox and print what happened."""
    from dcs.demo import run_demo

    settings = _settings()
    if not settings.sandbox:
        print("dcs demo needs sandbox mode: unset DISCORD_BOT_TOKEN", file=sys.stderr)
        return 2
    return run_demo(settings, keep_running=args.keep_running)


def cmd_token(args: argparse.Namespace) -> int:
    """Create, list, revoke or rotate API tokens."""
    from dcs.tokens import token_command

    return asyncio.run(token_command(_settings(), args))


def cmd_automod(args: argparse.Namespace) -> int:
    """Dry-run the automod rules on messages (nothing is acted on)."""
    from dcs.automod_check import run_check

    database_url = _settings().database_url if args.server is not None else None
    return run_check(args, database_url)


def cmd_faq(args: argparse.Namespace) -> int:
    """Import a FAQ knowledge base (Markdown or CSV) into a server."""
    from dcs.faq_cli import run_import

    return run_import(args, _settings().database_url)


def cmd_user(args: argparse.Namespace) -> int:
    """GDPR: export or erase what the suite holds about a member in a server."""
    from dcs.privacy_cli import run

    return run(args, _settings())


def cmd_report(args: argparse.Namespace) -> int:
    """Render a server's weekly analytics report as a PNG."""
    from dcs.report import run as run_report

    return run_report(args, _settings().database_url)


def cmd_tier(args: argparse.Namespace) -> int:
    """Show or change a server's tier (billing; audit-logged)."""
    from dcs.tier_cli import run_tier

    return run_tier(args, _settings().database_url)


def cmd_usage(args: argparse.Namespace) -> int:
    """Usage reports for billing, one row per server."""
    from dcs.tier_cli import run_usage

    return run_usage(args, _settings().database_url)


def cmd_selfcheck(args: argparse.Namespace) -> int:
    """Check a server: the bot's permissions, channels and roles, and the integrations."""
    from dcs.self_check import run_cli

    return asyncio.run(run_cli(args.server, _settings(), as_json=args.json))


def build_parser() -> argparse.ArgumentParser:
    """All subcommands with their help."""
    parser = argparse.ArgumentParser(prog="dcs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in [
        ("up", cmd_up),
        ("worker", cmd_worker),
        ("api", cmd_api),
        ("gateway", cmd_gateway),
        ("simulator", cmd_simulator),
        ("telegram", cmd_telegram),
        ("migrate", cmd_migrate),
    ]:
        sub.add_parser(name, help=(func.__doc__ or "").strip()).set_defaults(func=func)
    demo = sub.add_parser("demo", help=(cmd_demo.__doc__ or "").strip())
    demo.add_argument("--keep-running", action="store_true", help="leave the suite up afterwards")
    demo.set_defaults(func=cmd_demo)
    token = sub.add_parser("token", help=(cmd_token.__doc__ or "").strip())
    tsub = token.add_subparsers(dest="subcommand", required=True)
    create = tsub.add_parser("create", help="create a token; the secret is printed once")
    create.add_argument("--server", type=int, default=None, help="guild id (omit: all servers)")
    create.add_argument("--role", choices=["admin", "moderator", "viewer"], default="viewer")
    create.add_argument("--name", default="cli")
    create.add_argument("--expires-days", type=int, default=None)
    tsub.add_parser("list", help="list tokens (never their secrets)")
    revoke = tsub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id", type=int)
    rotate = tsub.add_parser(
        "rotate", help="revoke a token and print a replacement (same name, server, role, lifetime)"
    )
    rotate.add_argument("token_id", type=int)
    token.set_defaults(func=cmd_token)
    from dcs.automod_check import add_parser as add_automod_parser

    add_automod_parser(sub).set_defaults(func=cmd_automod)
    from dcs.faq_cli import add_parser as add_faq_parser

    add_faq_parser(sub).set_defaults(func=cmd_faq)
    from dcs.privacy_cli import add_parser as add_user_parser

    add_user_parser(sub).set_defaults(func=cmd_user)
    from dcs.tier_cli import add_parsers as add_tier_parsers

    tier_parser, usage_parser = add_tier_parsers(sub)
    tier_parser.set_defaults(func=cmd_tier)
    usage_parser.set_defaults(func=cmd_usage)
    from dcs.report import add_parser as add_report_parser

    add_report_parser(sub).set_defaults(func=cmd_report)
    from dcs.self_check import add_parser as add_selfcheck_parser

    add_selfcheck_parser(sub).set_defaults(func=cmd_selfcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
