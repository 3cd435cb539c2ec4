"""`logyard up` that cannot work says why and what to do, in one line, before it starts anything."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys

from tests.support.server import REPO, free_port


def up(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logyard", "up", "--data-dir", str(tmp_path / "data"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_a_taken_port_names_the_address_and_the_flag(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = up(tmp_path, "--listen", f"127.0.0.1:{port}", "--agent-listen", f"127.0.0.1:{free_port()}")
        assert r.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}: address already in use" in r.stderr
        assert "--listen HOST:PORT" in r.stderr
        r = up(tmp_path, "--listen", f"127.0.0.1:{free_port()}", "--agent-listen", f"127.0.0.1:{port}")
        assert r.returncode == 1 and "--agent-listen HOST:PORT" in r.stderr
    assert not (tmp_path / "data" / "agent" / "agent.yaml").exists()  # nothing started


def test_a_data_dir_in_use_says_so(tmp_path):
    (tmp_path / "data").mkdir()
    fd = os.open(tmp_path / "data" / "LOCK", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running server holds it
    try:
        r = up(tmp_path, "--listen", f"127.0.0.1:{free_port()}", "--agent-listen", f"127.0.0.1:{free_port()}")
    finally:
        os.close(fd)
    assert r.returncode == 1
    assert "is in use by another logyard process" in r.stderr and "--data-dir" in r.stderr


def test_one_port_for_both_is_refused(tmp_path):
    port = free_port()
    r = up(tmp_path, "--listen", f"127.0.0.1:{port}", "--agent-listen", f"127.0.0.1:{port}")
    assert r.returncode == 1 and "--agent-listen" in r.stderr


def test_a_malformed_address_is_a_usage_error(tmp_path):
    r = up(tmp_path, "--agent-listen", "9080")
    assert r.returncode == 2 and "--agent-listen" in r.stderr
