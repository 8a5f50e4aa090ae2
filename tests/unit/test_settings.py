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


GROUPS = "0-1=http://gateway-0:8767,2-3=http://gateway-1:8767/"


def test_relay_urls_route_each_shard_to_its_group(monkeypatch):
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("INTERACTIONS_RELAY_URLS", GROUPS)
    routes = Settings().interactions_relay_routes
    assert routes is not None and routes.shard_count == 4
    assert routes.urls == ("http://gateway-0:8767",) * 2 + ("http://gateway-1:8767",) * 2
    assert routes.url_for((1234 << 22) | 99) == "http://gateway-1:8767"  # 1234 % 4 == 2
    assert routes.url_for(1233 << 22) == "http://gateway-0:8767"  # shard 1
    assert routes.url_for(None) == "http://gateway-0:8767"  # direct messages: shard 0
    # a group with scattered shards: one entry per range, same URL
    scattered = "0=http://a:1, 2=http://a:1, 1=http://b:1, 3=https://b.example/relay"
    regrouped = Settings(discord_shard_count=4, interactions_relay_urls=scattered)
    routes = regrouped.interactions_relay_routes
    assert routes is not None and routes.urls == (
        "http://a:1", "http://b:1", "http://a:1", "https://b.example/relay",
    )  # fmt: skip


def test_one_gateway_keeps_the_single_relay_url(monkeypatch):
    for name in ("INTERACTIONS_RELAY_URLS", "INTERACTIONS_RELAY_URL", "DISCORD_SHARD_COUNT"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().interactions_relay_routes is None
    monkeypatch.setenv("INTERACTIONS_RELAY_URL", "http://gateway:8767")
    monkeypatch.setenv("INTERACTIONS_RELAY_URLS", "")  # blank: unset
    s = Settings()
    assert s.interactions_relay_routes is None
    assert s.interactions_relay_base == "http://gateway:8767"


@pytest.mark.parametrize(
    ("count", "spec", "message"),
    [
        (None, GROUPS, "INTERACTIONS_RELAY_URLS needs DISCORD_SHARD_COUNT"),
        ("4", "0-1=http://gateway-0:8767", r"shards \[2, 3\] of 4 have no relay"),
        ("4", "0-2=http://a:1,2-3=http://b:1", "shard 2 is given two relays"),
        ("4", "0-1=http://a:1,2-4=http://b:1", "names shard 4, outside 0..3"),
        ("4", "0-1=ftp://a,2-3=http://b:1", "shards '0-1' is not an http"),
        ("4", "0-1=http://a:99999,2-3=http://b:1", "shards '0-1' is not an http"),
        ("4", "0-1=gateway-0:8767,2-3=http://b:1", "shards '0-1' is not an http"),
        ("4", "0-1=http://a:1?x=y,2-3=http://b:1", "query, fragment or credentials"),
        ("4", "0,1=http://a:1,2-3=http://b:1", "'0' is not \"SHARDS=URL\""),
        ("4", "a-b=http://a:1,2-3=http://b:1", "'a-b' is not a shard id or a range"),
        ("4", "3-2=http://a:1,0-1=http://b:1", "range '3-2' runs backwards"),
    ],
)
def test_bad_relay_urls_are_refused_at_start(monkeypatch, count, spec, message):
    monkeypatch.delenv("INTERACTIONS_RELAY_URL", raising=False)
    if count is None:
        monkeypatch.delenv("DISCORD_SHARD_COUNT", raising=False)
    else:
        monkeypatch.setenv("DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("INTERACTIONS_RELAY_URLS", spec)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_relay_urls_and_the_single_relay_url_are_not_both_set(monkeypatch):
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("INTERACTIONS_RELAY_URLS", GROUPS)
    monkeypatch.setenv("INTERACTIONS_RELAY_URL", "http://gateway:8767")
    with pytest.raises(ValidationError, match="not both"):
        Settings()


def test_a_relay_url_with_credentials_is_refused_without_echoing_them(monkeypatch):
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "2")
    monkeypatch.setenv("INTERACTIONS_RELAY_URLS", "0=http://user:hunter2@a:1,1=http://b:1")
    with pytest.raises(ValidationError, match="credentials") as refused:
        Settings()
    assert "hunter2" not in str(refused.value)
