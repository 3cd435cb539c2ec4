"""The server's own endpoints and a protobuf push end to end, against a real `logyard serve`."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.ingest.test_proto import encode, pb  # noqa: F401  (pb: the independent encoder fixture)
from tests.support.server import ServerProcess

T0 = 1_767_225_600_000_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("endpoints") / "data") as srv:
        yield srv


def test_ready_says_ready(server):
    r = httpx.get(server.url + "/ready")
    assert (r.status_code, r.text.strip()) == (200, "ready")


def test_protobuf_snappy_push_is_queryable(server, pb):  # noqa: F811
    body = encode(pb, [('{job="proto", env="dev"}', [(T0 + 1, "first via protobuf", {}),
                                                     (T0 + 2, "second", {"trace_id": "t1"})])])  # snappy'd
    r = httpx.post(server.url + "/loki/api/v1/push", content=body,
                   headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 204, r.text
    q = httpx.get(server.url + "/loki/api/v1/query_range", params={
        "query": '{job="proto"}', "start": str(T0), "end": str(T0 + 10), "direction": "forward"}).json()
    got = {(s["stream"].get("trace_id", ""), v[1]) for s in q["data"]["result"] for v in s["values"]}
    assert got == {("", "first via protobuf"), ("t1", "second")}
    labels = q["data"]["result"][0]["stream"]
    assert labels["service_name"] == "proto" and labels["env"] == "dev" and "detected_level" in labels


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
