"""A server's self-check, the I/O part (domain.self_check judges the Discord side).

It reads the guild from Discord (GET only), the config and its announcements, tickets, events and
lockdown from the database, and asks Telegram, the AI providers and Temporal whether they answer.

Nothing is changed anywhere: Discord gets only GET requests, Telegram `getMe` and `getChat`, each
AI provider one GET of its configured model (free: it checks the key without generating), Temporal
describe calls. Every probe is bounded by PROBE_TIMEOUT_S, and every failure becomes a finding.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from activities.discord_rest import DiscordHttp
from activities.health import HealthChecker
from dcs.server_config import ConfigError, ServerConfig, default_server_config, parse_server_config
from dcs.settings import Settings
from domain.announcements import schedule_id
from domain.self_check import (
    CATEGORY,
    TEXT,
    TEXT_LIKE,
    ChannelInfo,
    ChannelNeed,
    Finding,
    GuildView,
    Needs,
    Overwrite,
    PermissionNeed,
    Report,
    RoleInfo,
    RoleNeed,
    evaluate,
)
from storage.models import Announcement, Event, RaidIncident, SupportTicket
from storage.servers import get_server_config

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
TemporalGetter = Callable[[], Awaitable[Client]]
_POST = ("view_channel", "send_messages", "embed_links")
_T = TypeVar("_T")


# --------------------------------------------------------------------------- what the config needs


@dataclass(frozen=True)
class ServerRecords:
    """The server's rows the self-check looks at."""

    announcements: list[tuple[int, int, bool]]
    """(number, channel_id, schedule expected) per announcement."""
    open_tickets: list[int]
    live_events: list[int]
    raid_active: bool


def needs_of(config: ServerConfig, records: ServerRecords | None = None) -> Needs:
    """Every permission, channel and role the server's config (and its announcements) relies on."""
    perms: list[PermissionNeed] = [
        PermissionNeed("view_channel", "seeing channels and messages"),
        PermissionNeed("send_messages", "replies, the mod-log, alerts"),
        PermissionNeed("embed_links", "case, event and ticket embeds"),
        PermissionNeed("read_message_history", "purge, reports and transcripts", required=False),
        PermissionNeed("manage_messages", "deleting messages automod and spam catch"),
        PermissionNeed("moderate_members", "timeouts (ladder, spam, /mute)"),
        PermissionNeed("add_reactions", "RSVP reactions on event posts", required=False),
    ]
    ladder = {step.action for step in config.escalation.steps}
    lockdown = config.raid.lockdown
    removal = lockdown.removal_action if lockdown.propose_removal else None
    verification = config.verification
    perms.append(PermissionNeed("kick_members", "kicks", "kick" in ladder or removal == "kick"))
    if verification.enabled and verification.on_timeout == "kick":
        perms.append(PermissionNeed("kick_members", "kicking unverified members at the deadline"))
    if config.anti_nuke.enabled and config.anti_nuke.bot_action == "kick":
        perms.append(PermissionNeed("kick_members", "kicking a rogue bot (anti-nuke)"))
    perms.append(PermissionNeed("ban_members", "bans", "ban" in ladder or removal == "ban"))
    perms.append(
        PermissionNeed(
            "view_audit_log",
            "anti-nuke and recording manual bans/kicks as cases",
            config.anti_nuke.enabled,
        )
    )
    grants = _granted_roles(config)
    perms.append(
        PermissionNeed(
            "manage_roles",
            "granting roles (rewards, verification, quarantine) and lockdown overwrites",
            bool(grants) or lockdown.auto or config.anti_nuke.enabled,
        )
    )
    tickets = config.tickets
    perms.append(
        PermissionNeed(
            "manage_channels",
            "lockdown slowmode and ticket channels",
            (lockdown.auto and lockdown.slowmode_seconds > 0)
            or (tickets.enabled and tickets.mode == "channel"),
        )
    )
    perms.append(
        PermissionNeed(
            "manage_guild",
            "raising the verification level and pausing invites in a lockdown",
            lockdown.auto and (lockdown.pause_invites or lockdown.verification_level > 0),
        )
    )
    thread_tickets = tickets.enabled and tickets.mode == "thread"
    for name in ("create_private_threads", "manage_threads", "send_messages_in_threads"):
        perms.append(PermissionNeed(name, "ticket threads", thread_tickets))
    perms.append(
        PermissionNeed(
            "attach_files",
            "rank cards and ticket transcripts",
            config.xp.enabled or tickets.log_channel_id is not None,
        )
    )
    perms.append(
        PermissionNeed("manage_events", "Discord scheduled events", config.events.discord_sync)
    )
    return Needs(perms, _channel_needs(config, records), _role_needs(config, grants))


