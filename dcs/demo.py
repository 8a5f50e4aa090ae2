"""`dcs demo`: a short scripted scenario through the sandbox, narrated for a newcomer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from dcs.sandbox import prepare_sandbox, print_banner, sandbox_token_path
from dcs.settings import Settings
from dcs.supervisor import Supervisor
from dcs.temporal import port_open
from storage.engine import upgrade_database

T = TypeVar("T")
CLEAN = "good morning everyone, who's up for the event tonight?"
BLOCKED = "claim your FREE N1TRO here before it's gone"


class DemoFailed(RuntimeError):
    """A step of the scenario did not happen in time."""


def _wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise DemoFailed(f"timed out waiting for {what}")


class Sandbox:
    """HTTP views of the running suite: the simulator's control API and the management API."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.sim = httpx.Client(base_url=settings.sandbox_url, timeout=10)
        self.api = httpx.Client(
            base_url=f"http://{settings.api_host}:{settings.api_port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        self.world: dict[str, Any] = self.sim.get("/_sim/world").json()
        self.guild = self.world["guild_id"]

    def post(self, author: str, content: str) -> str:
        """A member posts in #general; returns the message id."""
        body = {"channel": "general", "author": author, "content": content}
        resp = self.sim.post("/_sim/messages", json=body)
        resp.raise_for_status()
        return str(resp.json()["id"])

    def deleted(self, message_id: str) -> bool:
        """Whether the bot deleted this message through Discord REST."""
        found = self.sim.get("/_sim/requests", params={"method": "DELETE"}).json()
        return any(r["path"].endswith(f"/messages/{message_id}") for r in found)

    def config_version(self) -> int:
        """The guild's config version (1+ once the gateway has seen the guild)."""
        resp = self.api.get(f"/api/servers/{self.guild}/config")
        return int(resp.json()["version"]) if resp.status_code == 200 else 0

    def case_for(self, message_id: str) -> dict[str, Any] | None:
        """The moderation case whose evidence is this message."""
        resp = self.api.get(f"/api/servers/{self.guild}/moderation/logs")
        resp.raise_for_status()
        for case in resp.json()["items"]:
            if str((case.get("evidence") or {}).get("message_id")) == message_id:
                return dict(case)
        return None

    def mod_log_titles(self) -> list[str]:
        """Embed titles the bot posted in #mod-log."""
        channel = self.world["channels"]["mod-log"]
        found = self.sim.get("/_sim/requests", params={"method": "POST"}).json()
        return [
            r["json"]["embeds"][0]["title"]
            for r in found
            if r["path"].endswith(f"/channels/{channel}/messages")
            and r["status"] == 200
            and (r.get("json") or {}).get("embeds")
        ]


def _scenario(settings: Settings) -> None:
    token = sandbox_token_path(settings).read_text().strip()
    box = Sandbox(settings, token)
    step = print
    step(f"Sandbox guild {box.guild} ('Sandbox Community'); waiting for the gateway ...")
    _wait_for("the gateway to load the guild's config", box.config_version, 60)
    step("1. alice says: " + repr(CLEAN))
    clean_id = box.post("alice", CLEAN)
    time.sleep(1.0)
    step("   -> left alone" if not box.deleted(clean_id) else "   -> deleted?!")
    step("2. bob says: " + repr(BLOCKED) + "   ('free nitro' is blocked; '1' for 'i' is caught)")
    started = time.monotonic()
    bad_id = box.post("bob", BLOCKED)
    _wait_for("the fast path to delete the message", lambda: box.deleted(bad_id))
    step(f"   -> deleted by the fast path in {1000 * (time.monotonic() - started):.0f} ms")
    case = _wait_for("the case to be recorded", lambda: box.case_for(bad_id))
    step(
        f"   -> case #{case['case_number']} recorded by workflow {case['workflow_id']}: "
        f"{case['reason']}"
    )
    title = f"Case #{case['case_number']}"
    _wait_for("the mod-log post", lambda: title in box.mod_log_titles())
    step(f"   -> posted to #mod-log as '{title}'")
    ui = f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}"
    step("")
    step("See it yourself:")
    step(f"  the workflow   {ui}/workflows/{case['workflow_id']}")
    token_file = sandbox_token_path(settings)
    step(f'  the case log   curl -H "Authorization: Bearer $(cat {token_file})" \\')
    step(f"                   {box.api.base_url}/api/servers/{box.guild}/moderation/logs")
    step(f"  API docs       {box.api.base_url}/docs")


def run_demo(settings: Settings, *, keep_running: bool) -> int:
    """Run the scenario against a running suite, or start one for the occasion."""
    supervisor: Supervisor | None = None
    if not port_open(settings.api_host, settings.api_port):
        print("The suite is not running; starting it for the demo ...")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(settings.database_url)
        asyncio.run(prepare_sandbox(settings))
        supervisor = Supervisor(settings)
        supervisor.start()
    try:
        _scenario(settings)
        code = 0
    except (DemoFailed, httpx.HTTPError) as exc:
        print(f"demo failed: {exc} (logs in {settings.data_dir}/*.log)")
        code = 1
    if supervisor is not None:
        if keep_running and code == 0:
            print_banner(settings, sandbox_token_path(settings))
            code = supervisor.watch()
        supervisor.stop()
    return code
