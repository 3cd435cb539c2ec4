"""`POST /otlp/v1/logs` against a real `logyard serve`: a real OpenTelemetry SDK app (its protobuf and its
JSON exporter), hand-built OTLP/JSON for the spec cases the exporter does not send, gzip, Loki's answers
to bad bodies, `limits.otlp_config`, and tenants."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time

import httpx
import orjson
import pytest
from google.rpc import status_pb2  # googleapis-common-protos, which the OTLP exporter depends on

from tests.support.server import HISTORIC_DATA_CONFIG, REPO, ServerProcess

T0 = 1_767_225_600_000_000_000
FLAGS = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
JSON = {"Content-Type": "application/json"}
PROTO = {"Content-Type": "application/x-protobuf"}
MAPPED_CONFIG = HISTORIC_DATA_CONFIG + """\
  max_line_size: 1KB
  otlp_config:
    resource_attributes:
      attributes_config:
        - action: index_label
          attributes: [host.name]
        - action: drop
          regex: "process\\\\..*"
    scope_attributes:
      - action: drop
        attributes: [noise]
    log_attributes:
      - action: index_label
        attributes: [tier]
      - action: drop
        attributes: [password]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = "auth_enabled: true\n" + HISTORIC_DATA_CONFIG
    with ServerProcess(tmp_path_factory.mktemp("otlp") / "data", config_text=config) as srv:
        yield srv


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("otlp-mapped") / "data", config_text=MAPPED_CONFIG) as srv:
        yield srv


def kv(key: str, value) -> dict:
    if isinstance(value, dict):
        return {"key": key, "value": value}
    return {"key": key, "value": {"stringValue": value}}


def otlp_json(resource: list, records: list, scope: dict | None = None) -> bytes:
    scope_logs = {"scope": scope or {"name": "app.logger", "version": "2.1"}, "logRecords": records}
    return orjson.dumps({"resourceLogs": [{"resource": {"attributes": resource}, "scopeLogs": [scope_logs]}]})


def entries(srv, query: str, tenant: str | None = None, start: int = T0, end: int = T0 + 10**9) -> list:
    """(stream labels, line, structured metadata) of every entry a log query returns, oldest first."""
    headers = {**FLAGS, **({"X-Scope-OrgID": tenant} if tenant else {})}
    r = httpx.get(srv.url + "/loki/api/v1/query_range", headers=headers, params={
        "query": query, "start": str(start), "end": str(end), "direction": "forward"})
    assert r.status_code == 200, r.text
    out = [(s["stream"], v[1], v[2].get("structuredMetadata", {}), int(v[0]))
           for s in r.json()["data"]["result"] for v in s["values"]]
    return sorted(out, key=lambda e: e[3])


def status_message(r: httpx.Response) -> str:
    """The text of Loki's OTLP error answer, a protobuf google.rpc.Status."""
    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert status.code == 0
    return status.message


