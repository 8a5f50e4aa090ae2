"""Run the simulator standalone: ``python -m simulator --host 127.0.0.1 --port 8765``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal

from .config import SimulatorConfig
from .server import DiscordSimulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--token", default=None, help="require this bot token (default: any)")
    parser.add_argument(
        "--heartbeat-ms", type=int, default=41_250, help="gateway heartbeat interval"
    )
    parser.add_argument("--print-ids", action="store_true", help="print seed ids as JSON")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the simulator and run until SIGINT/SIGTERM."""
    config = SimulatorConfig(token=args.token, heartbeat_interval_ms=args.heartbeat_ms)
    sim = DiscordSimulator(config)
    await sim.start(args.host, args.port)
    print(f"Discord simulator listening on {sim.base_url}", flush=True)
    print(f"  REST    {sim.api_base}", flush=True)
    print(f"  gateway {sim.gateway_url}", flush=True)
    print(f"  control {sim.base_url}/_sim/state", flush=True)
    if args.print_ids:
        print(json.dumps(sim.world.ids(), indent=2), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