def _granted_roles(config: ServerConfig) -> list[tuple[str, int]]:
    """(purpose, role id) of every role the bot gives or takes away."""
    out = [(f"level {r.level} reward", r.role_id) for r in config.xp.role_rewards]
    out += [(f"achievement {a.key}", a.role_id) for a in config.achievements or [] if a.role_id]
    v = config.verification
    if v.enabled:
        out += [
            (f"verification {label}", role_id)
            for label, role_id in (
                ("verified", v.verified_role_id),
                ("unverified", v.unverified_role_id),
                ("quarantine", v.quarantine_role_id),
            )
            if role_id is not None
        ]
    if config.anti_nuke.enabled and config.anti_nuke.quarantine_role_id is not None:
        out.append(("anti-nuke quarantine", config.anti_nuke.quarantine_role_id))
    for rule in config.automod.rules:
        for action in rule.actions:
            if action.role_id is not None and rule.enabled:
                out.append((f"automod {rule.rule_name} {action.type}", action.role_id))
    return out


def _channel_needs(config: ServerConfig, records: ServerRecords | None) -> list[ChannelNeed]:
    text = TEXT_LIKE
    needs: list[ChannelNeed] = []
    if config.mod_log_channel_id is not None:
        needs.append(ChannelNeed("mod-log", config.mod_log_channel_id, _POST, text))
    tickets = config.tickets
    if tickets.enabled and tickets.log_channel_id is not None:
        needs.append(
            ChannelNeed("ticket log", tickets.log_channel_id, (*_POST, "attach_files"), text)
        )
    if tickets.enabled and tickets.parent_channel_id is not None:
        if tickets.mode == "thread":
            thread_perms = ("view_channel", "create_private_threads", "send_messages_in_threads")
            needs.append(
                ChannelNeed(
                    "ticket parent", tickets.parent_channel_id, thread_perms, frozenset({TEXT})
                )
            )
        else:
            needs.append(
                ChannelNeed(
                    "ticket category",
                    tickets.parent_channel_id,
                    ("view_channel", "manage_channels", "manage_roles"),
                    frozenset({CATEGORY}),
                )
            )
    if config.events.channel_id is not None:
        needs.append(ChannelNeed("events", config.events.channel_id, _POST, text))
    xp = config.xp
    if xp.enabled and xp.announce == "channel" and xp.announce_channel_id is not None:
        needs.append(ChannelNeed("level-up", xp.announce_channel_id, _POST, text))
    if config.verification.enabled and config.verification.channel_id is not None:
        needs.append(ChannelNeed("verification", config.verification.channel_id, _POST, text))
    for number, channel_id, _ in records.announcements if records else []:
        needs.append(ChannelNeed(f"announcement {number}", channel_id, _POST, text))
    lockdown = config.raid.lockdown
    for channel_id in lockdown.channel_ids:
        needs.append(
            ChannelNeed("lockdown", channel_id, ("view_channel", "manage_roles"), required=False)
        )
    listed = [
        ("automod exempt", config.automod.exempt_channel_ids),
        ("no-XP", xp.no_xp_channel_ids),
        ("FAQ allowed", config.faq.allow_channel_ids),
        ("FAQ denied", config.faq.deny_channel_ids),
        ("AI support allowed", config.support_ai.allow_channel_ids),
        ("AI support denied", config.support_ai.deny_channel_ids),
        ("lockdown excluded", lockdown.exclude_channel_ids),
    ]
    for purpose, ids in listed:
        needs += [ChannelNeed(purpose, channel_id, required=False) for channel_id in ids]
    return _unique(needs)


