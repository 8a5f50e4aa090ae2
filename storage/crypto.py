"""Encryption at rest of members' words: appeals, tickets, and excerpts quoted as evidence.

Encrypted: appeal texts, ticket descriptions and transcripts, and the `excerpt` (the member's
message) inside moderation cases' and approvals' evidence.

With DATA_ENCRYPTION_KEYS (or DATA_ENCRYPTION_KEY) set, `EncryptedText` columns are written as
`enc:v1:<Fernet token>` and decrypted on read; without a key they stay plaintext, as before. The
column type is unchanged (TEXT), so turning encryption on needs no migration: rows written before
are read as they are (no prefix) and encrypted when next written. Rotation: put the new key first
(it encrypts), keep the old ones after it (they still decrypt).

The keys come from the settings on first use; `configure` replaces them (tests, tools).
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import JSON, Dialect, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

PREFIX = "enc:v1:"
PLAIN_PREFIX = "enc:v0:"
"""Marks plaintext that happens to start like ciphertext (stored while no key is configured)."""


class DecryptionError(RuntimeError):
    """A stored value is encrypted but no configured key opens it."""


class _Keys:
    configured = False
    cipher: MultiFernet | None = None


def parse_keys(raw: str | None) -> list[str]:
    """Comma-separated Fernet keys, first one encrypting; raises ValueError on a malformed key."""
    keys = [k.strip() for k in (raw or "").split(",") if k.strip()]
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ValueError(
                f"key {index} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def configure(keys: list[str] | None) -> None:
    """Use these keys from now on (None or []: store plaintext)."""
    _Keys.cipher = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None
    _Keys.configured = True


def _cipher() -> MultiFernet | None:
    if not _Keys.configured:
        from dcs.settings import load_settings

        configure(load_settings().encryption_keys())
    return _Keys.cipher


def enabled() -> bool:
    """Whether values are being encrypted (so SQL cannot search inside them)."""
    return _cipher() is not None


def encrypt(value: str) -> str:
    """The value as stored: ciphertext when a key is configured.

    The empty string stays empty: it is an erased text, which retention compares against.
    """
    cipher = _cipher()
    if not value:
        return value
    if cipher is None:
        return PLAIN_PREFIX + value if value.startswith((PREFIX, PLAIN_PREFIX)) else value
    return PREFIX + cipher.encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    """The plaintext of a stored value; plaintext written before encryption is returned as is."""
    if stored.startswith(PLAIN_PREFIX):
        return stored[len(PLAIN_PREFIX) :]
    if not stored.startswith(PREFIX):
        return stored
    cipher = _cipher()
    if cipher is None:
        raise DecryptionError("an encrypted value was read but DATA_ENCRYPTION_KEYS is not set")
    try:
        return cipher.decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise DecryptionError("no key in DATA_ENCRYPTION_KEYS decrypts a stored value") from None


class EncryptedText(TypeDecorator[str]):
    """TEXT that holds ciphertext when a key is configured; the ORM sees plaintext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt on the way out."""
        return None if value is None else decrypt(value)


ENCRYPTED_KEYS = ("excerpt",)
"""Keys of an evidence document that quote a member; the rest stays searchable JSON."""


class EncryptedEvidence(TypeDecorator[dict[str, Any]]):
    """A JSON document (JSONB on PostgreSQL) whose `excerpt` string is stored encrypted.

    Only the value is encrypted, so `evidence["excerpt"]` still exists in SQL (retention finds
    the rows that hold one) and the document stays JSON: no migration.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """JSONB on PostgreSQL, like `storage.types.JSONDoc`."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Encrypt the quoting keys of a document on the way in."""
        return _map_keys(value, encrypt)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Decrypt them on the way out."""
        return _map_keys(value, decrypt)


def _map_keys(value: Any, codec: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {
        k: codec(v) if k in ENCRYPTED_KEYS and isinstance(v, str) else v for k, v in value.items()
    }


ENCRYPTED_TYPES = (EncryptedText, EncryptedEvidence)
