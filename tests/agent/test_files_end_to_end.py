"""Files written, rotated both ways and truncated under a running agent that is killed with -9 and
restarted twice: every line arrives exactly once, with its labels.

Run twice: against a real `logyard serve` (the lead's CLI; this variant fails while it is missing) and
against `tests.agent.receiver.Receiver`, a stand-in that also counts how often each entry was received,
which shows that the crashes really caused resends the server had to fold.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.agent.helpers import AgentProcess, LogyardServer, wait_until
from tests.agent.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = """
clients:
  - url: {url}
    batchwait: 50ms
    batchsize: 4096
    backoff_config: {{min_period: 50ms, max_period: 500ms, max_retries: 0}}
positions:
  filename: {dir}/state/positions.yaml
  sync_period: 1h   # never saved while running: every kill -9 replays already acknowledged entries
scrape_configs:
  - job_name: app
    static_configs:
      - targets: [localhost]
        labels: {{job: app, env: test, __path__: "{dir}/logs/*.log"}}
"""


class Writer:
    """Appends numbered lines (and some exact repeats) to one path, remembering what it wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[str] = []
        self.f = open(path, "a")

    def write(self, n: int, tag: str) -> None:
        for i in range(n):
            # every 10th line repeats the one before: real repeats must survive deduplication
            line = self.written[-1] if i % 10 == 9 and self.written else f"{tag} {i} {'x' * (i % 50)}"
            self.f.write(line + "\n")
            self.written.append(line)
        self.f.flush()

    def reopen(self) -> None:
        self.f.close()
        self.f = open(self.path, "a")


def run_scenario(tmp_path: Path, sink) -> None:
    (tmp_path / "logs").mkdir()
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(CONFIG.format(url=sink.url, dir=tmp_path))
    app = tmp_path / "logs" / "app.log"
    other = tmp_path / "logs" / "other.log"
    w, w2 = Writer(app), Writer(other)
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()

    def arrived(writer: Writer, name: Path) -> bool:
        return len(sink.lines(filename=str(name))) >= len(writer.written)

    w.write(500, "first")
    w2.write(50, "other")
    wait_until(lambda: arrived(w, app) and arrived(w2, other), what="first lines")

    # a partial last line is held back until its newline arrives
    w.f.write("held until complete")
    w.f.flush()
    w.write(1, "tail")  # completes it: the first written line of this call is "held until complete..."
    w.written[-1] = "held until complete" + w.written[-1]

    # rotation by rename while the writer still holds the old file for a moment
    os.rename(app, tmp_path / "logs" / "app.log.1")
    w.write(20, "late-in-renamed-file")
    w.reopen()
    w.write(300, "after-rename")
    wait_until(lambda: arrived(w, app), what="lines around the rename")

    # crash in the middle of a write burst, more lines while it is down, restart
    w.write(2000, "burst")
    agent.kill9()
    w.write(100, "while-down")
    w2.write(30, "other-down")
    agent.start()
    wait_until(lambda: arrived(w, app) and arrived(w2, other), what="lines after the first restart")

    # copytruncate: copy, truncate in place, keep writing to the same file
    shutil.copy(app, tmp_path / "logs" / "app.log.2")
    os.truncate(app, 0)
    w.reopen()
    w.write(200, "after-truncate")
    wait_until(lambda: arrived(w, app), what="lines after copytruncate")

    # a rename rotation while the agent is down, then a second kill -9
    agent.kill9()
    w.write(50, "before-rotation-while-down")
    os.rename(app, tmp_path / "logs" / "app.log.3")
    w.reopen()
    w.write(70, "new-file-while-down")
    agent.start()
    w.write(1000, "final")
    agent.kill9()
    agent.start()
    w.write(10, "last")
    wait_until(lambda: arrived(w, app) and arrived(w2, other), what="all lines after the second restart")
    assert agent.stop() == 0

    got = sink.lines(filename=str(app))
    assert Counter(got) == Counter(w.written)
    assert Counter(sink.lines(filename=str(other))) == Counter(w2.written)
    for stream in sink_stream_labels(sink):
        assert stream["job"] == "app" and stream["env"] == "test"
        assert stream["filename"] in (str(app), str(other))
        assert "__path__" not in stream


def sink_stream_labels(sink) -> list[dict]:
    if isinstance(sink, Receiver):
        import re

        return [dict(re.findall(r'(\w+)="([^"]*)"', s)) for s in sink.streams()]
    return [labels for labels, _ in sink.streams(job="app")]


def test_files_rotated_truncated_and_agent_killed_twice_arrive_once_at_logyard_serve(tmp_path):
    server = LogyardServer(tmp_path / "data", tmp_path / "server.log")
    try:
        run_scenario(tmp_path, server)
    finally:
        server.stop()


def test_files_rotated_truncated_and_agent_killed_twice_arrive_once_at_a_stand_in_receiver(tmp_path):
    sink = Receiver()
    try:
        run_scenario(tmp_path, sink)
        resent = sum(1 for n in sink.entries.values() if n > 1)
        assert resent > 0, "the kills should have caused resends of acknowledged entries"
    finally:
        sink.stop()