def _role_needs(config: ServerConfig, grants: list[tuple[str, int]]) -> list[RoleNeed]:
    needs = [RoleNeed(purpose, role_id, grant=True) for purpose, role_id in grants]
    listed = [
        ("approver", config.approvals.approver_role_ids),
        ("ticket support", config.tickets.support_role_ids),
        ("event manager", config.events.manager_role_ids),
        ("automod exempt", config.automod.exempt_role_ids),
        ("no-XP", config.xp.no_xp_role_ids),
        ("anti-nuke trusted", config.anti_nuke.trusted_role_ids),
    ]
    for category in config.tickets.categories:
        listed.append((f"ticket {category.name}", category.role_ids))
    if config.events.ping_role_id is not None:
        listed.append(("event ping", [config.events.ping_role_id]))
    for purpose, ids in listed:
        needs += [RoleNeed(purpose, role_id, required=False) for role_id in ids]
    return _unique(needs)


def _unique(items: list[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- Discord


class _NotInGuild(Exception):
    pass


async def read_guild(http: DiscordHttp, guild_id: int) -> GuildView:
    """The guild as the bot sees it, by GET requests only."""
    me = await http.request("GET", "/users/@me")
    bot_id = int(me["id"])
    try:
        guild = await http.request("GET", f"/guilds/{guild_id}")
        member = await http.request("GET", f"/guilds/{guild_id}/members/{bot_id}")
    except ApplicationError as exc:
        if exc.type in ("DiscordHTTP403", "DiscordHTTP404"):
            raise _NotInGuild(str(exc)) from None
        raise
    roles, channels = await asyncio.gather(
        http.request("GET", f"/guilds/{guild_id}/roles"),
        http.request("GET", f"/guilds/{guild_id}/channels"),
    )
    return GuildView(
        guild_id=guild_id,
        owner_id=int(guild.get("owner_id") or 0),
        bot_id=bot_id,
        bot_role_ids=frozenset(int(r) for r in member.get("roles", [])) | {guild_id},
        roles={int(r["id"]): _role(r) for r in roles},
        channels={int(c["id"]): _channel(c) for c in channels},
    )


def _role(data: dict[str, Any]) -> RoleInfo:
    return RoleInfo(
        id=int(data["id"]),
        name=str(data.get("name", "")),
        position=int(data.get("position", 0)),
        permissions=int(data.get("permissions") or 0),
        managed=bool(data.get("managed")),
    )


def _channel(data: dict[str, Any]) -> ChannelInfo:
    overwrites = tuple(
        Overwrite(
            int(o["id"]), int(o.get("type", 0)), int(o.get("allow") or 0), int(o.get("deny") or 0)
        )
        for o in data.get("permission_overwrites", [])
    )
    parent = data.get("parent_id")
    return ChannelInfo(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        type=int(data.get("type", 0)),
        parent_id=int(parent) if parent else None,
        overwrites=overwrites,
    )


def _describe(exc: BaseException) -> str:
    """Secret-free description of a failure (type and first line; URLs may hold a token)."""
    if isinstance(exc, ApplicationError | _NotInGuild):
        return str(exc).splitlines()[0][:200]
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_S:.0f} s"
    return type(exc).__name__


# --------------------------------------------------------------------------- the service


class SelfCheck:
    """Runs every check of one server; build one per process (it holds no server state)."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalGetter,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._temporal = temporal
        self._http = http
        self._health = HealthChecker(sessions, settings, temporal, http=http)

    async def run(self, guild_id: int) -> Report:
        """Every finding, in a stable order: database, Discord, integrations, workflows."""
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as own:
            http = self._http or own
            database, loaded = await self._database(guild_id)
            config, records = loaded
            discord, telegram, ai, temporal_findings, gateway = await asyncio.gather(
                self._discord(guild_id, config, records, http),
                self._telegram(http),
                self._ai(config, http),
                self._temporal_checks(guild_id, records),
                self._gateway(),
            )
        return Report(guild_id, [*database, gateway, *discord, *telegram, *ai, *temporal_findings])

    # -- database
    async def _database(
        self, guild_id: int
    ) -> tuple[list[Finding], tuple[ServerConfig, ServerRecords | None]]:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S), self._sessions() as session:
                raw, version = await get_server_config(session, guild_id)
                records = await _records(session, guild_id)
        except Exception as exc:
            log.warning("self-check: database unreachable: %s", _describe(exc))
            finding = Finding(
                "database",
                "fail",
                f"The database did not answer: {_describe(exc)}",
                "Check DATABASE_URL and that the database is up.",
            )
            return [finding], (default_server_config(), None)
        found = [Finding("database", "ok", "reachable")]
        if raw is None:
            found.append(
                Finding(
                    "config",
                    "warn",
                    "The server has never been configured: the defaults apply",
                    "Set at least mod_log_channel_id (PATCH /api/servers/{id}/config).",
                )
            )
            return found, (default_server_config(), records)
        try:
            config = parse_server_config(raw)
        except ConfigError as exc:
            found.append(
                Finding(
                    "config",
                    "fail",
                    f"The stored config (version {version}) no longer validates: {exc}",
                    "Fix the named fields with PATCH /config, or restore a version from "
                    "GET /config/versions.",
                )
            )
            return found, (default_server_config(), records)
        found.append(Finding("config", "ok", f"version {version} validates"))
        if config.mod_log_channel_id is None:
            found.append(
                Finding(
                    "channel:mod-log",
                    "warn",
                    "No mod-log channel is set: cases, alerts and approvals are not posted",
                    "Set mod_log_channel_id to a staff channel.",
                )
            )
        return found, (config, records)

    # -- Discord
    async def _discord(
        self,
        guild_id: int,
        config: ServerConfig,
        records: ServerRecords | None,
        http: httpx.AsyncClient,
    ) -> list[Finding]:
        settings = self._settings
        discord = DiscordHttp(settings.effective_discord_api_url, settings.bot_token, client=http)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S * 2):
                view = await read_guild(discord, guild_id)
        except _NotInGuild as exc:
            return [
                Finding(
                    "discord:membership",
                    "fail",
                    f"The bot is not a member of server {guild_id} ({_describe(exc)})",
                    "Invite the bot with the OAuth2 URL generator (scopes bot and "
                    "applications.commands).",
                )
            ]
        except Exception as exc:
            unauthorised = isinstance(exc, ApplicationError) and exc.type == "DiscordHTTP401"
            return [
                Finding(
                    "discord:membership",
                    "fail",
                    f"Discord could not be read: {_describe(exc)}",
                    "Check DISCORD_BOT_TOKEN (reset it in the Developer Portal)."
                    if unauthorised
                    else "Check the network to Discord and DISCORD_API_URL.",
                )
            ]
        top = view.bot_top_role
        found = [
            Finding(
                "discord:membership",
                "ok",
                f"The bot ({view.bot_id}) is in the server; its top role is "
                f"{'@' + top.name if top else '@everyone'} (position {view.bot_top_position})",
            )
        ]
        return found + evaluate(view, needs_of(config, records))

    # -- Telegram
    async def _telegram(self, http: httpx.AsyncClient) -> list[Finding]:
        from approvals.telegram_config import telegram_endpoint

        endpoint = telegram_endpoint(self._settings)
        if endpoint is None:
            return [
                Finding(
                    "telegram",
                    "warn",
                    "Telegram is not configured: approvals are asked in Discord and the API only",
                    "Set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID (docs/approvals.md).",
                )
            ]
        base = f"{endpoint.bot_base_url}{endpoint.token}"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                me = await http.get(f"{base}/getMe")
                if me.status_code != 200 or not me.json().get("ok"):
                    return [
                        Finding(
                            "telegram",
                            "fail",
                            f"getMe answered {me.status_code}: the bot token is refused",
                            "Check TELEGRAM_BOT_TOKEN (@BotFather).",
                        )
                    ]
                chat = await http.get(f"{base}/getChat", params={"chat_id": endpoint.chat_id})
        except Exception as exc:  # the URL holds the token: type only
            return [
                Finding(
                    "telegram",
                    "fail",
                    f"Telegram did not answer: {_describe(exc)}",
                    "Check the network to TELEGRAM_API_URL.",
                )
            ]
        username = me.json().get("result", {}).get("username", "?")
        body = (
            chat.json()
            if chat.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if chat.status_code != 200 or not body.get("ok"):
            reason = str(body.get("description") or chat.status_code)[:200]
            return [
                Finding(
                    "telegram",
                    "fail",
                    f"@{username} cannot reach the approval chat {endpoint.chat_id}: {reason}",
                    "Add the bot to the chat, or fix TELEGRAM_CHAT_ID.",
                )
            ]
        title = body.get("result", {}).get("title") or endpoint.chat_id
        return [Finding("telegram", "ok", f"@{username}; approval chat '{title}' reachable")]

    # -- AI providers
    async def _ai(self, config: ServerConfig, http: httpx.AsyncClient) -> list[Finding]:
        from activities.ai_review import provider_order

        providers = provider_order(self._settings)
        if not providers:
            wanted = config.support_ai.enabled or config.moderation.ai_review
            why = "AI_PROVIDER=local" if self._settings.ai_provider == "local" else "No AI key"
            return [
                Finding(
                    "ai",
                    "warn" if wanted else "ok",
                    f"{why}: AI review and AI answers are off (the local classifier still "
                    "judges messages)",
                    "Set ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY." if wanted else "",
                )
            ]
        results = await asyncio.gather(*(self._ai_provider(p, http) for p in providers))
        return list(results)

    async def _ai_provider(self, provider: str, http: httpx.AsyncClient) -> Finding:
        settings = self._settings
        secret = getattr(settings, f"{provider}_api_key")
        key = secret.get_secret_value() if secret else ""
        model = getattr(settings, f"{provider}_model")
        base = getattr(settings, f"{provider}_base_url")
        if provider == "anthropic":
            url = f"{(base or 'https://api.anthropic.com').rstrip('/')}/v1/models/{model}"
            headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        elif provider == "openai":
            url = f"{(base or 'https://api.openai.com/v1').rstrip('/')}/models/{model}"
            headers = {"Authorization": f"Bearer {key}"}
        else:
            root = (base or "https://generativelanguage.googleapis.com").rstrip("/")
            url = f"{root}/v1beta/models/{model}"
            headers = {"x-goog-api-key": key}
        name = f"ai:{provider}"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                resp = await http.get(url, headers=headers)
        except Exception as exc:
            return Finding(
                name, "fail", f"{provider} did not answer: {_describe(exc)}",
                f"Check the network to {provider} ({provider.upper()}_BASE_URL).",
            )  # fmt: skip
        if resp.status_code in (401, 403):
            return Finding(
                name, "fail", f"{provider} refused the key ({resp.status_code})",
                f"Check {provider.upper()}_API_KEY.",
            )  # fmt: skip
        if resp.status_code == 404:
            return Finding(
                name, "fail", f"{provider} does not know the model {model!r}",
                f"Set {provider.upper()}_MODEL to a model the key can use.",
            )  # fmt: skip
        if resp.status_code >= 400:
            return Finding(
                name, "fail", f"{provider} answered {resp.status_code}",
                "The provider may be down; AI work falls through to the next provider.",
            )  # fmt: skip
        return Finding(name, "ok", f"{provider} accepts the key; model {model} available")

    # -- Temporal and the server's workflows
    async def _gateway(self) -> Finding:
        result = await self._health.gateway()
        sharded = result.detail.startswith(("connected: shards", "shards of"))
        if result.status == "ok":
            if sharded:  # "connected: shards 0-3 of 4 (2 processes)"
                shards = result.detail.removeprefix("connected: ")
                return Finding("gateway", "ok", f"every gateway shard is connected ({shards})")
            return Finding("gateway", "ok", "the gateway process is connected to Discord")
        fix = (
            "Start the gateway process of every shard group (`dcs gateway` with its "
            "DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS) and check its log."
            if sharded
            else "Start `dcs gateway` (or `dcs up`) and check its log."
        )
        return Finding("gateway", "fail", f"The gateway is not connected: {result.detail}", fix)

    async def _temporal_checks(self, guild_id: int, records: ServerRecords | None) -> list[Finding]:
        result = await self._health.temporal()
        if result.status != "ok":
            return [
                Finding(
                    "temporal",
                    "fail",
                    f"Temporal is not reachable: {result.detail}",
                    "Check TEMPORAL_ADDRESS and that the Temporal server is up.",
                )
            ]
        found = [Finding("temporal", "ok", "reachable")]
        if records is None:
            return found
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S * 2):
                client = await self._temporal()
                found += await _workflow_findings(client, guild_id, records)
        except Exception as exc:
            found.append(
                Finding(
                    "workflows",
                    "warn",
                    f"The server's workflows could not be listed: {_describe(exc)}",
                    "Retry; check the Temporal server's health.",
                )
            )
        return found


async def _records(session: AsyncSession, guild_id: int) -> ServerRecords:
    now = datetime.now(UTC)
    announcements = [
        (a.number, a.channel_id, not (a.at is not None and (a.last_posted_at or a.at <= now)))
        for a in await session.scalars(
            select(Announcement).where(Announcement.guild_id == guild_id)
        )
    ]
    tickets = list(
        await session.scalars(
            select(SupportTicket.number).where(
                SupportTicket.guild_id == guild_id, SupportTicket.status == "open"
            )
        )
    )
    events = list(
        await session.scalars(
            select(Event.id).where(
                Event.guild_id == guild_id, Event.status.in_(("scheduled", "active"))
            )
        )
    )
    raid = await session.scalar(
        select(RaidIncident.id).where(
            RaidIncident.guild_id == guild_id, RaidIncident.status == "active"
        )
    )
    return ServerRecords(announcements, tickets, events, raid is not None)


async def _workflow_findings(
    client: Client, guild_id: int, records: ServerRecords
) -> list[Finding]:
    """Each announcement's schedule exists; open tickets, live events, an active lockdown run."""
    from workflows.event import event_workflow_id
    from workflows.raid import raid_workflow_id
    from workflows.ticket import ticket_workflow_id

    missing_schedules = []
    expected = [n for n, _, wanted in records.announcements if wanted]
    for number in expected:
        try:
            await client.get_schedule_handle(schedule_id(guild_id, number)).describe()
        except Exception:
            missing_schedules.append(number)
    found = []
    if expected:
        found.append(
            Finding(
                "schedules:announcements",
                "warn" if missing_schedules else "ok",
                f"announcements without their schedule: {missing_schedules}"
                if missing_schedules
                else f"{len(expected)} announcement schedule(s) present",
                "PUT each of them again (PUT /announcements/{n}) to re-create its schedule."
                if missing_schedules
                else "",
            )
        )
    wanted = [ticket_workflow_id(guild_id, n) for n in records.open_tickets]
    wanted += [event_workflow_id(guild_id, e) for e in records.live_events]
    if records.raid_active:
        wanted.append(raid_workflow_id(guild_id))
    if not wanted:
        return found
    stopped = []
    for workflow_id in wanted:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
            running = described.status == WorkflowExecutionStatus.RUNNING
        except Exception:
            running = False
        if not running:
            stopped.append(workflow_id)
    found.append(
        Finding(
            "workflows",
            "warn" if stopped else "ok",
            f"open in the database but not running in Temporal: {', '.join(stopped)}"
            if stopped
            else f"{len(wanted)} workflow(s) running (tickets, events, lockdown)",
            "Is `dcs worker` running? A ticket or event without its workflow misses its "
            "reminders and auto-close."
            if stopped
            else "",
        )
    )
    return found


# --------------------------------------------------------------------------- `dcs selfcheck`

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def add_parser(sub: Any) -> Any:
    """The `selfcheck` subcommand."""
    parser = sub.add_parser(
        "selfcheck", help="check a server: the bot's permissions, channels, roles, integrations"
    )
    parser.add_argument("--server", type=int, required=True, help="guild id")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def format_report(report: Report) -> str:
    """One line per check, a fix hint under each one that is not ok."""
    lines = [f"Self-check of server {report.guild_id}: {report.status.upper()}"]
    for f in report.findings:
        lines.append(f"  {_MARK[f.status]}  {f.name}: {f.detail}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    return "\n".join(lines)


async def run_cli(guild_id: int, settings: Settings, *, as_json: bool = False) -> int:
    """Run the self-check from the shell; exit 0 ok, 1 warn, 2 fail."""
    import json

    from dcs.temporal import connect
    from storage.engine import create_engine, make_sessionmaker

    client: Client | None = None

    async def temporal() -> Client:
        nonlocal client
        if client is None:
            client = await asyncio.wait_for(connect(settings), timeout=PROBE_TIMEOUT_S)
        return client

    engine = create_engine(settings.database_url)
    try:
        report = await SelfCheck(settings, make_sessionmaker(engine), temporal).run(guild_id)
    finally:
        await engine.dispose()
    if as_json:
        body = {
            "server_id": str(guild_id),
            "status": report.status,
            "checks": [
                {"name": f.name, "status": f.status, "detail": f.detail, "fix": f.fix}
                for f in report.findings
            ],
        }
        print(json.dumps(body, indent=2))
    else:
        print(format_report(report))
    return {"ok": 0, "warn": 1, "fail": 2}[report.status]
