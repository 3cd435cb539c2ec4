"""Pushes of every shape Loki clients send are stored, or refused: never acknowledged and dropped."""

from __future__ import annotations

import cramjam
import httpx
import orjson
import pytest

from logyard.ingest.proto import PushRequest
from tests.ingest.test_proto import encode, pb  # noqa: F401  (pb: the independent encoder fixture)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

T0 = 1767225600000000000  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("push-shapes") / "data") as srv:
        yield srv


def lines_of(server, selector: str) -> list[str]:
    r = httpx.get(server.url + "/loki/api/v1/query_range",
                  params={"query": selector, "start": str(T0 - 10**9), "end": str(T0 + 10 * 10**9),
                          "direction": "forward"})
    assert r.status_code == 200, r.text
    return [v[1] for s in r.json()["data"]["result"] for v in s["values"]]


@pytest.mark.parametrize("path", ["/api/prom/push", "/loki/api/v1/push"])
def test_legacy_json_push_is_stored_on_both_routes(server, path):
    # What python-logging-loki's default (v0) emitter sends.
    app = path.strip("/").replace("/", "-")
    body = {"streams": [{"labels": f'{{app="{app}", severity="info"}}',
                         "entries": [{"ts": "2026-01-01T00:00:01.5+00:00", "line": "legacy hello"}]}]}
    r = httpx.post(server.url + path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    assert lines_of(server, f'{{app="{app}"}}') == ["legacy hello"]


@pytest.mark.parametrize("body", [
    {"streams": [{"stream": {"job": "empty"}, "values": []}]},
    {"streams": [{"foo": [["1767225600000000000", "x"]]}]},
    {"streams": [{"labels": '{job="mixed"}', "values": [["1767225600000000000", "x"]]}]},
])
def test_a_push_that_would_keep_nothing_is_not_acknowledged(server, body):
    r = httpx.post(server.url + "/loki/api/v1/push", content=orjson.dumps(body),
                   headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.text.strip()
    assert httpx.get(server.url + "/ready").status_code == 200


def test_invalid_utf8_json_line_is_stored_with_replacement_characters(server):
    body = orjson.dumps({"streams": [{"stream": {"job": "utf8"},
                                      "values": [[str(T0 + 1), "ok"], [str(T0 + 2), "bad XX byte"]]}]})
    body = body.replace(b"XX", b"\xff")
    r = httpx.post(server.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    assert lines_of(server, '{job="utf8"}') == ["ok", "bad \ufffd byte"]


def test_protobuf_timestamp_far_out_of_range_is_refused_naming_it(server):
    req = PushRequest()
    s = req.streams.add(labels='{job="stamp"}')
    ok = s.entries.add(line="in range")
    ok.timestamp.seconds = T0 // 10**9
    bad = s.entries.add(line="2^62 seconds")
    bad.timestamp.seconds = 2**62
    body = bytes(cramjam.snappy.compress_raw(req.SerializeToString()))
    r = httpx.post(server.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    assert r.text.startswith("timestamp: &types.Timestamp{Seconds: 4611686018427387904,")
    assert lines_of(server, '{job="stamp"}') == []


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
