"""Outgoing webhooks' pure rules: signing, what a receiver checks, retry verdicts, URL safety."""

import json

import pytest

from dcs.server_config import ConfigError, parse_server_config
from domain.webhooks import (
    UnsafeWebhookURL,
    check_url_shape,
    classify,
    encode_body,
    is_internal_address,
    sign,
    verify,
)

SECRET = b"s3cr3t-webhook-key"


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == f"sha256={expected}"


def test_receiver_check_refuses_tampering_other_keys_and_old_deliveries():
    body = encode_body("case.created", "d1", 123, {"case_number": 7})
    sig = sign(SECRET, 1000, body)
    assert verify(SECRET, "1000", body, sig, now=1100)
    assert not verify(SECRET, "1000", body + b" ", sig, now=1100)
    assert not verify(b"other", "1000", body, sig, now=1100)
    assert not verify(SECRET, "1001", body, sig, now=1100)
    assert not verify(SECRET, "1000", body, sig, now=1000 + 301)
    assert not verify(SECRET, "x", body, sig, now=1000)


def test_body_carries_ids_as_strings():
    doc = json.loads(encode_body("ticket.closed", "d", 2**62, {"n": 1}))
    assert doc == {
        "event": "ticket.closed",
        "delivery_id": "d",
        "guild_id": str(2**62),
        "data": {"n": 1},
    }


@pytest.mark.parametrize(
    ("status", "retry_after", "verdict", "wait"),
    [
        (200, None, "delivered", None),
        (204, None, "delivered", None),
        (400, None, "give_up", None),
        (401, None, "give_up", None),
        (404, None, "give_up", None),
        (408, None, "retry", None),
        (429, "7", "retry", 7.0),
        (429, "soon", "retry", None),
        (500, None, "retry", None),
        (503, "2", "retry", None),
    ],
)
def test_retry_verdicts(status, retry_after, verdict, wait):
    outcome = classify(status, retry_after)
    assert (outcome.verdict, outcome.retry_after) == (verdict, wait)


@pytest.mark.parametrize(
    "url", ["ftp://x.example/", "file:///etc/passwd", "http://", "https://u:p@x.example/", "x"]
)
def test_only_plain_http_urls(url):
    with pytest.raises(UnsafeWebhookURL):
        check_url_shape(url)


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.10", True),
        ("169.254.169.254", True),  # cloud metadata
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("fd00::1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_internal_addresses(address, internal):
    assert is_internal_address(address) is internal


def test_server_config_webhooks_section():
    config = parse_server_config(
        {"webhooks": [{"url": "https://hooks.example/x", "events": ["case.created"]}]}
    )
    assert config.webhooks[0].enabled and config.webhooks[0].events == ["case.created"]
    assert parse_server_config({}).webhooks == []
    with pytest.raises(ConfigError, match="webhooks"):
        parse_server_config({"webhooks": [{"url": "gopher://x", "events": ["case.created"]}]})
    with pytest.raises(ConfigError, match="events"):
        parse_server_config({"webhooks": [{"url": "https://x.example", "events": ["nope"]}]})
