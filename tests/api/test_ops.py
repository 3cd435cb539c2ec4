"""The operator's endpoints (api/ops.py: /ready, /metrics, /config, build info), against a real `logyard serve`."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.support.server import ServerProcess

T0 = 1_767_225_600_000_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("endpoints") / "data") as srv:
        yield srv


def test_ready_says_ready(server):
    r = httpx.get(server.url + "/ready")
    assert (r.status_code, r.text.strip()) == (200, "ready")


def test_metrics_count_lines_bytes_and_requests(server):
    push = {"streams": [{"stream": {"job": "metrics"}, "values": [[str(T0 + 5), "12345"]]}]}
    assert httpx.post(server.url + "/loki/api/v1/push", json=push).status_code == 204
    text = httpx.get(server.url + "/metrics").text
    assert 'loki_distributor_lines_received_total{tenant="fake"}' in text
    assert 'loki_distributor_bytes_received_total{tenant="fake"}' in text
    assert 'loki_request_duration_seconds_count{method="POST",route="loki_api_v1_push",status_code="204"}' in text
    assert "logyard_storage_wal_bytes" in text and "logyard_storage_block_bytes" in text


def test_discarded_lines_are_counted_by_reason(server):
    push = {"streams": [{"stream": {"job": "big"}, "values": [[str(T0 + 6), "x" * 300_000]]}]}
    assert httpx.post(server.url + "/loki/api/v1/push", json=push).status_code == 400
    text = httpx.get(server.url + "/metrics").text
    assert 'loki_discarded_samples_total{reason="line_too_long",tenant="fake"} 1.0' in text


def test_config_is_the_effective_yaml(server):
    cfg = yaml.safe_load(httpx.get(server.url + "/config").text)
    assert cfg["limits"]["max_entries_limit_per_query"] == 5000
    assert cfg["server"]["http_listen_port"] == server.port


def test_buildinfo_has_lokis_shape(server):
    info = httpx.get(server.url + "/loki/api/v1/status/buildinfo").json()
    assert {"version", "revision", "branch", "goVersion"} <= set(info)
