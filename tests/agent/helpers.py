"""Running the agent as a real process, and a `logyard serve` sink, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTED: list[subprocess.Popen] = []  # every process a test started, killed at its teardown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition",
               detail: Callable[[], str] | None = None) -> None:
    """Poll until `check()`; the timeout only bounds a failing test, it is not what the test asserts.
    `detail` says, on a timeout, what was missing (a CI log is all there is of a rare failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{detail()}" if detail is not None else ""))


def agent_command() -> list[str]:
    """The lead's `logyard agent` when the CLI is there, else the agent's own `python -m logyard.agent`."""
    try:
        import logyard.cli  # noqa: F401

        return [sys.executable, "-m", "logyard", "agent"]
    except ImportError:
        return [sys.executable, "-m", "logyard.agent"]


class AgentProcess:
    """The agent as a process on 127.0.0.1 with a config file; `kill9()` to crash it."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str] | None = None,
                 port: int | None = None, listen_flag: bool = True) -> None:
        """`listen_flag=False` leaves the address to the config file, which must then say `port`."""
        self.config_path = config_path
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.listen_flag = listen_flag
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AgentProcess":
        log = open(self.log_path, "ab")
        listen = ["--listen", f"127.0.0.1:{self.port}"] if self.listen_flag else []
        self.proc = subprocess.Popen(
            [*agent_command(), "--config", str(self.config_path), *listen],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )
        STARTED.append(self.proc)
        wait_until(self.ready, 20, "agent /ready")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"agent exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("agent did not stop on SIGTERM")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")


class LogyardServer:
    """A real `logyard serve` (the lead's CLI) on 127.0.0.1 with its own data directory."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        import logyard.cli  # noqa: F401 - the e2e tests must fail, not skip, while the CLI is missing

        self.port = free_port()
        self.data_dir = data_dir
        self.log = open(log_path, "ab")
        self.log_path = log_path
        self.start()

    def start(self) -> None:
        """(Again) on the same port and data directory."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logyard", "serve", "--listen", f"127.0.0.1:{self.port}",
             "--data-dir", str(self.data_dir)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        STARTED.append(self.proc)
        wait_until(self._ready, 60, "logyard serve /ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"logyard serve exited: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/loki/api/v1/push"

    def streams(self, **match: str) -> list[tuple[dict, list[tuple[int, str]]]]:
        """Every stored entry of matching streams, paging forward 5000 at a time (Loki's limit)."""
        selector = "{" + ", ".join(f'{k}="{v}"' for k, v in match.items()) + "}"
        now = time.time_ns()
        start, end = now - 6 * 3600 * 10**9, now + 600 * 10**9
        seen: set[tuple[str, int, str]] = set()
        out: dict[str, tuple[dict, list[tuple[int, str]]]] = {}
        while True:
            r = httpx.get(
                f"http://127.0.0.1:{self.port}/loki/api/v1/query_range",
                params={"query": selector, "start": str(start), "end": str(end), "limit": "5000",
                        "direction": "forward"},
                timeout=60,
            )
            r.raise_for_status()
            result = r.json()["data"]["result"]
            n, last = 0, start
            for s in result:
                key = repr(sorted(s["stream"].items()))
                labels, values = out.setdefault(key, (s["stream"], []))
                for ts, line, *_ in s["values"]:
                    n += 1
                    last = max(last, int(ts))
                    if (key, int(ts), line) not in seen:
                        seen.add((key, int(ts), line))
                        values.append((int(ts), line))
            if n < 5000:
                return list(out.values())
            start = last  # inclusive: entries at `last` already seen are skipped above

    def lines(self, **match: str) -> list[str]:
        rows = sorted((ts, line) for _, values in self.streams(**match) for ts, line in values)
        return [line for _, line in rows]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
