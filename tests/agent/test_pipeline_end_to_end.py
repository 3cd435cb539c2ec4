"""Stages inside the running agent: JSON lines become labels, structured metadata, their own
timestamp and a new line; a multiline block is one entry. An in-process agent, real files, the
stand-in receiver on 127.0.0.1."""

from __future__ import annotations

from logyard.agent.main import Agent
from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model
from logyard.gocompat.timelayout import parse_rfc3339
from tests.agent.helpers import wait_until
from tests.agent.receiver import Receiver


def test_stages_shape_what_the_server_receives(tmp_path):
    sink = Receiver()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text(
        '{"ts":"2026-01-02T03:04:05.5Z","level":"error","msg":"boom","trace":"t1"}\n'
        '{"ts":"2026-01-02T03:04:06Z","level":"debug","msg":"noise","trace":"t2"}\n'
    )
    (tmp_path / "logs" / "trace.log").write_text("2026 Exception\n  at a\n  at b\n2026 next\n")
    cfg = parse_model(
        f"""
clients: [{{url: "{sink.url}", batchwait: 10ms}}]
positions: {{filename: "{tmp_path}/positions.yaml"}}
scrape_configs:
  - job_name: api
    static_configs: [{{labels: {{job: api, __path__: "{tmp_path}/logs/api.log"}}}}]
    pipeline_stages:
      - json: {{expressions: {{ts: "", level: "", msg: "", trace: ""}}}}
      - drop: {{source: level, value: debug}}
      - labels: {{level: ""}}
      - structured_metadata: {{trace_id: trace}}
      - timestamp: {{source: ts, format: RFC3339Nano}}
      - output: {{source: msg}}
  - job_name: traces
    static_configs: [{{labels: {{job: traces, __path__: "{tmp_path}/logs/trace.log"}}}}]
    pipeline_stages:
      - multiline: {{firstline: "^2026", max_wait_time: 200ms}}
""",
        AgentConfig,
    )
    agent = Agent(cfg)
    agent.start()
    try:
        wait_until(lambda: len(sink.lines(job="api")) == 1 and len(sink.lines(job="traces")) == 2)
        ((labels, ts, line),) = [k for k in sink.order if 'job="api"' in k[0]]
        assert labels == f'{{filename="{tmp_path}/logs/api.log", job="api", level="error"}}'
        assert (ts, line) == (parse_rfc3339("2026-01-02T03:04:05.5Z"), "boom")
        assert sink.metadata[(labels, ts, line)] == [("trace_id", "t1")]
        assert sink.lines(job="traces") == ["2026 Exception\n  at a\n  at b", "2026 next"]
    finally:
        agent.stop()
        sink.stop()