# --- a real SDK app ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["proto", "json"])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_sdk_app_logs_are_queryable_with_labels_and_metadata(server, encoding, compression):
    """The same app through the SDK's protobuf and its JSON OTLP/HTTP exporter (tests/api/otlp_app.py)."""
    tenant = f"sdk-{encoding}-{compression}"
    before = time.time_ns()
    run = subprocess.run([sys.executable, "-m", "tests.api.otlp_app", server.url, tenant, encoding, compression],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    trace_id, span_id, flags = run.stdout.split()
    got = entries(server, '{service_name="checkout"}', tenant, before - 10**9, time.time_ns() + 10**9)
    assert [(e[1], e[2]["detected_level"], e[2]["severity_text"]) for e in got] == [
        ("cart loaded", "info", "INFO"), ("slow payment provider", "warn", "WARN"),
        ("payment declined", "error", "ERROR")]
    assert all(before <= e[3] <= time.time_ns() for e in got)  # the records' own timestamps
    stream, _, meta, _ = got[-1]
    assert stream == {"service_name": "checkout", "service_namespace": "shop", "service_instance_id": "checkout-1",
                      "k8s_pod_name": "checkout-7d9f", "k8s_namespace_name": "prod",
                      "deployment_environment": "staging"}
    assert meta["trace_id"] == trace_id and meta["span_id"] == span_id
    assert meta["host_name"] == "node-1"  # not in the index-label list: structured metadata
    assert meta["shop_build"] == "1234"  # an int resource attribute (a string in OTLP/JSON) as its digits
    assert meta["telemetry_sdk_language"] == "python"  # the SDK's own resource attributes too
    assert meta["user_id"] == "42" and meta["retries"] == "3" and meta["scope_name"] == "shop.checkout"
    assert meta["severity_number"] == "17" and meta["flags"] == flags
    assert "observed_timestamp" in meta and int(meta["observed_timestamp"]) >= got[-1][3]


# --- OTLP/JSON the SDK's exporter does not send: enum names, proto field names, no timeUnixNano, no
# service.name; and the whole metadata set of a record, exactly ------------------------------------------


JSON_RECORD = {
    "timeUnixNano": str(T0 + 1), "observedTimeUnixNano": str(T0 + 5), "severityNumber": 13,
    "body": {"stringValue": "disk almost full"},
    "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "flags": 1,
    "attributes": [kv("disk.path", "/var"), kv("free", {"intValue": "42"})],
}


def test_json_payload_is_mapped_as_loki_maps_it(server):
    resource = [kv("service.name", "storage"), kv("k8s.namespace.name", "prod"), kv("os.type", "linux")]
    records = [JSON_RECORD, {"observedTimeUnixNano": str(T0 + 2), "severity_number": "SEVERITY_NUMBER_DEBUG",
                             "body": {"kvlistValue": {"values": [kv("b", {"doubleValue": 1.5}), kv("a", "x")]}}}]
    r = httpx.post(server.url + "/otlp/v1/logs", content=otlp_json(resource, records),
                   headers={**JSON, "X-Scope-OrgID": "json"})
    assert r.status_code == 204, r.text
    got = entries(server, '{service_name="storage"}', "json")
    assert [(e[0], e[1], e[3]) for e in got] == [
        ({"service_name": "storage", "k8s_namespace_name": "prod"}, "disk almost full", T0 + 1),
        ({"service_name": "storage", "k8s_namespace_name": "prod"}, '{"a":"x","b":1.5}', T0 + 2)]
    assert got[0][2] == {
        "detected_level": "warn", "severity_number": "13", "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174", "flags": "1", "observed_timestamp": str(T0 + 5), "disk_path": "/var",
        "free": "42", "os_type": "linux", "scope_name": "app.logger", "scope_version": "2.1"}
    assert got[1][2]["detected_level"] == "debug" and "observed_timestamp" not in got[1][2]


def test_gzipped_json_and_missing_service_name(server):
    body = gzip.compress(otlp_json([kv("k8s.pod.name", "p-1")], [
        {"timeUnixNano": str(T0 + 3), "body": {"stringValue": "level=error msg=oops"}}]))
    r = httpx.post(server.url + "/otlp/v1/logs", content=body,
                   headers={**JSON, "Content-Encoding": "gzip", "X-Scope-OrgID": "json-gz"})
    assert r.status_code == 204, r.text
    got = entries(server, '{k8s_pod_name="p-1"}', "json-gz")
    # No service.name and no discover_service_name label among the stream labels: Loki's unknown_service.
    assert got == [({"k8s_pod_name": "p-1", "service_name": "unknown_service"}, "level=error msg=oops",
                    {"detected_level": "error", "scope_name": "app.logger", "scope_version": "2.1"}, T0 + 3)]


# --- bad bodies ---------------------------------------------------------------------------------------

GOOD = otlp_json([kv("service.name", "bad")], [{"timeUnixNano": str(T0), "body": {"stringValue": "x"}}])
BAD_BODIES = [
    # (id, headers, body, status, Loki's text)
    ("text-plain", {"Content-Type": "text/plain"}, GOOD, 400, "content type: text/plain is not supported"),
    ("json-with-charset", {"Content-Type": "application/json; charset=utf-8"}, GOOD, 400,
     "content type: application/json; charset=utf-8 is not supported"),
    ("deflate", {**JSON, "Content-Encoding": "deflate"}, GOOD, 400,
     "unsupported content encoding deflate: only gzip, lz4 and zstd are supported"),
    ("gzip-not-gzip", {**JSON, "Content-Encoding": "gzip"}, GOOD, 400, "gzip: invalid header"),
    ("proto-truncated", PROTO, b"\x0a\x05\x0a", 400, "unexpected EOF"),
    ("proto-wrong-wire-type", PROTO, b"\x08\x01", 400, "proto: wrong wireType = 0 for field ResourceLogs"),
    ("proto-bad-trace-id", PROTO, b"\x0a\x0a\x12\x08\x12\x06\x4a\x04abcd", 400, "unmarshal: invalid TraceID length"),
    ("json-not-an-object", JSON, b"[]", 400,
     "ReadObject: expect { or , or } or n, but found [, error found in #1 byte of ...|[]|..., bigger context ...|[]|..."),
    ("no-records", PROTO, b"", 422, "error at least one valid stream is required for ingestion"),
]


@pytest.mark.parametrize("headers,body,status,text", [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
def test_bad_body_gets_lokis_status_and_text(server, headers, body, status, text):
    r = httpx.post(server.url + "/otlp/v1/logs", content=body, headers={**headers, "X-Scope-OrgID": "bad"})
    assert r.status_code == status
    assert status_message(r) == text


def test_bad_json_is_a_400(server):
    r = httpx.post(server.url + "/otlp/v1/logs", content=b'{"resourceLogs": [', headers={**JSON, "X-Scope-OrgID": "bad"})
    assert r.status_code == 400 and status_message(r)


def test_line_over_max_line_size_is_refused_and_the_rest_kept(mapped):
    records = [{"timeUnixNano": str(T0 + 10), "body": {"stringValue": "y" * 2000}},
               {"timeUnixNano": str(T0 + 11), "body": {"stringValue": "short"}}]
    r = httpx.post(mapped.url + "/otlp/v1/logs", content=otlp_json([kv("service.name", "long")], records),
                   headers=JSON)
    assert r.status_code == 400
    assert status_message(r) == ("max entry size '1024' bytes exceeded for stream '{service_name=\"long\"}' while "
                                 "adding an entry with length '2000' bytes")
    assert [e[1] for e in entries(mapped, '{service_name="long"}')] == ["short"]


# --- otlp_config --------------------------------------------------------------------------------------


def test_otlp_config_changes_the_mapping(mapped):
    resource = [kv("service.name", "api"), kv("host.name", "h-9"), kv("process.pid", {"intValue": "7"}),
                kv("os.type", "linux")]
    record = {"timeUnixNano": str(T0 + 20), "body": {"stringValue": "hello"},
              "attributes": [kv("tier", "gold"), kv("password", "hunter2"), kv("user", "ann")]}
    scope = {"name": "lib", "attributes": [kv("noise", "1"), kv("kept", "2")]}
    r = httpx.post(mapped.url + "/otlp/v1/logs", content=otlp_json(resource, [record], scope), headers=JSON)
    assert r.status_code == 204, r.text
    assert entries(mapped, '{service_name="api"}') == [(
        {"service_name": "api", "host_name": "h-9", "tier": "gold"}, "hello",
        {"detected_level": "unknown", "os_type": "linux", "user": "ann", "kept": "2", "scope_name": "lib"}, T0 + 20)]


def test_drilldown_limits_show_the_configured_otlp_mapping(server, mapped):
    default = httpx.get(server.url + "/loki/api/v1/drilldown-limits", headers={"X-Scope-OrgID": "t"}).json()
    rules = default["limits"]["otlp_config"]["resource_attributes"]["attributes_config"]
    assert len(rules) == 1 and rules[0]["action"] == "index_label" and "service.name" in rules[0]["attributes"]
    got = httpx.get(mapped.url + "/loki/api/v1/drilldown-limits").json()["limits"]["otlp_config"]
    assert got["resource_attributes"]["attributes_config"][1:] == [
        {"action": "index_label", "attributes": ["host.name"]}, {"action": "drop", "regex": "process\\..*"}]
    assert got["resource_attributes"]["attributes_config"][0] == rules[0]
    assert got["scope_attributes"] == [{"action": "drop", "attributes": ["noise"]}]
    assert got["log_attributes"] == [{"action": "index_label", "attributes": ["tier"]},
                                     {"action": "drop", "attributes": ["password"]}]


# --- tenants ------------------------------------------------------------------------------------------


def test_tenants_are_kept_apart_and_required(server):
    body = otlp_json([kv("service.name", "tenanted")], [{"timeUnixNano": str(T0 + 30), "body": {"stringValue": "a"}}])
    r = httpx.post(server.url + "/otlp/v1/logs", content=body, headers=JSON)
    assert (r.status_code, r.text.strip()) == (401, "no org id")  # before the handler, as Loki: plain text
    assert httpx.post(server.url + "/otlp/v1/logs", content=body,
                      headers={**JSON, "X-Scope-OrgID": "team-a"}).status_code == 204
    assert [e[1] for e in entries(server, '{service_name="tenanted"}', "team-a")] == ["a"]
    assert entries(server, '{service_name="tenanted"}', "team-b") == []
