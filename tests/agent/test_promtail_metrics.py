"""The agent's /metrics carries Promtail's names and labels, and they follow what the agent does:
lines read from a file, entries and bytes sent, requests timed, files and targets active."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from logyard.agent.main import Agent
from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model
from tests.agent.helpers import free_port, wait_until
from tests.agent.receiver import Receiver


def samples(base: str) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"{base}/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_promtail_metrics_move_with_the_lines_read_and_sent(tmp_path):
    sink = Receiver()
    log = tmp_path / "logs" / "a.log"
    log.parent.mkdir()
    log.write_text("hello\nworld\n")
    cfg = parse_model(f"""
clients: [{{url: "{sink.url}", batchwait: 10ms}}]
positions: {{filename: "{tmp_path}/positions.yaml"}}
scrape_configs:
  - job_name: files
    static_configs: [{{labels: {{job: web, __path__: "{tmp_path}/logs/*.log"}}}}]
""", AgentConfig)
    agent = Agent(cfg)
    port = free_port()
    agent.start(f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    host = frozenset({("host", "127.0.0.1")})
    path = frozenset({("path", str(log))})
    try:
        wait_until(lambda: samples(base).get(("promtail_sent_entries_total", host)) == 2, what="two entries sent")
        m = samples(base)
        assert m[("promtail_sent_bytes_total", host)] == len("hello") + len("world")
        assert m[("promtail_read_bytes_total", path)] == 12
        assert m[("promtail_read_lines_total", path)] == 2
        assert m[("promtail_file_bytes_total", path)] == 12
        assert m[("promtail_files_active_total", frozenset())] == 1
        assert m[("promtail_targets_active_total", frozenset())] == 1
        ok = frozenset({("host", "127.0.0.1"), ("status_code", "204")})
        assert m[("promtail_request_duration_seconds_count", ok)] >= 1

        with log.open("a") as f:
            f.write("third\n")
        wait_until(lambda: samples(base).get(("promtail_sent_entries_total", host)) == 3, what="a third entry sent")
        m = samples(base)
        assert m[("promtail_read_bytes_total", path)] == 18
        assert m[("promtail_file_bytes_total", path)] == 18
        assert m[("promtail_sent_bytes_total", host)] == 15
        assert not any(name == "promtail_dropped_entries_total" and v for (name, _), v in m.items())
    finally:
        agent.stop()
        sink.stop()
