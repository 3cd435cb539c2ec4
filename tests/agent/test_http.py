"""The agent's endpoints: /ready, /metrics under Promtail's names, /targets as JSON and HTML
with labels, state and last error. An in-process agent on 127.0.0.1 with real files."""

from __future__ import annotations

import httpx

from logyard.agent.main import Agent
from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model
from tests.agent.helpers import free_port, wait_until
from tests.agent.receiver import Receiver


def test_ready_metrics_and_targets(tmp_path):
    sink = Receiver()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("hello\nworld\n")
    cfg = parse_model(
        f"""
clients: [{{url: "{sink.url}", batchwait: 10ms}}]
positions: {{filename: "{tmp_path}/positions.yaml"}}
scrape_configs:
  - job_name: files
    static_configs: [{{labels: {{job: web, __path__: "{tmp_path}/logs/*.log"}}}}]
  - job_name: containers
    docker_sd_configs: [{{host: "unix://{tmp_path}/no-such.sock", refresh_interval: 100ms}}]
""",
        AgentConfig,
    )
    agent = Agent(cfg)
    port = free_port()
    agent.start(f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{base}/ready").status_code == 200
        wait_until(lambda: sink.lines(job="web") == ["hello", "world"])

        def targets():
            return {t["key"]: t for t in httpx.get(f"{base}/targets?format=json").json()["targets"]}

        wait_until(lambda: any(t["state"] == "error" for t in targets().values()), what="discovery error")
        t = targets()
        f = t[str(tmp_path / "logs" / "a.log")]
        assert f["labels"] == {"job": "web", "filename": str(tmp_path / "logs" / "a.log")}
        assert f["state"] == "running" and f["type"] == "file"
        (sd,) = [v for v in t.values() if v["type"] == "docker_sd"]
        assert sd["state"] == "error" and sd["last_error"]
        page = httpx.get(f"{base}/targets").text
        assert "a.log" in page and "<table" in page
        metrics = httpx.get(f"{base}/metrics").text
        for name in ("promtail_sent_entries_total", "promtail_read_bytes_total", "promtail_targets_active_total",
                     "promtail_sent_bytes_total", "promtail_batch_retries_total", "promtail_file_bytes_total",
                     "promtail_dropped_entries_total"):
            assert name in metrics
        assert 'promtail_sent_entries_total{host="127.0.0.1"} 2.0' in metrics
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        agent.stop()
        sink.stop()
