"""Encryption at rest of free text: the value codec and the key settings."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from dcs.settings import load_settings
from storage import crypto

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _restore_keys():
    saved = (crypto._Keys.configured, crypto._Keys.cipher)
    yield
    crypto._Keys.configured, crypto._Keys.cipher = saved


def test_without_a_key_values_stay_plaintext():
    crypto.configure(None)
    assert crypto.encrypt("hello") == "hello"
    assert crypto.decrypt("hello") == "hello"
    # Plaintext that looks like ciphertext is marked, so reading it never tries to decrypt.
    stored = crypto.encrypt("enc:v1:not really")
    assert stored != "enc:v1:not really"
    assert crypto.decrypt(stored) == "enc:v1:not really"


def test_with_a_key_values_are_ciphertext_and_read_back():
    crypto.configure([NEW])
    stored = crypto.encrypt("my appeal")
    assert stored.startswith(crypto.PREFIX) and "my appeal" not in stored
    assert crypto.encrypt("my appeal") != stored  # a fresh IV each time
    assert crypto.decrypt(stored) == "my appeal"
    assert crypto.encrypt("") == ""  # an erased text stays comparable
    assert crypto.decrypt("written before the key") == "written before the key"


def test_rotation_first_key_encrypts_older_keys_still_decrypt():
    crypto.configure([OLD])
    old_value = crypto.encrypt("old text")
    crypto.configure([NEW, OLD])
    assert crypto.decrypt(old_value) == "old text"
    crypto.configure([NEW])
    assert crypto.decrypt(crypto.encrypt("new text")) == "new text"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old_value)
    crypto.configure(None)
    with pytest.raises(crypto.DecryptionError, match="DATA_ENCRYPTION_KEYS is not set"):
        crypto.decrypt(old_value)


def test_settings_read_keys_and_refuse_bad_ones_without_echoing_them(monkeypatch):
    monkeypatch.delenv("DATA_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("DATA_ENCRYPTION_KEY", raising=False)
    assert load_settings(data_encryption_keys=f"{NEW}, {OLD}").encryption_keys() == [NEW, OLD]
    assert load_settings(data_encryption_key=OLD).encryption_keys() == [OLD]
    assert load_settings().encryption_keys() == []
    bad = "not-a-fernet-key-but-secret-123"
    with pytest.raises(ValueError) as caught:
        load_settings(data_encryption_keys=f"{NEW},{bad}")
    assert "key 2 is not a Fernet key" in str(caught.value)
    assert bad not in str(caught.value) and NEW not in str(caught.value)
    assert NEW not in repr(load_settings(data_encryption_keys=NEW))
