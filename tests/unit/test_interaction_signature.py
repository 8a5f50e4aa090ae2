"""Discord interaction signatures: Ed25519 over timestamp + body, freshness, replay memory."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dcs.interaction_signature import (
    ReplayGuard,
    SignatureRejected,
    public_key_from_hex,
    verify_interaction,
)

NOW = 1_800_000_000
BODY = b'{"type":1}'


@pytest.fixture
def signer():
    private = Ed25519PrivateKey.generate()
    hex_key = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return private, public_key_from_hex(hex_key)


def _sign(private, timestamp: str, body: bytes) -> str:
    return private.sign(timestamp.encode() + body).hex()


def test_valid_signature_passes(signer):
    private, key = signer
    ts = str(NOW)
    verify_interaction(
        key, signature_hex=_sign(private, ts, BODY), timestamp=ts, body=BODY, now=NOW
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("body", "invalid request signature"),
        ("timestamp", "invalid request signature"),
        ("key", "invalid request signature"),
        ("missing", "missing"),
        ("not-hex", "not hex"),
    ],
)
def test_tampering_is_refused(signer, change, reason):
    private, key = signer
    ts = str(NOW)
    sig = _sign(private, ts, BODY)
    body, timestamp = BODY, ts
    if change == "body":
        body = b'{"type":2}'
    elif change == "timestamp":
        timestamp = str(NOW - 1)
    elif change == "key":
        sig = _sign(Ed25519PrivateKey.generate(), ts, BODY)
    elif change == "missing":
        sig = ""
    elif change == "not-hex":
        sig = "zz" * 64
    with pytest.raises(SignatureRejected, match=reason):
        verify_interaction(key, signature_hex=sig, timestamp=timestamp, body=body, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 3600])
def test_stale_or_future_signed_timestamp_is_refused(signer, offset):
    private, key = signer
    ts = str(NOW - offset)
    with pytest.raises(SignatureRejected, match="stale"):
        verify_interaction(
            key, signature_hex=_sign(private, ts, BODY), timestamp=ts, body=BODY, now=NOW
        )


def test_bad_public_key_is_a_clear_error():
    with pytest.raises(ValueError, match="64 hex"):
        public_key_from_hex("abcd")


def test_replay_guard_remembers_within_window_and_stays_bounded():
    guard = ReplayGuard(window_seconds=300, max_entries=3)
    assert guard.check_and_remember("a", now=0)
    assert not guard.check_and_remember("a", now=299)
    assert guard.check_and_remember("a", now=601)  # the window passed: forgotten
    for key in "bcd":
        assert guard.check_and_remember(key, now=602)
    assert len(guard._seen) <= 3
