"""`dcs up` as a newcomer runs it: every process starts in sandbox mode, answers, and stops on
SIGTERM; `dcs demo` then drives the slice through the running suite; tokens work from the CLI."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
DCS = [sys.executable, "-m", "dcs"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def suite_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_"))}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'dcs.db'}",
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        TEMPORAL_UI_PORT=str(free_port()),
        API_PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
        TELEGRAM_SANDBOX_PORT=str(free_port()),
        LOG_LEVEL="INFO",
    )
    return env


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.1)
    raise AssertionError(f"{needle!r} not printed; got:\n{''.join(seen)}")


def test_dcs_up_runs_the_whole_suite_in_sandbox_mode_and_stops_cleanly(suite_env, tmp_path):
    proc = subprocess.Popen(
        [*DCS, "up"],
        cwd=tmp_path,
        env=suite_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = wait_for_line(proc, "Ctrl-C stops everything", timeout=120)
        assert "SANDBOX MODE" in banner
        api = f"http://127.0.0.1:{suite_env['API_PORT']}"
        assert httpx.get(f"{api}/health").json() == {"status": "ok"}
        assert httpx.get(f"{api}/docs").status_code == 200
        ui = httpx.get(f"http://127.0.0.1:{suite_env['TEMPORAL_UI_PORT']}/")
        assert ui.status_code == 200
        telegram = f"http://127.0.0.1:{suite_env['TELEGRAM_SANDBOX_PORT']}"
        assert f"Telegram       {telegram}/" in banner
        assert "Sandbox approvals" in httpx.get(f"{telegram}/").text
        demo = subprocess.run(
            [*DCS, "demo"],
            cwd=tmp_path,
            env=suite_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "-> left alone" in demo.stdout
        assert "-> case #1 recorded by workflow moderation:" in demo.stdout
        assert "-> posted to #mod-log as 'Case #1'" in demo.stdout
        gateway_log = (tmp_path / "data" / "gateway.log").read_text()
        assert "SANDBOX MODE" in gateway_log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    for port in ("API_PORT", "SANDBOX_PORT", "TELEGRAM_SANDBOX_PORT"):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(suite_env[port]))) != 0, f"{port} still open"


def test_token_cli_creates_lists_and_revokes(suite_env, tmp_path):
    def dcs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DCS, *args], cwd=tmp_path, env=suite_env, capture_output=True, text=True, timeout=60
        )

    created = dcs("token", "create", "--server", "123456789012345678", "--role", "moderator")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("dcs_") and len(secret) > 40
    listed = dcs("token", "list").stdout
    assert "moderator\tserver=123456789012345678\tactive" in listed
    assert secret not in listed
    token_id = listed.split("\t")[0]
    assert dcs("token", "revoke", token_id).returncode == 0
    assert "revoked" in dcs("token", "list").stdout
    assert dcs("token", "revoke", "999").returncode == 1


def test_bad_settings_are_refused_with_the_variable_named(suite_env, tmp_path):
    env = {**suite_env, "DATABASE_URL": "mysql://root@localhost/x", "DISCORD_BOT_TOKEN": "changeme"}
    result = subprocess.run(
        [*DCS, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "DATABASE_URL: Value error, DATABASE_URL must start with" in result.stderr
    assert "DISCORD_BOT_TOKEN: Value error, looks like a placeholder" in result.stderr
