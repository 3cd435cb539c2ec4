"""A real `logyard serve` for the client's tests, a way to push to it, and two ways to run the CLI:
in-process through click's CliRunner (output only) and as a subprocess (exit codes, tail, terminals:
`run_with_terminal_stderr` puts a real pseudo-terminal on stderr)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import httpx
import orjson
import pytest
from click.testing import CliRunner

from logyard.cli import main
from tests.support.server import ServerProcess

BASE_NS = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z
FROM, TO = "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"
CLIENT_ENV = ("LOKI_ADDR", "LOKI_ORG_ID", "LOKI_USERNAME", "LOKI_PASSWORD", "NO_COLOR")


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("client") / "data") as srv:
        yield srv


def push(url: str, streams: list[tuple[dict, list[tuple[int, str]]]], tenant: str | None = None) -> None:
    body = orjson.dumps({"streams": [{"stream": labels, "values": [[str(t), line] for t, line in values]}
                                     for labels, values in streams]})
    headers = {"Content-Type": "application/json"}
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    r = httpx.post(url + "/loki/api/v1/push", content=body, headers=headers, timeout=120)
    assert r.status_code == 204, r.text


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    return {**env, **extra}


def cli(*args: str, env: dict | None = None):
    """`logyard ARGS` in-process; the result has .exit_code, .stdout and .stderr apart."""
    runner = CliRunner(env={**{k: None for k in CLIENT_ENV}, **(env or {})})
    return runner.invoke(main, list(args), catch_exceptions=False)


def run(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`logyard ARGS` as a process, its output through pipes."""
    return subprocess.run([sys.executable, "-m", "logyard", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or clean_env())


def run_with_terminal_stderr(*args: str) -> tuple[str, str]:
    """(stdout through a pipe, what the terminal on stderr showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "logyard", *args], stdout=subprocess.PIPE, stderr=slave,
                            env=clean_env(), text=True)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's last writer is gone
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read()
    assert proc.wait(120) == 0, shown
    os.close(master)
    return out, shown.decode(errors="replace")
