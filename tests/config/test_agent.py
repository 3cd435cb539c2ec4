"""A Promtail compose config loads as it is; mistakes are errors that name the line and the key."""

from __future__ import annotations

import pytest

from logyard.config.agent import AgentConfig
from logyard.config.loader import parse_model
from logyard.errors import ConfigError

PROMTAIL_COMPOSE = """
server:
  http_listen_port: 9080
  grpc_listen_port: 0
positions:
  filename: /tmp/positions.yaml
clients:
  - url: http://loki:3100/loki/api/v1/push
    tenant_id: tenant1
    batchwait: 1s
    batchsize: 1048576
    backoff_config: {min_period: 500ms, max_period: 5m, max_retries: 10}
    external_labels: {host: box1}
scrape_configs:
  - job_name: docker
    docker_sd_configs:
      - host: unix:///var/run/docker.sock
        refresh_interval: 5s
        filters:
          - name: label
            values: ["com.docker.compose.project=aixcl"]
    relabel_configs:
      - source_labels: ['__meta_docker_container_name']
        regex: '/(.*)'
        target_label: 'container'
      - source_labels: ['__meta_docker_container_log_stream']
        target_label: 'logstream'
      - source_labels: ['__meta_docker_container_label_com_docker_compose_service']
        target_label: 'service'
    pipeline_stages:
      - docker: {}
      - match:
          selector: '{service="web"}'
          stages:
            - regex: {expression: '(?P<method>GET|POST) (?P<path>\\S+)'}
            - labels: {method: ""}
  - job_name: system
    static_configs:
      - targets: [localhost]
        labels: {job: varlogs, __path__: /var/log/*.log}
"""


def test_a_promtail_compose_config_loads_unchanged():
    cfg = parse_model(PROMTAIL_COMPOSE, AgentConfig, "<t>")
    assert cfg.clients[0].backoff_config.max_period == 300
    assert cfg.clients[0].batchsize == 1048576
    assert cfg.scrape_configs[0].docker_sd_configs[0].filters[0].values == ["com.docker.compose.project=aixcl"]
    assert cfg.scrape_configs[1].static_configs[0].labels["__path__"] == "/var/log/*.log"


@pytest.mark.parametrize(
    "snippet, message",
    [
        ("clients: [{url: x, batchwait: soon}]", "clients.0.batchwait"),
        ("clients: [{url: x}]\nscrape_configs: [{job_name: a, pipeline_stages: [{jsn: {}}]}]", "unknown stage 'jsn'"),
        ("clients: [{url: x}]\nscrape_configs: [{job_name: a, pipeline_stages: [{regex: {expression: '('}}]}]",
         "invalid regular expression"),
        ("clients: [{url: x}]\nscrape_configs: [{job_name: a, relabel_configs: [{action: replace}]}]",
         "needs target_label"),
        ("clients: []", "clients"),
        ("clients: [{url: x}]\nscrape_configs: [{job_name: a, static_configs: [{labels: {app-name: x}}]}]",
         "invalid label name"),
        ("clients: [{url: x, external_labels: {1host: x}}]", "clients.0.external_labels"),
        ("server: {log_level: verbose}\nclients: [{url: x}]", "server.log_level"),
        ("clients: [{url: x}]\npositions: {filenme: x}", r"<t>:2: positions.filenme: unknown key"),
    ],
)
def test_config_mistakes_name_the_key(snippet, message):
    with pytest.raises(ConfigError, match=message):
        parse_model(snippet, AgentConfig, "<t>")


@pytest.mark.parametrize("text, seconds", [("500ms", 0.5), ("1m30s", 90), ("2h", 7200), ("1.5s", 1.5), ("1d", 86400)])
def test_durations_take_go_syntax(text, seconds):
    cfg = parse_model(f"clients: [{{url: x, batchwait: {text}}}]", AgentConfig)
    assert cfg.clients[0].batchwait == seconds
