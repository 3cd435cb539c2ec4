"""Container lines through relabel rules and stages inside a running agent, against a real Docker
Engine: a rule drops stderr only, a json stage turns a field into a label, Docker's time is kept."""

from __future__ import annotations

import pytest

from logyard.agent.main import Agent
from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model
from logyard.gocompat.timelayout import parse_rfc3339
from tests.agent.helpers import wait_until
from tests.agent.receiver import Receiver

pytestmark = pytest.mark.docker


def test_relabel_and_stages_apply_to_container_lines(tmp_path, docker_engine, docker_client):
    sink = Receiver()
    cfg = parse_model(
        f"""
clients: [{{url: "{sink.url}", batchwait: 10ms}}]
positions: {{filename: "{tmp_path}/positions.yaml"}}
scrape_configs:
  - job_name: c
    docker_sd_configs:
      - host: {docker_engine["host"]}
        refresh_interval: 200ms
        filters: [{{name: label, values: [com.docker.compose.project=stages]}}]
    relabel_configs:
      - source_labels: [__meta_docker_container_log_stream]
        regex: stderr
        action: drop
      - source_labels: [__meta_docker_container_label_com_docker_compose_service]
        target_label: service
    pipeline_stages:
      - json: {{expressions: {{level: "", msg: ""}}}}
      - labels: {{level: ""}}
      - output: {{source: msg}}
""",
        AgentConfig,
    )
    agent = Agent(cfg)
    agent.start()
    try:
        c = docker_client.containers.run(
            docker_engine["image"],
            ["sh", "-c", 'echo \'{"level":"warn","msg":"disk low"}\'; echo hidden >&2; echo plain; sleep 1000'],
            name="stages-api-1", detach=True, network_mode="none",
            labels={"com.docker.compose.project": "stages", "com.docker.compose.service": "api"},
        )
        wait_until(lambda: len(sink.lines(container="stages-api-1")) == 2, 60, "container lines")
        with sink.lock:
            got = sorted((labels, line) for labels, _, line in sink.order)
        base = 'compose_project="stages", compose_service="api", container="stages-api-1"'
        assert got == [
            (f'{{{base}, level="warn", service="api", stream="stdout"}}', "disk low"),
            (f'{{{base}, service="api", stream="stdout"}}', "plain"),
        ]
        truth = c.logs(stdout=True, stderr=False, timestamps=True).decode().splitlines()
        with sink.lock:
            assert sorted(ts for _, ts, _ in sink.order) == sorted(parse_rfc3339(t.split(" ")[0]) for t in truth)
        assert agent.shipper.resume(f"docker/{c.id}") is not None
        c.remove(force=True)  # a removed container's position is forgotten
        wait_until(lambda: agent.shipper.resume(f"docker/{c.id}") is None, 30, "position forgotten")
    finally:
        agent.stop()
        sink.stop()
