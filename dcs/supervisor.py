"""`dcs up`: start every process of the suite, restart one that dies, stop all on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from approvals.telegram_config import telegram_endpoint, uses_sandbox_telegram
from dcs.settings import Settings
from dcs.temporal import port_open, start_dev_server

RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0


@dataclass
class Child:
    """One supervised process and its recent restarts."""

    name: str
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)


class Supervisor:
    """Keeps the suite's processes running; gives up on a process that crash-loops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.temporal: subprocess.Popen[bytes] | None = None
        self._stopping = False

    def start(self) -> None:
        """Temporal (unless a cluster answers), then simulator, worker, API, gateway."""
        self.temporal = start_dev_server(self.settings)
        names = ["worker", "api", "gateway"]
        if self.settings.sandbox:
            names.insert(0, "simulator")
        if telegram_endpoint(self.settings) is not None:
            names.append("telegram")
        for name in names:
            child = Child(name, [sys.executable, "-m", "dcs", name])
            self._spawn(child)
            self.children.append(child)
            if name == "simulator":
                self._wait_port(self.settings.sandbox_host, self.settings.sandbox_port, child)
                if uses_sandbox_telegram(self.settings):
                    port = self.settings.telegram_sandbox_port
                    self._wait_port(self.settings.sandbox_host, port, child)
            elif name == "api":
                self._wait_port(self.settings.api_host, self.settings.api_port, child)

    def _spawn(self, child: Child) -> None:
        log_path = self.settings.data_dir / f"{child.name}.log"
        log = log_path.open("ab")
        child.proc = subprocess.Popen(child.args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603

    def _wait_port(self, host: str, port: int, child: Child, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if port_open(host, port):
                return
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited; see data/{child.name}.log")
            time.sleep(0.2)
        raise RuntimeError(f"{child.name} did not listen on {host}:{port}")

    def watch(self) -> int:
        """Restart children that die; return when stopped by a signal or a crash loop."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        while not self._stopping:
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None and not self._stopping:
                    if not self._restart(child):
                        self.stop()
                        return 1
            time.sleep(0.5)
        return 0

    def _restart(self, child: Child) -> bool:
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(child.restarts) > RESTART_LIMIT:
            print(f"{child.name} keeps crashing; see data/{child.name}.log. Stopping.")
            return False
        print(f"{child.name} exited ({child.proc.returncode if child.proc else '?'}); restarting")
        self._spawn(child)
        return True

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def stop(self) -> None:
        """Terminate gateway, API, worker, simulator, then Temporal; kill what hangs."""
        self._stopping = True
        procs = [c.proc for c in reversed(self.children) if c.proc is not None]
        if self.temporal is not None:
            procs.append(self.temporal)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
