"""Discord HTTP-interaction signatures: Ed25519 over timestamp + body, freshness and replays.

Discord signs every request it sends to an Interactions Endpoint URL with the application's key
(`X-Signature-Ed25519`, hex) over `X-Signature-Timestamp` (Unix seconds) followed by the raw body,
and refuses to save the URL unless forged requests are answered 401. The checks are pure (the
clock and the replay memory are passed in), so they are tested without a server.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_SKEW_SECONDS = 300  # older (or further in the future) than this is refused as stale


class SignatureRejected(Exception):
    """Why a request is refused; the message is safe to show the caller."""


def public_key_from_hex(hex_key: str) -> Ed25519PublicKey:
    """The application's public key as shown in the Developer Portal (64 hex characters)."""
    try:
        raw = bytes.fromhex(hex_key.strip())
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ValueError("DISCORD_PUBLIC_KEY must be 64 hex characters (32 bytes)") from exc


@dataclass
class ReplayGuard:
    """Signatures seen within the freshness window, bounded (oldest forgotten first).

    In memory and per process: a request replayed to another API process is still refused by
    the timestamp check once the window passes; within it, run one API process behind the
    Interactions URL (or accept that a replay may reach a second process once).
    """

    window_seconds: int = MAX_SKEW_SECONDS
    max_entries: int = 10_000

    def __post_init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check_and_remember(self, key: str, *, now: float) -> bool:
        """True the first time `key` is seen within the window; False for a replay."""
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window_seconds and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest_key]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def verify_interaction(
    public_key: Ed25519PublicKey,
    *,
    signature_hex: str | None,
    timestamp: str | None,
    body: bytes,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> None:
    """Raise SignatureRejected unless the request is signed by the key and fresh.

    The signature is checked before the timestamp is trusted: an attacker controls both headers,
    so freshness means something only for a signed timestamp.
    """
    if not signature_hex or not timestamp:
        raise SignatureRejected("missing X-Signature-Ed25519 or X-Signature-Timestamp header")
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise SignatureRejected("X-Signature-Ed25519 is not hex") from None
    try:
        public_key.verify(signature, timestamp.encode() + body)
    except InvalidSignature:
        raise SignatureRejected("invalid request signature") from None
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise SignatureRejected("X-Signature-Timestamp is not a Unix time") from None
    current = time.time() if now is None else now
    if abs(current - signed_at) > max_skew:
        raise SignatureRejected("stale or future X-Signature-Timestamp")
