"""The server down for a while, then back: nothing is lost, and the agent's memory stays bounded
because readers wait (back-pressure) instead of queueing lines. Against a real `logyard serve`
(stopped and started again on the same port and data directory) and against the stand-in receiver."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.agent.helpers import AgentProcess, LogyardServer, wait_until
from tests.agent.receiver import Receiver

pytestmark = pytest.mark.slow

LINES = 300_000
LINE = "outage {i:07d} " + "y" * 180  # ~200 bytes: 60 MB written while the server is down
RSS_BOUND_MIB = 110

CONFIG = """
clients:
  - url: {url}
    batchwait: 100ms
    backoff_config: {{min_period: 50ms, max_period: 200ms, max_retries: 0}}
positions:
  filename: {dir}/positions.yaml
  sync_period: 500ms
  max_unacked_bytes: 4MiB
scrape_configs:
  - job_name: app
    static_configs:
      - labels: {{job: app, __path__: "{dir}/logs/*.log"}}
"""


def metric(agent: AgentProcess, name: str) -> float:
    text = agent.get("/metrics").text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_logyard_serve_down_then_back_loses_nothing_with_bounded_agent_memory(tmp_path):
    server = LogyardServer(tmp_path / "data", tmp_path / "server.log")
    try:
        outage(tmp_path, server)
    finally:
        server.stop()


def test_stand_in_receiver_down_then_back_loses_nothing_with_bounded_agent_memory(tmp_path):
    sink = Receiver()
    try:
        outage(tmp_path, sink)
    finally:
        sink.stop()


def outage(tmp_path, sink) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(CONFIG.format(url=sink.url, dir=tmp_path))
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()
    try:
        (tmp_path / "logs").mkdir()
        path = tmp_path / "logs" / "app.log"
        with open(path, "w") as f:
            f.write("before\n")
        wait_until(lambda: sink.lines(job="app") == ["before"], what="first line")
        sink.stop()
        with open(path, "a") as f:
            for start in range(0, LINES, 10_000):
                f.write("".join(LINE.format(i=i) + "\n" for i in range(start, start + 10_000)))
        wait_until(lambda: metric(agent, "logyard_agent_backpressure_waits_total") > 0, 60, "back-pressure")
        assert metric(agent, "promtail_batch_retries_total") > 0
        assert metric(agent, "logyard_agent_unacked_bytes") <= 4 * 1024 * 1024 + 2 * 1024 * 1024
        sink.start()  # the same port: the server is back
        wait_until(lambda: metric(agent, "promtail_sent_entries_total") >= LINES + 1, 300, "every line sent")
        got = sink.lines(job="app")
        assert Counter(got) == Counter(["before"] + [LINE.format(i=i) for i in range(LINES)])
        assert agent.rss_kib() / 1024 < RSS_BOUND_MIB
        assert metric(agent, "promtail_dropped_entries_total") == 0
    finally:
        agent.stop()
