"""Loki's per-tenant limits against a real server: each answers with Loki's status and text, counts
loki_discarded_* with Loki's reason and the tenant, and keeps the valid rest of a push."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess

T0 = 1767225600000000000  # 2026-01-01T00:00:00Z
CONFIG = """\
auth_enabled: true
limits:
  retention_period: 0s
  reject_old_samples: false
  max_label_names_per_series: 3
  max_label_name_length: 12
  max_label_value_length: 16
  max_line_size: 100
  max_structured_metadata_size: 40
  max_structured_metadata_entries_count: 2
  max_query_range: 1h
runtime_config:
  file: {runtime}
"""
RUNTIME = """\
overrides:
  streams2:
    max_global_streams_per_user: 2
  stream-rate:
    per_stream_rate_limit: 1KB
    per_stream_rate_limit_burst: 2KB
    max_line_size: 4KB
  tenant-rate:
    ingestion_rate_mb: 0.001
    ingestion_burst_size_mb: 0.002
    max_line_size: 4KB
  truncating:
    max_line_size_truncate: true
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    runtime = root / "runtime.yaml"
    runtime.write_text(RUNTIME)
    config = CONFIG.format(runtime=runtime)
    with ServerProcess(root / "data", config_text=config) as srv:
        yield srv


def push(srv, tenant: str, streams: list[dict]) -> httpx.Response:
    return httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps({"streams": streams}),
                      headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant})


def stream(labels: dict, *lines: str, start: int = 0, sm: dict | None = None) -> dict:
    values = [[str(T0 + start + i), line] + ([sm] if sm else []) for i, line in enumerate(lines)]
    return {"stream": labels, "values": values}


def discarded(srv, reason: str, tenant: str) -> tuple[float, float]:
    text = httpx.get(srv.url + "/metrics").text
    out = []
    for name in ("loki_discarded_samples_total", "loki_discarded_bytes_total"):
        m = re.search(rf'^{name}{{reason="{reason}",tenant="{tenant}"}} (\S+)$', text, re.M)
        out.append(float(m.group(1)) if m else 0.0)
    return out[0], out[1]


def stored_lines(srv, tenant: str, query: str) -> list[str]:
    r = httpx.get(srv.url + "/loki/api/v1/query_range", headers={"X-Scope-OrgID": tenant},
                  params={"query": query, "start": str(T0 - 10**9), "end": str(T0 + 10**12), "limit": 1000})
    assert r.status_code == 200, r.text
    return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])


@pytest.mark.parametrize("tenant, labels, reason, text", [
    ("names", {"a": "1", "b": "2", "c": "3", "d": "4"}, "max_label_names_per_series",
     "entry for stream '{a=\"1\", b=\"2\", c=\"3\", d=\"4\", service_name=\"unknown_service\"}' has 4 label "
     "names; limit 3"),
    ("namelen", {"a_very_long_name": "1"}, "label_name_too_long",
     "stream '{a_very_long_name=\"1\", service_name=\"unknown_service\"}' has label name too long: "
     "'a_very_long_name'"),
    ("valuelen", {"job": "a-value-of-20-bytes"}, "label_value_too_long",
     "stream '{job=\"a-value-of-20-bytes\", service_name=\"a-value-of-20-bytes\"}' has label value too long: "
     "'a-value-of-20-bytes'"),
])
def test_a_stream_over_a_label_limit_is_dropped_and_the_rest_kept(server, tenant, labels, reason, text):
    r = push(server, tenant, [stream(labels, "refused"), stream({"job": "ok"}, "kept")])
    assert (r.status_code, r.text) == (400, text)
    assert discarded(server, reason, tenant) == (1, len("refused"))
    assert stored_lines(server, tenant, '{job="ok"}') == ["kept"]


def test_a_line_over_max_line_size_is_dropped_with_lokis_text(server):
    long = "x" * 150
    r = push(server, "lines", [stream({"job": "l"}, long, "short")])
    assert (r.status_code, r.text) == (400, "max entry size '100' bytes exceeded for stream "
                                            "'{job=\"l\", service_name=\"l\"}' while adding an entry with length "
                                            "'150' bytes")
    assert discarded(server, "line_too_long", "lines") == (1, 150)
    assert stored_lines(server, "lines", '{job="l"}') == ["short"]


