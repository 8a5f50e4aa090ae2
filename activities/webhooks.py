"""Deliver a server's outgoing webhooks: signed JSON POSTs, retried by Temporal where that helps.

Retries: the activity raises a retryable error while any subscribed URL answered 5xx, 408, 429
or timed out (429 waits for its Retry-After); a 4xx other than those is given up at once, as the
same bytes would be refused again. URLs already answered are remembered in the heartbeat details,
so a retry re-sends only to the ones still pending; receivers still de-duplicate on
X-DCS-Delivery, since a delivery whose answer was lost is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dcs.server_config import ConfigError, WebhookConfig, parse_server_config
from domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    UnsafeWebhookURL,
    WebhookEventInput,
    WebhookReport,
    check_url_shape,
    classify,
    encode_body,
    is_internal_address,
    sign,
)
from storage.servers import get_server_config

log = logging.getLogger(__name__)


class WebhookActivities:
    """Holds the HTTP client, the signing secret and the SSRF switch (from the settings by default).

    `secret`/`allow_private` left None are read from WEBHOOK_SECRET/WEBHOOKS_ALLOW_PRIVATE on first
    use, so a server with no webhooks never needs them.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret: bytes | None = None,
        allow_private: bool | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._secret, self._allow_private = secret, allow_private
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    @activity.defn(name="deliver_webhooks")
    async def deliver_webhooks(self, inp: WebhookEventInput) -> WebhookReport:
        """Moderation cases and raid lockdowns (registered with the moderation activities)."""
        return await self._deliver(inp)

    @activity.defn(name="deliver_ticket_webhooks")
    async def deliver_ticket_webhooks(self, inp: WebhookEventInput) -> WebhookReport:
        """Ticket events; a second name so a ticket-only worker has its own registration."""
        return await self._deliver(inp)

    async def _targets(self, inp: WebhookEventInput) -> list[WebhookConfig]:
        async with self._sessions() as session:
            raw, _ = await get_server_config(session, inp.guild_id)
        if raw is None:
            return []
        try:
            config = parse_server_config(raw)
        except ConfigError as exc:
            log.warning("guild %s: stored config invalid, no webhooks sent: %s", inp.guild_id, exc)
            return []
        return [w for w in config.webhooks if w.enabled and inp.event in w.events]

    def _settings(self) -> tuple[bytes | None, bool]:
        if self._secret is None or self._allow_private is None:
            from dcs.settings import Settings

            settings = Settings()
            if self._secret is None and settings.webhook_secret is not None:
                self._secret = settings.webhook_secret.get_secret_value().encode()
            if self._allow_private is None:
                self._allow_private = settings.webhooks_allow_private
        return self._secret, bool(self._allow_private)

    async def _deliver(self, inp: WebhookEventInput) -> WebhookReport:
        targets = await self._targets(inp)
        if not targets:
            return WebhookReport([], [], skipped="no webhook subscribes to this event")
        secret, allow_private = self._settings()
        if secret is None:
            log.warning(
                "guild %s has webhooks but WEBHOOK_SECRET is unset: none sent", inp.guild_id
            )
            return WebhookReport([], [], skipped="WEBHOOK_SECRET is unset")
        info = activity.info()
        done: dict[str, str] = dict(info.heartbeat_details[0]) if info.heartbeat_details else {}
        body = encode_body(inp.event, inp.delivery_id, inp.guild_id, inp.data)
        pending: list[str] = []
        wait: float | None = None
        for index, target in enumerate(targets):
            label = _label(index, target.url)
            if label in done:
                continue
            verdict, retry_after, why = await self._post(
                target.url, body, inp, secret, allow_private
            )
            if verdict == "retry":
                pending.append(f"{label}: {why}")
                if retry_after is not None:
                    wait = max(wait or 0.0, retry_after)
                continue
            if verdict == "give_up":
                log.warning("webhook %s for %s given up: %s", label, inp.event, why)
            done[label] = verdict
            activity.heartbeat(done)
        if pending:
            raise ApplicationError(
                "webhook delivery will be retried: " + "; ".join(pending),
                type="WebhookRetry",
                next_retry_delay=timedelta(seconds=wait) if wait else None,
            )
        return WebhookReport(
            delivered=[k for k, v in done.items() if v == "delivered"],
            given_up=[k for k, v in done.items() if v == "give_up"],
        )

    async def _post(
        self, url: str, body: bytes, inp: WebhookEventInput, secret: bytes, allow_private: bool
    ) -> tuple[str, float | None, str]:
        """(verdict, retry_after, why) for one URL; never raises for network trouble."""
        try:
            host = check_url_shape(url)
            if not allow_private:
                await _refuse_internal(host)
        except UnsafeWebhookURL as exc:
            return "give_up", None, str(exc)
        except OSError as exc:  # DNS failure: may be transient
            return "retry", None, f"cannot resolve the host: {exc}"
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "DiscordCommunitySuite-Webhooks/1",
            EVENT_HEADER: inp.event,
            DELIVERY_HEADER: inp.delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            resp = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, resets
            return "retry", None, type(exc).__name__
        outcome = classify(resp.status_code, resp.headers.get("Retry-After"))
        return outcome.verdict, outcome.retry_after, f"HTTP {resp.status_code}"


def _label(index: int, url: str) -> str:
    """`#0 host`: enough to find the entry in the config without storing a URL's secret path."""
    try:
        host = check_url_shape(url)
    except UnsafeWebhookURL:
        host = "?"
    return f"#{index} {host}"


async def _refuse_internal(host: str) -> None:
    """Resolve and refuse loopback/private/link-local targets (SSRF into the suite's network).

    The address is checked at delivery time, then connected to by name again: a DNS answer that
    changes between the two (rebinding) is not caught; WEBHOOKS_ALLOW_PRIVATE=false plus an
    egress firewall is the complete defence.
    """
    infos: list[Any] = await asyncio.get_running_loop().getaddrinfo(
        host, None, type=socket.SOCK_STREAM
    )
    for info in infos:
        address = str(info[4][0])
        if is_internal_address(address):
            raise UnsafeWebhookURL(f"{host} resolves to an internal address ({address})")
