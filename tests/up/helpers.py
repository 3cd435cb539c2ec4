"""`logyard up` as a real process on free loopback ports, and the processes it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.agent.helpers import wait_until
from tests.support.server import REPO, free_port


def parents() -> dict[int, int]:
    """pid -> parent pid of every living process, read from /proc."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # gone meanwhile
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # a zombie has ended
                parent[int(entry)] = int(fields[1])
    return parent


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`: children, their children..."""
    parent = parents()
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


class UpProcess:
    """`python -m logyard up` with its own data directory, ports and environment."""

    def __init__(self, tmp: Path, args: list[str] = (), env: dict[str, str] | None = None) -> None:
        self.data_dir = tmp / "logyard-data"
        self.port, self.agent_port = free_port(), free_port()
        self.args = list(args)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.out_path, self.err_path = tmp / "up.out", tmp / "up.err"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def agent_url(self) -> str:
        return f"http://127.0.0.1:{self.agent_port}"

    def start(self) -> "UpProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logyard", "up", "--listen", f"127.0.0.1:{self.port}",
             "--agent-listen", f"127.0.0.1:{self.agent_port}", "--data-dir", str(self.data_dir), *self.args],
            cwd=REPO, env=self.env, stdout=open(self.out_path, "ab"), stderr=open(self.err_path, "ab"),
        )
        wait_until(lambda: self.answers(self.url) and self.answers(self.agent_url), 60, "server and agent /ready")
        return self

    def answers(self, base: str) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"logyard up exited with {self.proc.returncode}: {self.output()}")
        try:
            return httpx.get(base + "/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")[-4000:]

    def children(self, command: str) -> list[int]:
        """The pids of living `logyard <command>` children (serve or agent): one, or none meanwhile."""
        return [p for p, pp in parents().items() if pp == self.proc.pid and cmdline(p)[2:4] == ["logyard", command]]

    def child(self, command: str) -> int:
        found = self.children(command)
        assert len(found) == 1, (command, found)
        return found[0]

    def query(self, query: str, limit: int = 5000) -> list[tuple[dict, list]]:
        r = httpx.get(self.url + "/loki/api/v1/query_range",
                      params={"query": query, "limit": limit, "since": "1h"}, timeout=10)
        r.raise_for_status()
        return [(s["stream"], s["values"]) for s in r.json()["data"]["result"]]

    def interrupt(self, timeout: float = 90) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """Teardown after a failure: the whole tree, so no test leaves a process behind."""
        if self.proc is None:
            return
        for pid in descendants(self.proc.pid) | {self.proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
