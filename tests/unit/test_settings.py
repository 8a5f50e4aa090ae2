"""Process settings: sandbox detection, placeholder refusal, URL checks."""

import pytest
from pydantic import ValidationError

from dcs.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ["DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)


def test_no_token_means_sandbox_against_the_simulator():
    s = Settings()
    assert s.sandbox
    assert s.effective_discord_api_url == "http://127.0.0.1:8765/api/v10"


def test_token_means_real_discord(monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "MTIz.real-looking.token")
    s = Settings()
    assert not s.sandbox
    assert s.effective_discord_api_url == "https://discord.com/api/v10"
    assert "real-looking" not in repr(s)


def test_empty_token_is_unset(monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "")
    assert Settings().sandbox


@pytest.mark.parametrize("value", ["changeme", "CHANGEME", "your-token-here"])
def test_placeholder_secret_is_refused(monkeypatch, value):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", value)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()


def test_unknown_database_driver_is_refused(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/db")
    with pytest.raises(ValidationError, match="DATABASE_URL must start with"):
        Settings()


def test_telegram_needs_both_token_and_chat(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    with pytest.raises(ValidationError, match="must be set together"):
        Settings()
