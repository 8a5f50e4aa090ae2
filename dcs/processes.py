"""Entry points of the suite's long-running processes: worker, API, gateway, sandbox simulator."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import sys
import time

import uvicorn
from temporalio.client import Client

from activities.ai_review import AIReviewActivities
from activities.discord_rest import DiscordHttp
from activities.health import HealthActivities
from api.app import create_app
from approvals.telegram_activities import TelegramActivities
from approvals.telegram_config import telegram_endpoint
from dcs import metrics
from dcs.settings import Settings
from dcs.temporal import build_worker, connect, health_checker
from gateway.bot import build_bot
from gateway.http_interactions import start_relay
from simulator import point_discord_py_at
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from workflows.health_check import ensure_health_check_schedule
from workflows.maintenance import ensure_maintenance_schedules
from workflows.scam_feed import ensure_scam_feed_schedule

log = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    """One log format for every process; secrets are SecretStr and never rendered."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)


async def _ensure_scam_feed_schedule(client: Client, settings: Settings) -> None:
    """Create or update the scam-feed refresh schedule; a failure must not stop the worker."""
    try:
        await ensure_scam_feed_schedule(client, settings)
    except Exception:
        log.exception("could not create or update the scam-feed refresh schedule")


async def _ensure_maintenance_schedules(client: Client, settings: Settings) -> None:
    """Create or update retention, rollup and approval-alert schedules; never stops the worker."""
    from activities.maintenance import RetentionPolicy

    policy = RetentionPolicy(settings.retention_message_days, settings.retention_log_days)
    try:
        await ensure_maintenance_schedules(client, settings.temporal_task_queue, policy)
    except Exception:
        log.exception("could not create or update the maintenance schedules")


async def _ensure_health_check_schedule(client: Client, settings: Settings) -> None:
    """Create or update `maintenance:health-check`; a failure must not stop the worker."""
    try:
        await ensure_health_check_schedule(client, settings.temporal_task_queue)
    except Exception:
        log.exception("could not create or update the health-check schedule")


def _serve_metrics(port: int, settings: Settings) -> None:
    """Expose this process's Prometheus metrics on `port` (0: off); a busy port is logged."""
    try:
        if metrics.serve(port, settings.metrics_host):
            log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
    except OSError:
        log.exception("could not serve metrics on port %d", port)


async def run_worker(settings: Settings) -> None:
    """Host every workflow and activity until cancelled."""
    await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url)
    http = DiscordHttp(settings.effective_discord_api_url, settings.bot_token)
    client = await connect(settings)
    sessions = make_sessionmaker(engine)
    ai_review = AIReviewActivities(settings, sessions)
    ai_review.warm_up()
    telegram = TelegramActivities(sessions, telegram_endpoint(settings))
    worker = build_worker(
        client,
        settings.temporal_task_queue,
        sessions,
        http,
        ai_review=ai_review,
        telegram=telegram,
        health=HealthActivities(health_checker(client, sessions, settings), sessions),
    )
    await _ensure_scam_feed_schedule(client, settings)
    await _ensure_maintenance_schedules(client, settings)
    await _ensure_health_check_schedule(client, settings)
    _serve_metrics(settings.metrics_port_worker, settings)
    log.info("worker polling task queue %s", settings.temporal_task_queue)
    try:
        await worker.run()
    finally:
        await http.aclose()
        await ai_review.aclose()
        await telegram.aclose()
        await engine.dispose()


API_RESTART_LIMIT = 5
API_RESTART_WINDOW_S = 60.0


def api_worker_count(settings: Settings) -> int:
    """API_WORKERS, where 0 means one per CPU this process may run on."""
    if settings.api_workers > 0:
        return settings.api_workers
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(cpus) if cpus else (os.cpu_count() or 1))


