"""Start and stop a real `logyard serve` subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The test corpora are dated 2026-01-01: keep them forever and accept them whatever today's date is.
HISTORIC_DATA_CONFIG = """\
limits:
  retention_period: 0s
  reject_old_samples: false
"""


class ServerProcess:
    """One `python -m logyard serve` process; `kill()` is SIGKILL, `stop()` a clean SIGTERM."""

    def __init__(self, data_dir: Path, port: int | None = None, config: Path | None = None,
                 extra_args: list[str] | None = None, config_text: str | None = HISTORIC_DATA_CONFIG,
                 new_session: bool = False, host=None) -> None:
        self.data_dir = Path(data_dir)
        # A tests.support.hosts.Host: the server runs in that network namespace, on its address.
        self.host = host
        self.address = host.address if host is not None else "127.0.0.1"
        self.port = port or free_port()
        if config is None and config_text is not None:
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            config = self.data_dir.parent / f"server-{self.port}.yaml"
            config.write_text(config_text)
        self.config = config
        self.extra_args = extra_args or []
        # Own session: a terminal's ctrl-C then reaches only the caller (a benchmark that reports first).
        self.new_session = new_session
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self, wait: bool = True, timeout: float = 60.0) -> "ServerProcess":
        args = [sys.executable, "-m", "logyard", "serve", "--listen", f"{self.address}:{self.port}",
                "--data-dir", str(self.data_dir)]
        if self.config:
            args += ["--config", str(self.config)]
        args += self.extra_args
        if self.host is not None:
            args = self.host.command(args)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=self.new_session)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"logyard serve exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                r = httpx.get(self.url + "/ready", timeout=1.0)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"logyard serve not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; 0 for a clean shutdown (uvicorn re-raises SIGTERM once it has shut down)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else 0
        return 0 if code == -signal.SIGTERM else code

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
