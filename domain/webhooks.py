"""Outgoing webhooks: which events exist, how a delivery is signed, which URLs may be called.

Pure logic (no I/O) shared by the delivery activity, the config validation and receivers' docs.
A delivery is a JSON body POSTed with

    X-DCS-Event: case.created
    X-DCS-Delivery: <id, the same on every retry of one event: receivers de-duplicate on it>
    X-DCS-Timestamp: <Unix seconds>
    X-DCS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed by WEBHOOK_SECRET>

Signing the timestamp with the body lets a receiver refuse old (replayed) deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

WebhookEvent = Literal["case.created", "ticket.closed", "raid.started", "raid.lifted"]
WEBHOOK_EVENTS: tuple[str, ...] = ("case.created", "ticket.closed", "raid.started", "raid.lifted")

SIGNATURE_HEADER = "X-DCS-Signature"
TIMESTAMP_HEADER = "X-DCS-Timestamp"
EVENT_HEADER = "X-DCS-Event"
DELIVERY_HEADER = "X-DCS-Delivery"


@dataclass(frozen=True)
class WebhookEventInput:
    """One event for a server's webhooks; `delivery_id` is stable across retries and replays."""

    guild_id: int
    event: str
    delivery_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class WebhookReport:
    """What happened to each subscribed URL (for the workflow history and the logs)."""

    delivered: list[str]
    given_up: list[str]
    skipped: str | None = None


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-DCS-Signature value: `sha256=` + hex HMAC of `timestamp.body`."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, now: int, max_age: int = 300
) -> bool:
    """What a receiver does (this is also the documented snippet): constant-time, fresh only."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def encode_body(event: str, delivery_id: str, guild_id: int, data: dict[str, Any]) -> bytes:
    """The delivered JSON; ids as strings because JavaScript numbers lose 64-bit precision."""
    document = {"event": event, "delivery_id": delivery_id, "guild_id": str(guild_id), "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


class UnsafeWebhookURL(ValueError):
    """The URL may not be called (wrong scheme, or an internal address without permission)."""


def check_url_shape(url: str) -> str:
    """http(s) with a host; anything else (file:, gopher:, credentials in the URL) is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookURL("a webhook URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise UnsafeWebhookURL("a webhook URL may not carry credentials")
    return parts.hostname


def is_internal_address(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


Verdict = Literal["delivered", "retry", "give_up"]


@dataclass(frozen=True)
class Outcome:
    """What one HTTP answer means for the delivery; `retry_after` only when the receiver said."""

    verdict: Verdict
    retry_after: float | None = None


def classify(status: int, retry_after: str | None = None) -> Outcome:
    """2xx delivered; 429 and 5xx retried (429 after its Retry-After); other 4xx given up.

    A 4xx says the request itself is wrong (bad URL, receiver refuses the signature): sending the
    same bytes again cannot succeed, so retrying would only hammer the receiver.
    """
    if 200 <= status < 300:
        return Outcome("delivered")
    if status == 429:
        return Outcome("retry", _seconds(retry_after))
    if status >= 500 or status in (408,):
        return Outcome("retry")
    return Outcome("give_up")


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for webhooks: treated as unknown)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return None if seconds is None or seconds < 0 else min(seconds, 3600.0)