async def run_api(settings: Settings) -> None:
    """Serve the management API (OpenAPI docs at /docs), in API_WORKERS processes.

    One worker serves in this process. Several are child processes sharing one listening socket
    (the kernel hands each new connection to one of them), each with its own event loop (uvloop
    when installed), engine and pool, and its own in-memory state: per-token rate limits,
    failed-authentication counts, the token cache and `/metrics` counters are per worker. This
    process migrates the database once, restarts a worker that dies (giving up, and stopping
    the others, when one dies API_RESTART_LIMIT times in API_RESTART_WINDOW_S) and stops them
    on SIGTERM or Ctrl-C.
    """
    await upgrade_database_async(settings.database_url)
    workers = api_worker_count(settings)
    if workers == 1:
        await _serve_api(settings, None)
        return
    listener = socket.create_server((settings.api_host, settings.api_port), backlog=2048)
    listener.set_inheritable(True)
    log.info("API on http://%s:%d with %d worker processes", *listener.getsockname()[:2], workers)
    try:
        await _supervise_api_workers(settings, listener, workers)
    finally:
        listener.close()


async def _supervise_api_workers(settings: Settings, listener: socket.socket, count: int) -> None:
    spawn = multiprocessing.get_context("spawn")
    multiprocessing.allow_connection_pickling()
    workers: list[multiprocessing.process.BaseProcess] = []
    deaths: list[float] = []

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(
            target=_api_worker_main, args=(settings, listener), name="dcs-api-worker", daemon=True
        )
        process.start()
        return process

    try:
        workers = [start() for _ in range(count)]
        while True:
            await asyncio.sleep(0.5)
            for n, process in enumerate(workers):
                if process.is_alive():
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if now - t < API_RESTART_WINDOW_S] + [now]
                if len(deaths) > API_RESTART_LIMIT:
                    raise RuntimeError(
                        f"API workers died {len(deaths)} times in {API_RESTART_WINDOW_S:g} s"
                    )
                log.error("API worker %d exited with %s; restarting it", n, process.exitcode)
                workers[n] = start()
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + 15
        for process in workers:
            await asyncio.to_thread(process.join, max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()


def _api_worker_main(settings: Settings, listener: socket.socket) -> None:
    """One API worker process: its own event loop, engine and app on the shared socket."""
    _die_with_parent()
    configure_logging(settings)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        asyncio.run(_serve_api(settings, listener))
    else:
        uvloop.run(_serve_api(settings, listener))


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker if `dcs api` itself dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def _serve_api(settings: Settings, listener: socket.socket | None) -> None:
    engine = create_engine(settings.database_url)
    app = create_app(make_sessionmaker(engine))
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
    )
    try:
        await uvicorn.Server(config).serve(sockets=[listener] if listener is not None else None)
    finally:
        await engine.dispose()


async def run_gateway(settings: Settings) -> None:
    """Connect to Discord (or the simulator in sandbox mode) and run the fast path."""
    await upgrade_database_async(settings.database_url)
    if settings.sandbox:
        log.warning(
            "SANDBOX MODE: no DISCORD_BOT_TOKEN; using the local Discord simulator at %s",
            settings.sandbox_url,
        )
        point_discord_py_at(settings.sandbox_url)
    engine = create_engine(settings.database_url)
    client = await connect(settings)
    _serve_metrics(settings.metrics_port_gateway, settings)
    bot = build_bot(
        shard_count=settings.discord_shard_count,
        shard_ids=settings.shard_ids,
        temporal=client,
        task_queue=settings.temporal_task_queue,
        sessions=make_sessionmaker(engine),
        sandbox=settings.sandbox,
        priority_dispatch=settings.gateway_priority_dispatch,
    )
    if settings.discord_shard_count is not None:
        log.info(
            "gateway shards %s of %d",
            settings.shard_ids or f"0-{settings.discord_shard_count - 1}",
            settings.discord_shard_count,
        )
    relay = await start_relay(bot, settings)  # Discord HTTP interactions, relayed by the API
    try:
        await bot.start(settings.bot_token)
    finally:
        if relay is not None:
            await relay.stop()
        await bot.close()
        await engine.dispose()


async def run_telegram(settings: Settings) -> None:
    """Run the Telegram approval bot (the sandbox's local Telegram when no token is set)."""
    import asyncio

    from approvals.telegram_bot import TelegramApprovals, run_application

    endpoint = telegram_endpoint(settings)
    if endpoint is None:
        log.warning("Telegram is not configured (TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID)")
        return
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll otherwise
    await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url)
    client = await connect(settings)
    bot = TelegramApprovals(make_sessionmaker(engine), client, endpoint)
    log.info("Telegram approval bot polling %s", endpoint.api_url)
    try:
        await run_application(bot.build_application(), asyncio.Event())
    finally:
        await engine.dispose()
