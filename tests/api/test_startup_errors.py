"""`logyard serve` that cannot work stops at once: one line naming the port or directory, non-zero exit.

A server that logs "listening" and then dies, or stays up answering "waiting for the WAL replay" over a
data directory it can never write, sends its operator looking in the wrong place.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.mounts import not_writable_dir, read_only_dir
from tests.support.server import REPO, ServerProcess, free_port

EXIT_WITHIN_S = 60  # bounds a hanging server; the assertion is the exit, not its speed


def serve(data_dir: Path, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "logyard", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=EXIT_WITHIN_S, cwd=REPO,
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    return lines[0]


def test_a_taken_port_exits_non_zero_with_one_line_naming_the_address(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = serve(tmp_path / "data", port)
    assert r.returncode != 0
    line = one_line(r.stderr)  # no "listening" before it, no traceback after it
    assert f"127.0.0.1:{port}" in line
    assert "address already in use" in line


def test_a_data_dir_that_is_a_regular_file_exits_at_once_naming_it(tmp_path):
    data = tmp_path / "data"
    data.write_text("not a directory\n")
    r = serve(data, free_port())
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the data directory {data}" in line
    assert "not a directory" in line


def test_a_read_only_data_dir_exits_at_once_naming_it(tmp_path):
    with read_only_dir(tmp_path / "data") as data:
        r = serve(data, free_port())
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the data directory {data}" in line
    assert "read-only file system" in line


def test_a_data_dir_its_user_cannot_write_exits_at_once_naming_it(tmp_path):
    with not_writable_dir(tmp_path / "data") as data:
        r = serve(data, free_port())
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert f"cannot use the data directory {data}" in line
    assert "permission denied" in line or "operation not permitted" in line  # chmod 0555 / chattr +i


def test_a_read_only_wal_dir_stops_the_server_instead_of_leaving_it_unready(tmp_path):
    # The data directory itself is fine; the failure only shows when the store opens its WAL.
    data = tmp_path / "data"
    with read_only_dir(data / "wal"):
        r = serve(data, free_port())
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert f"cannot use the data directory {data}" in last
    assert "read-only file system" in last.lower()


def test_a_data_dir_whose_parent_does_not_exist_is_created(tmp_path):
    data = tmp_path / "not" / "yet" / "data"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logyard", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = ServerProcess(tmp_path / "unused", port=port, config_text=None)
    server.proc = proc
    try:
        server.wait_ready()
        assert httpx.get(server.url + "/ready").text == "ready\n"
        assert (data / "wal").is_dir()
    finally:
        assert server.stop() == 0
