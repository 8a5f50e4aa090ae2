"""Telegram button payloads that fit in 64 bytes and cannot be forged.

Telegram hands a button's ``callback_data`` back verbatim when someone presses it, and anyone who
can talk to the bot can send any string they like. So every payload carries a MAC:

    1|<op>|<approval id>|<mac>          e.g.  1|A|~G3bQ1mZ0R9uRk0pFv0xj0w|kF4c2a1Z9xQe0nLm

- ``op``: ``A`` approve, ``R`` reject, ``M`` show the milder actions, ``D`` show timeout durations,
  ``B`` back to the first keyboard, ``=w`` / ``=k`` / ``=t60`` modify to warn / kick / a 60-minute
  timeout.
- the approval id: a canonical UUID is packed into 22 base64url characters behind ``~``; any other
  id (up to 36 characters, no ``|``) travels as it is.
- ``mac``: HMAC-SHA256 over ``<op>|<approval id>`` with the callback key, truncated to 96 bits
  (16 base64url characters). The key is derived from ``WEBHOOK_SECRET`` when it is set, else
  from the bot token (see :func:`derive_callback_key`), so only this deployment can mint buttons.

A forged payload (wrong MAC, changed op, another approval's id) is refused before anything is read.
Replaying a genuine payload is harmless: it binds one approval and one choice, and
``submit_decision`` refuses a second decision on the same approval.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Literal

VERSION = "1"
MAX_BYTES = 64
"""Telegram's limit for ``callback_data``."""
MAC_BYTES = 12
_KEY_LABEL = b"dcs/telegram-callback/v1"

Op = Literal["approve", "reject", "menu", "durations", "back", "modify"]
_CODE_OF_OP: dict[str, str] = {
    "approve": "A",
    "reject": "R",
    "menu": "M",
    "durations": "D",
    "back": "B",
}
_OP_OF_CODE = {code: op for op, code in _CODE_OF_OP.items()}
_ACTION_CODES: dict[str, str] = {"warn": "w", "timeout": "t", "kick": "k", "ban": "b"}
_ACTION_OF_CODE = {code: action for action, code in _ACTION_CODES.items()}


class CallbackRejected(ValueError):
    """The payload is malformed or its MAC does not verify; nothing may be done with it."""


@dataclass(frozen=True)
class CallbackAction:
    """What a pressed button asks for, once its MAC has been checked."""

    approval_id: str
    op: Op
    action: str | None = None
    """With ``modify``: the milder action."""
    duration_minutes: int | None = None
    """With ``modify`` to a timeout: its length."""


def derive_callback_key(secret: str) -> bytes:
    """A key for button MACs from a deployment secret (WEBHOOK_SECRET, else the bot token).

    The label keeps this key distinct from any other use of the same secret.
    """
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _op_code(cb: CallbackAction) -> str:
    if cb.op != "modify":
        return _CODE_OF_OP[cb.op]
    if cb.action not in _ACTION_CODES:
        raise ValueError(f"cannot modify to {cb.action!r}")
    minutes = "" if cb.duration_minutes is None else str(int(cb.duration_minutes))
    return "=" + _ACTION_CODES[cb.action] + minutes


def _parse_op(code: str, approval_id: str) -> CallbackAction:
    if code in _OP_OF_CODE:
        op: Op = _OP_OF_CODE[code]  # type: ignore[assignment]
        return CallbackAction(approval_id, op)
    if len(code) >= 2 and code[0] == "=" and code[1] in _ACTION_OF_CODE:
        digits = code[2:]
        if digits and not (digits.isascii() and digits.isdigit()):
            raise CallbackRejected("bad duration")
        minutes = int(digits) if digits else None
        return CallbackAction(approval_id, "modify", _ACTION_OF_CODE[code[1]], minutes)
    raise CallbackRejected("unknown operation")


def _pack_id(approval_id: str) -> str:
    try:
        parsed = uuid.UUID(approval_id)
    except ValueError:
        parsed = None
    if parsed is not None and str(parsed) == approval_id:
        return "~" + base64.urlsafe_b64encode(parsed.bytes).decode().rstrip("=")
    if not approval_id or "|" in approval_id or approval_id.startswith("~"):
        raise ValueError(f"approval id {approval_id!r} cannot be put in a button")
    return approval_id


def _unpack_id(packed: str) -> str:
    if not packed.startswith("~"):
        return packed
    try:
        raw = base64.urlsafe_b64decode(packed[1:] + "==")
    except (binascii.Error, ValueError) as exc:
        raise CallbackRejected("bad approval id") from exc
    if len(raw) != 16:
        raise CallbackRejected("bad approval id")
    return str(uuid.UUID(bytes=raw))


def _mac(key: bytes, code: str, approval_id: str) -> str:
    digest = hmac.new(key, f"{code}|{approval_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode()


def encode_callback(cb: CallbackAction, key: bytes) -> str:
    """The signed ``callback_data`` for a button; ValueError if it would exceed 64 bytes."""
    code = _op_code(cb)
    data = "|".join([VERSION, code, _pack_id(cb.approval_id), _mac(key, code, cb.approval_id)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data for {cb.approval_id!r} is longer than {MAX_BYTES} bytes")
    return data


def decode_callback(data: str | None, key: bytes) -> CallbackAction:
    """Check the MAC and return the button's meaning; CallbackRejected if anything is off."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise CallbackRejected("missing or oversized callback data")
    parts = data.split("|")
    if len(parts) != 4 or parts[0] != VERSION:
        raise CallbackRejected("malformed callback data")
    _, code, packed, mac = parts
    approval_id = _unpack_id(packed)
    if not hmac.compare_digest(mac.encode(), _mac(key, code, approval_id).encode()):
        raise CallbackRejected("bad signature")
    return _parse_op(code, approval_id)