def test_with_truncation_a_long_line_is_cut_and_counted_as_mutated(server):
    r = push(server, "truncating", [stream({"job": "t"}, "y" * 150)])
    assert r.status_code == 204, r.text
    assert stored_lines(server, "truncating", '{job="t"}') == ["y" * 100]
    metrics = httpx.get(server.url + "/metrics").text
    assert 'loki_mutated_samples_total{reason="line_too_long",tenant="truncating"} 1.0' in metrics
    assert 'loki_mutated_bytes_total{reason="line_too_long",tenant="truncating"} 50.0' in metrics


@pytest.mark.parametrize("sm, reason, text", [
    ({"k1": "v" * 40}, "structured_metadata_too_large",
     "stream '{job=\"m\", service_name=\"m\"}' has structured metadata too large: '42' bytes, limit: '40' bytes. "
     "Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it"),
    ({"a": "1", "b": "2", "c": "3"}, "structured_metadata_too_many",
     "stream '{job=\"m\", service_name=\"m\"}' has too many structured metadata labels: '3', limit: '2'. Please "
     "see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it"),
])
def test_an_entry_over_a_structured_metadata_limit_is_dropped(server, sm, reason, text):
    tenant = reason.replace("_", "-")
    r = push(server, tenant, [stream({"job": "m"}, "refused", sm=sm), stream({"job": "m"}, "kept", start=5)])
    assert (r.status_code, r.text) == (400, text)
    assert discarded(server, reason, tenant)[0] == 1
    assert stored_lines(server, tenant, '{job="m"}') == ["kept"]


def test_new_streams_past_the_active_stream_limit_are_429s(server):
    r = push(server, "streams2", [stream({"s": "1"}, "one"), stream({"s": "2"}, "two"), stream({"s": "3"}, "three")])
    assert r.status_code == 429
    assert r.text == ("maximum active stream limit exceeded when trying to create stream {s=\"3\", "
                      "service_name=\"unknown_service\"}, reduce the number of active streams (reduce labels or "
                      "reduce label values), or contact your Loki administrator to see if the limit can be "
                      "increased, user: 'streams2'")
    assert discarded(server, "stream_limit", "streams2") == (1, len("three"))
    assert stored_lines(server, "streams2", '{s=~".+"}') == ["one", "two"]
    # the active streams still take entries
    assert push(server, "streams2", [stream({"s": "1"}, "again", start=10)]).status_code == 204


def test_a_stream_over_its_rate_keeps_what_fits_and_answers_lokis_429(server):
    lines = ["a" * 800, "b" * 800, "c" * 800]  # 2400 bytes, the burst is 2KB
    r = push(server, "stream-rate", [stream({"job": "fast"}, *lines), stream({"job": "other"}, "kept")])
    assert r.status_code == 429
    labels = '{job="fast", service_name="fast"}'
    assert r.text == (
        "entry with timestamp 2026-01-01 00:00:00.000000002 +0000 UTC ignored, reason: 'Per stream rate limit "
        f"exceeded (limit: 1KB/sec) while attempting to ingest for stream '{labels}' totaling 800B, consider "
        "splitting a stream via additional labels or contact your Loki administrator to see if the limit can be "
        f"increased',\nuser 'stream-rate', total ignored: 1 out of 3 for stream: {labels}")
    assert discarded(server, "per_stream_rate_limit", "stream-rate") == (1, 800)
    assert stored_lines(server, "stream-rate", '{job=~"fast|other"}') == ["a" * 800, "b" * 800, "kept"]


def test_a_push_over_the_tenant_rate_is_refused_whole(server):
    body = [stream({"job": "r"}, "z" * 1500), stream({"job": "r2"}, "w" * 1500)]  # 3000 bytes, burst 2097
    r = push(server, "tenant-rate", body)
    assert (r.status_code, r.text) == (
        429, "ingestion rate limit exceeded for user tenant-rate (limit: 1048 bytes/sec) while attempting to ingest "
             "'2' lines totaling '3000' bytes, reduce log volume or contact your Loki administrator to see if the "
             "limit can be increased")
    assert discarded(server, "rate_limited", "tenant-rate") == (2, 3000)
    assert stored_lines(server, "tenant-rate", '{job=~"r|r2"}') == []


def test_a_range_over_max_query_range_is_a_400(server):
    r = httpx.get(server.url + "/loki/api/v1/query", headers={"X-Scope-OrgID": "q"},
                  params={"query": 'count_over_time({job="x"}[2h])', "time": str(T0)})
    assert (r.status_code, r.text) == (400, "[interval] value exceeds limit: [2h] > [1h]")
    r = httpx.get(server.url + "/loki/api/v1/query", headers={"X-Scope-OrgID": "q"},
                  params={"query": 'count_over_time({job="x"}[1h])', "time": str(T0)})
    assert r.status_code == 200, r.text
