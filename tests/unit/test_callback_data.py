"""Signed Telegram callback data: compact, tamper-evident, bound to one approval and one choice."""

from __future__ import annotations

import uuid

import pytest

from approvals.callback_data import (
    MAX_BYTES,
    CallbackAction,
    CallbackRejected,
    decode_callback,
    derive_callback_key,
    encode_callback,
)
from approvals.telegram_config import telegram_endpoint
from approvals.telegram_messages import durations_keyboard, main_keyboard, modify_keyboard
from dcs.settings import load_settings

KEY = derive_callback_key("webhook-secret-for-tests")
APPROVAL = str(uuid.UUID("6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"))

ALL_KINDS = [
    CallbackAction(APPROVAL, "approve"),
    CallbackAction(APPROVAL, "reject"),
    CallbackAction(APPROVAL, "menu"),
    CallbackAction(APPROVAL, "durations"),
    CallbackAction(APPROVAL, "back"),
    CallbackAction(APPROVAL, "modify", "warn"),
    CallbackAction(APPROVAL, "modify", "kick"),
    CallbackAction(APPROVAL, "modify", "timeout", 10080),
]


@pytest.mark.parametrize("cb", ALL_KINDS, ids=lambda cb: f"{cb.op}-{cb.action}")
def test_round_trip_within_64_bytes(cb):
    data = encode_callback(cb, KEY)
    assert len(data.encode()) <= MAX_BYTES
    assert decode_callback(data, KEY) == cb


def test_non_uuid_ids_travel_as_they_are_up_to_the_column_width():
    cb = CallbackAction("x" * 36, "modify", "timeout", 10080)
    data = encode_callback(cb, KEY)
    assert len(data.encode()) <= MAX_BYTES
    assert decode_callback(data, KEY) == cb
    with pytest.raises(ValueError, match="cannot be put"):
        encode_callback(CallbackAction("a|b", "approve"), KEY)


def test_a_changed_op_is_refused():
    data = encode_callback(CallbackAction(APPROVAL, "reject"), KEY)
    forged = data.replace("|R|", "|A|")
    assert forged != data
    with pytest.raises(CallbackRejected, match="signature"):
        decode_callback(forged, KEY)


def test_a_changed_modify_target_is_refused():
    data = encode_callback(CallbackAction(APPROVAL, "modify", "warn"), KEY)
    with pytest.raises(CallbackRejected):
        decode_callback(data.replace("|=w|", "|=k|"), KEY)


def test_a_mac_cannot_be_moved_to_another_approval():
    mine = encode_callback(CallbackAction(APPROVAL, "approve"), KEY)
    other = encode_callback(CallbackAction(str(uuid.uuid4()), "approve"), KEY)
    v, op, _, mac = mine.split("|")
    other_id = other.split("|")[2]
    with pytest.raises(CallbackRejected, match="signature"):
        decode_callback("|".join([v, op, other_id, mac]), KEY)


def test_another_key_does_not_verify():
    data = encode_callback(CallbackAction(APPROVAL, "approve"), KEY)
    with pytest.raises(CallbackRejected):
        decode_callback(data, derive_callback_key("another deployment"))


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "approve",
        "1|A|x",
        "2|A|abc|" + "A" * 16,
        "1|Z|abc|" + "A" * 16,
        "x" * 65,
        "1|A|~!!!|" + "A" * 16,
        "1|=t6x|abc|" + "A" * 16,
    ],
)
def test_garbage_is_refused(data):
    with pytest.raises(CallbackRejected):
        decode_callback(data, KEY)


def test_keyboards_carry_only_verifiable_buttons():
    for keyboard in (
        main_keyboard(APPROVAL, "ban", KEY),
        modify_keyboard(APPROVAL, "ban", KEY),
        durations_keyboard(APPROVAL, KEY),
    ):
        for row in keyboard:
            for _label, data in row:
                assert decode_callback(data, KEY).approval_id == APPROVAL
    labels = [label for row in modify_keyboard(APPROVAL, "ban", KEY) for label, _ in row]
    assert labels == ["Warn instead", "Timeout instead...", "Kick instead", "↩ Back"]
    # nothing is milder than a warning, and a lockdown has no ladder: no Modify button
    assert [label for label, _ in main_keyboard(APPROVAL, "warn", KEY)[0]] == [
        "✅ Approve",
        "❌ Reject",
    ]
    assert len(main_keyboard(APPROVAL, "lockdown", KEY)[0]) == 2


def test_key_comes_from_webhook_secret_else_bot_token(monkeypatch):
    for var in ("DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "WEBHOOK_SECRET"):
        monkeypatch.delenv(var, raising=False)
    a = telegram_endpoint(load_settings(telegram_bot_token="1:aaa", telegram_chat_id="-100"))
    b = telegram_endpoint(load_settings(telegram_bot_token="1:bbb", telegram_chat_id="-100"))
    c = telegram_endpoint(
        load_settings(telegram_bot_token="1:aaa", telegram_chat_id="-100", webhook_secret="w" * 32)
    )
    d = telegram_endpoint(
        load_settings(telegram_bot_token="1:bbb", telegram_chat_id="-100", webhook_secret="w" * 32)
    )
    assert a and b and c and d
    assert a.callback_key == derive_callback_key("1:aaa") != b.callback_key
    assert c.callback_key == d.callback_key == derive_callback_key("w" * 32)
    assert a.bot_base_url == "https://api.telegram.org/bot"


def test_telegram_is_off_outside_sandbox_without_a_token_and_local_in_sandbox(monkeypatch):
    for var in ("DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "WEBHOOK_SECRET"):
        monkeypatch.delenv(var, raising=False)
    assert telegram_endpoint(load_settings(discord_bot_token="real-discord-token")) is None
    sandbox = telegram_endpoint(load_settings())
    assert sandbox is not None and sandbox.sandbox
    assert sandbox.api_url == "http://127.0.0.1:8766"
    assert sandbox.is_approval_chat(int(sandbox.chat_id))
    assert not sandbox.is_approval_chat(12345)
