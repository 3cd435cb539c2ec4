"""`logyard query --tail` as a process: the back-fill first, then a line pushed after it started,
read from its stdout through a pipe (so each frame must be flushed)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

import pytest

from tests.client.conftest import clean_env, push, run

pytestmark = pytest.mark.slow
WAIT = 60.0  # a bound for a line that should come within a second


class Lines:
    """A process's stdout, line by line, with a timeout on each read."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._q: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._q.put(line)
        self._q.put(None)

    def next(self) -> str | None:
        return self._q.get(timeout=WAIT)


@pytest.fixture
def tail_proc(server):
    procs = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "logyard", "query", *args, "--addr", server.url, "--tail"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(30)


def test_tail_prints_the_backfill_then_a_line_pushed_after_it_started(server, tail_proc):
    push(server.url, [({"app": "tail"}, [(time.time_ns(), "before the tail")])])
    proc = tail_proc('{app="tail"}', "-o", "raw", "-q")
    lines = Lines(proc)
    assert lines.next() == "before the tail\n"  # the back-fill: the tail is connected
    push(server.url, [({"app": "tail"}, [(time.time_ns(), "after the tail")])])
    assert lines.next() == "after the tail\n"
    assert proc.poll() is None


def test_tail_default_output_has_timestamp_and_labels(server, tail_proc):
    push(server.url, [({"app": "tail2", "svc": "web"}, [(time.time_ns(), "hello")])])
    proc = tail_proc('{app="tail2"} |= "hello"', "-q", "-z", "UTC")
    line = Lines(proc).next()
    assert line.endswith(' hello\n') and '{app="tail2", ' in line and 'svc="web"' in line
    assert line[:4].isdigit() and line[19] == "Z"


def test_tail_of_a_bad_query_prints_lokis_error_and_exits_1(server):
    r = run("query", '{app="tail"', "--tail", "--addr", server.url, "-q")
    assert r.returncode == 1
    assert "parse error" in r.stderr and "(HTTP 400)" in r.stderr


def test_tail_connects_again_after_the_server_is_killed_and_restarted(tmp_path):
    """A dropped connection (no close frame: the server SIGKILLed) is opened again with back-off,
    from the last timestamp printed: the line before is not printed twice, the line after arrives."""
    from tests.support.server import ServerProcess

    srv = ServerProcess(tmp_path / "data").start()
    try:
        push(srv.url, [({"app": "again"}, [(time.time_ns(), "before the restart")])])
        proc = subprocess.Popen([sys.executable, "-m", "logyard", "query", '{app="again"}', "--tail", "-o", "raw",
                                 "--addr", srv.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env())
        try:
            lines = Lines(proc)
            assert lines.next() == "before the restart\n"
            srv.kill()
            srv.start()
            # the tail may reconnect before or after this push; either way the back-fill or the live feed has it
            push(srv.url, [({"app": "again"}, [(time.time_ns(), "after the restart")])])
            assert lines.next() == "after the restart\n"
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert "dropped; connecting again" in err
    finally:
        srv.stop()
