"""Entry points of the suite's long-running processes: worker, API, gateway, sandbox simulator."""

from __future__ import annotations

import logging

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
from gateway.bot import SuiteBot
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


async def run_api(settings: Settings) -> None:
    """Serve the management API (OpenAPI docs at /docs)."""
    await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url)
    app = create_app(make_sessionmaker(engine))
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower()
    )
    try:
        await uvicorn.Server(config).serve()
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
    bot = SuiteBot(
        temporal=client,
        task_queue=settings.temporal_task_queue,
        sessions=make_sessionmaker(engine),
        sandbox=settings.sandbox,
        priority_dispatch=settings.gateway_priority_dispatch,
    )
    try:
        await bot.start(settings.bot_token)
    finally:
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
