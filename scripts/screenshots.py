"""Regenerate the images in docs/images: a sample rank card and screenshots of the running suite.

A developer tool, not run by tests or CI. From the repository root:

    .venv/bin/python scripts/screenshots.py              # everything
    .venv/bin/python scripts/screenshots.py rank-card    # only docs/images/rank-card.png
    .venv/bin/python scripts/screenshots.py suite        # only the three screenshots
    .venv/bin/python scripts/screenshots.py approvals    # only the two Telegram approval shots

`suite` starts `dcs up` in a temporary directory (sandbox mode, SQLite; on ports 8080, 8233, 8765,
8766 and 7233, or spare ones where those are taken), runs `dcs demo` against it, drives headless
Chromium over the DevTools protocol (no Node, no Selenium: a WebSocket from aiohttp) and writes:

    docs/images/temporal-workflows.png            the Temporal Web UI's workflow list
    docs/images/temporal-moderation-workflow.png  the demo's moderation workflow and its history
    docs/images/api-docs.png                      the management API's Swagger page

`approvals` starts its own `dcs up` the same way and has the simulated moderator run `/ban bob`
through the Discord simulator's control API, so the real gateway reports it to the real moderation
workflow, which asks the sandbox Telegram for approval. It photographs the sandbox Telegram page,
presses Approve there in Chromium, waits until the simulator shows bob banned and the workflow has
edited the message, and photographs the page again:

    docs/images/telegram-approval-pending.png     the request with Approve / Reject / Modify
    docs/images/telegram-approval-approved.png    the same message edited with the outcome

Chromium: /usr/bin/chromium, or set CHROMIUM=/path/to/chrome. Everything started is stopped again.

FastAPI's /docs page loads Swagger UI's JavaScript and CSS from a CDN. Without internet access, give
the script a local copy, which it serves to Chromium in place of the CDN:

    .venv/bin/python -m pip install --target /tmp/fo --no-deps fastapi-offline
    .venv/bin/python scripts/screenshots.py suite --swagger-assets /tmp/fo/fastapi_offline/static
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import io
import itertools
import json
import math
import mimetypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.rank_card import RankCard, render_rank_card  # noqa: E402

IMAGES = ROOT / "docs" / "images"
T = TypeVar("T")


# --- the rank card -------------------------------------------------------------------------------


def sample_avatar(size: int = 256) -> bytes:
    """A made-up avatar (a sunset over hills) so the sample needs no network and no real person."""
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    top, bottom = (255, 140, 90), (120, 70, 200)
    for y in range(size):
        t = y / (size - 1)
        draw.line(
            [(0, y), (size, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse((size * 0.3, size * 0.28, size * 0.7, size * 0.68), fill=(255, 224, 130))
    for offset, colour in ((0.62, (70, 40, 120)), (0.74, (40, 24, 80))):
        points = [
            (x, size * offset + math.sin(x / size * 6 + offset * 9) * size * 0.06)
            for x in range(0, size + 8, 8)
        ]
        draw.polygon([*points, (size, size), (0, size)], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_card() -> RankCard:
    """The card shown in the docs."""
    return RankCard(
        display_name="Aurora Lindqvist",
        username="aurora.dev",
        avatar=sample_avatar(),
        level=12,
        rank=3,
        xp_into_level=1234,
        xp_needed=2000,
        total_xp=18_734,
    )


def write_sample(path: Path = IMAGES / "rank-card.png") -> Path:
    """Render the sample card to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_rank_card(sample_card()))
    return path


# --- the running suite ---------------------------------------------------------------------------

DEFAULT_PORTS = {
    "TEMPORAL": 7233,
    "TEMPORAL_UI": 8233,
    "API": 8080,
    "SANDBOX": 8765,
    "TELEGRAM_SANDBOX": 8766,
}
BANNER_END = "Ctrl-C stops everything"
MAX_PNG_BYTES = 400_000
MAX_PAGE_HEIGHT = 2400
SWAGGER_HINT = (
    "/docs loads Swagger UI from a CDN; offline, pass --swagger-assets DIR "
    "(e.g. `python -m pip install --target /tmp/fo --no-deps fastapi-offline`, then "
    "--swagger-assets /tmp/fo/fastapi_offline/static)"
)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
# FastAPI's /docs loads Swagger UI from these hosts; offline, the script serves local copies.
CDN_PATTERNS = ("https://cdn.jsdelivr.net/*", "https://fastapi.tiangolo.com/*")


def _port_free(port: int) -> bool:
    """Nothing listens there (what `dcs up` checks too before it reuses a Temporal server)."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def suite_env(tmp: Path) -> dict[str, str]:
    """Sandbox mode in `tmp`, on the usual ports where free: never photograph another suite."""
    ports = {
        name: port if _port_free(port) else _spare_port() for name, port in DEFAULT_PORTS.items()
    }
    if ports != DEFAULT_PORTS:
        print(f"some default ports are busy; using {ports}")
    # no Discord and no Telegram token: the simulator and the sandbox Telegram stand in
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID")
    }
    env.update(
        DATA_DIR=str(tmp / "data"),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/data/dcs.db",
        TEMPORAL_ADDRESS=f"127.0.0.1:{ports['TEMPORAL']}",
        TEMPORAL_START_DEV_SERVER="true",
        TEMPORAL_UI_PORT=str(ports["TEMPORAL_UI"]),
        API_HOST="127.0.0.1",
        API_PORT=str(ports["API"]),
        SANDBOX_HOST="127.0.0.1",
        SANDBOX_PORT=str(ports["SANDBOX"]),
        TELEGRAM_SANDBOX_PORT=str(ports["TELEGRAM_SANDBOX"]),
    )
    return env


def _dcs(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("dcs")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "dcs", *args]


@contextmanager
def running_suite(tmp: Path, env: dict[str, str]) -> Iterator[None]:
    """`dcs up` in its own process group until the banner is printed; SIGTERM on the way out."""
    log_path = tmp / "dcs-up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            _dcs("up"),
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while BANNER_END not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dcs up did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        print(log_path.read_text().strip())
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        with suppress(ProcessLookupError):  # anything of ours the supervisor left behind
            os.killpg(proc.pid, signal.SIGTERM)


def run_demo(tmp: Path, env: dict[str, str]) -> str:
    """Run `dcs demo` against the suite; return the moderation workflow's Web UI address."""
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        _dcs("demo"), cwd=tmp, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    print(done.stdout.strip())
    found = re.search(r"(http://\S+/workflows/moderation:\S+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"dcs demo failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return found.group(1)


def screenshot_suite(chromium_bin: str, swagger_assets: Path | None, *, keep_tmp: bool) -> None:
    """Start the suite in a temp dir, run the demo, photograph the Temporal UI and API docs."""
    tmp = Path(tempfile.mkdtemp(prefix="dcs-screenshots-"))
    env = suite_env(tmp)
    try:
        with running_suite(tmp, env):
            workflow_url = run_demo(tmp, env)
            ui = f"http://127.0.0.1:{env['TEMPORAL_UI_PORT']}"
            api = f"http://127.0.0.1:{env['API_PORT']}"
            shots = [
                Shot(
                    f"{ui}/namespaces/default/workflows",
                    ("moderation:", "Moderation"),
                    "temporal-workflows.png",
                    size=(1760, 560),
                ),
                Shot(
                    workflow_url,  # redirects to .../{run_id}/timeline; the history is a tab
                    ("Workflow Execution Started", "Activity Task Completed", "Timer Started"),
                    "temporal-moderation-workflow.png",
                    size=(1760, 1320),
                    tab="history?sort=ascending",
                ),
                Shot(
                    f"{api}/docs",
                    ("Discord Community Suite", "/api/servers", "Schemas"),
                    "api-docs.png",
                    size=(1440, 900),
                    full_page=True,
                    hint=SWAGGER_HINT,
                ),
            ]
            asyncio.run(take_screenshots(chromium_bin, tmp / "chromium", shots, swagger_assets))
    finally:
        if keep_tmp:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- the sandbox Telegram's approval page --------------------------------------------------------

APPROVAL_PAGE_SIZE = (1000, 800)
BAN_TARGET = "bob"
BAN_REASON = "posting scam links"
APPROVAL_NEEDLE = "Approval needed: BAN"
FINAL_OUTCOME = "— approved by"  # the workflow's outcome line once the ban is applied
# clicks the first Approve button on the page (the request's inline keyboard); false if none
CLICK_APPROVE = """(() => {
  const button = [...document.querySelectorAll('.kb-row button')]
    .find((b) => b.textContent.includes('Approve'));
  if (!button) return false;
  button.click();
  return true;
})()"""
TOAST_SHOWN = "getComputedStyle(document.getElementById('toast')).display !== 'none'"


def screenshot_approvals(chromium_bin: str, *, keep_tmp: bool) -> None:
    """Start the suite in a temp dir, ask for a ban, photograph the Telegram page before/after."""
    tmp = Path(tempfile.mkdtemp(prefix="dcs-screenshots-"))
    env = suite_env(tmp)
    try:
        with running_suite(tmp, env):
            asyncio.run(approval_screenshots(chromium_bin, tmp, env))
    finally:
        if keep_tmp:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def _poll(
    what: str, probe: Callable[[], Coroutine[Any, Any, T | None]], timeout_s: float = 90
) -> T:
    """Call `probe` until it returns something truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


async def _get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with http.get(url, **kwargs) as resp:
        resp.raise_for_status()
        return await resp.json()


async def request_ban(
    http: aiohttp.ClientSession, sim: str, telegram: str, bob_id: str
) -> dict[str, Any]:
    """The moderator runs `/ban bob`; return the Telegram approval message it leads to."""
    body = {
        "name": "ban",
        "user": "moderator",
        "channel": "general",
        "options": {"user": BAN_TARGET, "reason": BAN_REASON},
    }

    async def invoke() -> dict[str, Any] | None:
        # refused (e.g. 404) until the gateway has synced its commands: try again
        async with http.post(f"{sim}/_sim/interactions/commands", json=body) as resp:
            return dict(await resp.json()) if resp.status == 201 else None

    interaction = await _poll("the simulator to accept /ban", invoke, 60)
    print(f"/ban {BAN_TARGET} reason={BAN_REASON!r} by moderator: interaction {interaction['id']}")

    async def approval_message() -> dict[str, Any] | None:
        state = await _get_json(http, f"{telegram}/_tg/state")
        for message in state["messages"]:
            text = str(message.get("text", ""))
            if APPROVAL_NEEDLE in text and bob_id in text and message.get("reply_markup"):
                return dict(message)
        return None

    message = await _poll("the approval request in the sandbox Telegram", approval_message)

    async def reply() -> str | None:
        # the followup after a "thinking" defer may land as the original response or a followup
        found = await _get_json(http, f"{sim}/_sim/interactions/{interaction['id']}")
        said = [m for m in (found["original_message"], *found["followups"]) if m]
        return next((str(m["content"]) for m in said if m.get("content")), None)

    with suppress(TimeoutError):
        print(f"the bot told the moderator: {await _poll('the reply', reply, 15)}")
    print(f"Telegram message {message['message_id']}:\n{message['text']}")
    return message


async def bob_banned(http: aiohttp.ClientSession, sim: str, guild: str, bob_id: str) -> str | None:
    """The ban's reason once the simulated guild has bob in its ban list, else None."""
    state = await _get_json(http, f"{sim}/_sim/state")
    for found in state["guilds"]:
        if found["id"] == guild:
            for ban in found["bans"]:
                if ban["user_id"] == bob_id:
                    return str(ban["reason"] or "(no reason)")
    return None


async def approval_screenshots(binary: str, tmp: Path, env: dict[str, str]) -> None:
    """A real ban request through the running suite; the page before and after Approve."""
    sim = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    telegram = f"http://127.0.0.1:{env['TELEGRAM_SANDBOX_PORT']}"
    api = f"http://127.0.0.1:{env['API_PORT']}"
    token = (Path(env["DATA_DIR"]) / "sandbox-admin-token").read_text().strip()
    IMAGES.mkdir(parents=True, exist_ok=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        world = await _get_json(http, f"{sim}/_sim/world")
        guild, bob_id = str(world["guild_id"]), str(world["members"][BAN_TARGET])

        async def seeded_config() -> dict[str, Any] | None:
            # version 1+ once the gateway has seen the guild and stored the sandbox config
            async with http.get(
                f"{api}/api/servers/{guild}/config", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                found = await resp.json() if resp.status == 200 else {}
            return dict(found) if found.get("version", 0) >= 1 else None

        config = await _poll("the gateway to seed the sandbox config", seeded_config)
        approvers = config["config"]["approvals"]["approver_telegram_ids"]
        print(f"sandbox config v{config['version']}: Telegram approvers {approvers}")
        message = await request_ban(http, sim, telegram, bob_id)

        async with (
            chromium(binary, tmp / "chromium") as devtools,
            open_page(http, devtools) as page,
        ):
            width, height = APPROVAL_PAGE_SIZE
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            await page.call("Page.navigate", url=f"{telegram}/")
            await page.wait_for_text((APPROVAL_NEEDLE, bob_id, "Approve", "Reject", "Modify"))
            await asyncio.sleep(1.0)
            await fit_content(page, width, height)
            await _capture(page, "telegram-approval-pending.png")

            clicked = await page.call(
                "Runtime.evaluate", expression=CLICK_APPROVE, returnByValue=True
            )
            if clicked.get("result", {}).get("value") is not True:
                raise RuntimeError("no Approve button on the page")
            print("pressed Approve on the sandbox Telegram page")

            async def outcome(final: bool) -> str | None:
                # the bot edits the message at once ("Approved by ...: ban will be carried out");
                # the workflow edits it again once the ban is applied ("permanent ban - approved")
                state = await _get_json(http, f"{telegram}/_tg/state")
                for found in state["messages"]:
                    text = str(found["text"])
                    if found["message_id"] == message["message_id"] and "── " in text:
                        ending = text.rsplit("── ", 1)[1]
                        return ending if not final or FINAL_OUTCOME in ending else None
                return None

            print(f"the bot edited the message: {await _poll('the edit', lambda: outcome(False))}")
            reason = await _poll(
                f"{BAN_TARGET} to be banned in the simulator",
                lambda: bob_banned(http, sim, guild, bob_id),
            )
            print(f"confirmed: the simulator shows {BAN_TARGET} ({bob_id}) banned: {reason}")
            ending = await _poll("the workflow's outcome edit", lambda: outcome(True))
            print(f"the workflow edited the message: {ending}")
            await page.wait_for_text((ending, "edited"))

            async def toast_gone() -> bool:
                shown = await page.call(
                    "Runtime.evaluate", expression=TOAST_SHOWN, returnByValue=True
                )
                return shown.get("result", {}).get("value") is False

            await _poll("the toast to fade", toast_gone, 15)
            await fit_content(page, width, height)
            await _capture(page, "telegram-approval-approved.png")


async def fit_content(page: DevToolsPage, width: int, max_height: int) -> None:
    """Make the viewport end a little below the page's last element (no empty half-screen)."""
    result = await page.call(
        "Runtime.evaluate",
        expression="Math.ceil(document.body.getBoundingClientRect().bottom)",
        returnByValue=True,
    )
    bottom = int(result.get("result", {}).get("value", 0)) or max_height
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=min(bottom + 24, max_height),
        deviceScaleFactor=1,
        mobile=False,
    )
    await asyncio.sleep(0.3)


async def _capture(page: DevToolsPage, filename: str) -> None:
    result = await page.call("Page.captureScreenshot", format="png")
    path = save_png(base64.b64decode(result["data"]), IMAGES / filename)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


# --- Chromium over the DevTools protocol ---------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """A page to photograph once all of `wait_for` is on screen."""

    url: str
    wait_for: tuple[str, ...]
    filename: str
    size: tuple[int, int] = (1440, 900)
    tab: str | None = None  # replaces the last path segment once the SPA has redirected
    full_page: bool = False  # grow the viewport to the page's height (at most MAX_PAGE_HEIGHT)
    hint: str = ""  # added to the error when the content never shows


class DevToolsPage:
    """Just enough of the Chrome DevTools Protocol for one page: commands, events, screenshots."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result (DevTools errors raise RuntimeError)."""
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        return await asyncio.wait_for(future, timeout=60)

    def on(
        self, event: str, handler: Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
    ) -> None:
        """Run `handler(params)` as a task for each such event."""
        self._handlers[event] = handler

    async def read(self) -> None:
        """Dispatch replies and events until the socket closes."""
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                future = self._pending.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif data.get("method") in self._handlers:
                task = asyncio.create_task(self._handlers[data["method"]](data["params"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def page_text(self) -> str:
        """The visible text of the page."""
        result = await self.call(
            "Runtime.evaluate",
            expression="document.body ? document.body.innerText : ''",
            returnByValue=True,
        )
        return str(result.get("result", {}).get("value", ""))

    async def wait_for_url(self, pattern: str, timeout_s: float = 60) -> str:
        """Poll until the page's address matches `pattern` (client-side redirects included)."""
        deadline = time.monotonic() + timeout_s
        href = ""
        while time.monotonic() < deadline:
            result = await self.call(
                "Runtime.evaluate", expression="location.href", returnByValue=True
            )
            href = str(result.get("result", {}).get("value", ""))
            if re.search(pattern, href):
                return href
            await asyncio.sleep(0.25)
        raise TimeoutError(f"the page never went to {pattern}; it is at {href}")

    async def wait_for_text(
        self, needles: tuple[str, ...], timeout_s: float = 60, hint: str = ""
    ) -> None:
        """Poll until every needle is on the page: SPAs render long after the load event."""
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = await self.page_text()
            if all(needle in text for needle in needles):
                return
            await asyncio.sleep(0.25)
        raise TimeoutError(f"{needles} never appeared; the page said:\n{text[:1500]}\n{hint}")

    async def fit_height(self, width: int, max_height: int) -> None:
        """Make the viewport as tall as the document, so the screenshot holds all of it."""
        result = await self.call(
            "Runtime.evaluate",
            expression="document.documentElement.scrollHeight",
            returnByValue=True,
        )
        height = min(int(result.get("result", {}).get("value", 0)) or max_height, max_height)
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def serve_offline(self, assets: Path) -> None:
        """Answer requests for CDN files from `assets`; fail the rest as if offline."""

        async def paused(params: dict[str, Any]) -> None:
            name = params["request"]["url"].split("?")[0].rsplit("/", 1)[-1]
            path = assets / name
            if not path.is_file():
                await self.call(
                    "Fetch.failRequest",
                    requestId=params["requestId"],
                    errorReason="InternetDisconnected",
                )
                return
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            await self.call(
                "Fetch.fulfillRequest",
                requestId=params["requestId"],
                responseCode=200,
                responseHeaders=[{"name": "Content-Type", "value": kind}],
                body=base64.b64encode(path.read_bytes()).decode(),
            )

        self.on("Fetch.requestPaused", paused)
        await self.call("Fetch.enable", patterns=[{"urlPattern": p} for p in CDN_PATTERNS])


@asynccontextmanager
async def chromium(binary: str, profile: Path) -> AsyncIterator[str]:
    """Headless Chromium; yields the DevTools HTTP address read from its stderr."""
    proc = await asyncio.create_subprocess_exec(
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        ws_url = await asyncio.wait_for(_devtools_url(proc.stderr), timeout=30)
        drain = asyncio.create_task(_drain(proc.stderr))
        yield "http://" + ws_url.split("/")[2]
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if drain is not None:
            drain.cancel()


async def _devtools_url(stderr: asyncio.StreamReader) -> str:
    while line := (await stderr.readline()).decode(errors="replace"):
        if found := re.search(r"DevTools listening on (ws://\S+)", line):
            return found.group(1)
    raise RuntimeError("chromium exited before it opened DevTools")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


@asynccontextmanager
async def open_page(http: aiohttp.ClientSession, devtools: str) -> AsyncIterator[DevToolsPage]:
    """A new tab, closed again afterwards."""
    async with http.put(f"{devtools}/json/new?about:blank") as resp:
        target = await resp.json()
    async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
        page = DevToolsPage(ws)
        reader = asyncio.create_task(page.read())
        try:
            await page.call("Page.enable")
            yield page
        finally:
            reader.cancel()
    async with http.get(f"{devtools}/json/close/{target['id']}"):
        pass


async def take_screenshots(
    binary: str, profile: Path, shots: list[Shot], swagger_assets: Path | None
) -> None:
    """Photograph each page once its content is there; write the PNGs into docs/images."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    async with chromium(binary, profile) as devtools, aiohttp.ClientSession() as http:
        for shot in shots:
            async with open_page(http, devtools) as page:
                if swagger_assets is not None:
                    await page.serve_offline(swagger_assets)
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=shot.size[0],
                    height=shot.size[1],
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await page.call("Page.navigate", url=shot.url)
                if shot.tab is not None:
                    redirected = await page.wait_for_url(r"/workflows/[^/]+/[^/]+/[a-z-]+(\?.*)?$")
                    await page.call(
                        "Page.navigate", url=redirected.rsplit("/", 1)[0] + "/" + shot.tab
                    )
                await page.wait_for_text(shot.wait_for, hint=shot.hint)
                if shot.full_page:
                    await page.fit_height(shot.size[0], MAX_PAGE_HEIGHT)
                await asyncio.sleep(1.5)  # let transitions and late requests settle
                result = await page.call("Page.captureScreenshot", format="png")
            path = save_png(base64.b64decode(result["data"]), IMAGES / shot.filename)
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def save_png(png: bytes, path: Path) -> Path:
    """Save a screenshot, reducing colours and then size until it is under MAX_PNG_BYTES."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.save(path, format="PNG", optimize=True)
    while path.stat().st_size > MAX_PNG_BYTES:
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size <= MAX_PNG_BYTES:
            break
        image = image.resize(
            (image.width * 4 // 5, image.height * 4 // 5), Image.Resampling.LANCZOS
        )
    return path


def _find_swagger_assets() -> Path | None:
    """Swagger UI files from an installed fastapi-offline or swagger-ui-bundle, if any."""
    for module, sub in (("fastapi_offline", "static"), ("swagger_ui_bundle", "")):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent / sub
        found = next(root.rglob("swagger-ui-bundle.js"), None)
        if found is not None:
            return found.parent
    return None


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and make the requested images."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", nargs="?", choices=("all", "rank-card", "suite", "approvals"), default="all"
    )
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument(
        "--swagger-assets",
        type=Path,
        default=_find_swagger_assets(),
        help="a directory with swagger-ui-bundle.js and swagger-ui.css, served in place of the "
        "CDN that /docs loads them from (found automatically if fastapi-offline is installed)",
    )
    parser.add_argument("--keep-tmp", action="store_true", help="keep the suite's temp dir")
    args = parser.parse_args(argv)
    if args.what in ("all", "rank-card"):
        print(f"wrote {write_sample()}")
    if args.what in ("all", "suite"):
        screenshot_suite(args.chromium, args.swagger_assets, keep_tmp=args.keep_tmp)
    if args.what in ("all", "approvals"):
        screenshot_approvals(args.chromium, keep_tmp=args.keep_tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
