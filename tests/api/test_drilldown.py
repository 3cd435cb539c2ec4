"""The Logs Drilldown endpoints end to end: a real `logyard serve` loaded with the Loki conformance
corpus (2026-01-01 00:00-02:00), asked as Grafana's Logs Drilldown app asks."""

from __future__ import annotations

import httpx
import pytest


START, END = "1767225600000000000", "1767232800000000000"
START_S, END_S = 1767225600, 1767232800


@pytest.fixture(scope="module")
def client(corpus_server):
    with httpx.Client(base_url=corpus_server.url, timeout=120) as c:
        yield c


def get(client, path, **params):
    return client.get(path, params={"start": START, "end": END, **params})


def fields_of(client, query, **params) -> dict[str, dict]:
    r = get(client, "/loki/api/v1/detected_fields", query=query, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limit"] == int(params.get("limit", 1000))
    return {f["label"]: f for f in body["fields"]}


def test_detected_fields_of_the_json_service_have_their_types_and_json_paths(client):
    fields = fields_of(client, '{compose_service="open-webui", stream="stdout"}', line_limit="1000")
    types = {name: f["type"] for name, f in fields.items()}
    assert types["status"] == "int"
    assert types["latency_ms"] == "float"
    assert types["tokens_prompt"] == "int"
    assert types["level"] == "string"
    assert fields["tokens_prompt"]["parsers"] == ["json"]
    assert fields["tokens_prompt"]["jsonPath"] == ["tokens", "prompt"]
    assert fields["request_client_ip"]["jsonPath"] == ["request", "client", "ip"]
    # Structured metadata has no parser: Loki says `null`, which Drilldown reads as metadata.
    assert fields["trace_id"]["parsers"] is None and "jsonPath" not in fields["trace_id"]
    assert fields["detected_level"]["parsers"] is None
    assert fields["level"]["cardinality"] == 4


@pytest.mark.parametrize(("query", "expected"), [
    ('{compose_service="grafana", stream="stdout"}',
     {"duration": "duration", "time_ms": "int", "orgId": "int", "logger": "string", "method": "string"}),
    ('{compose_service="loki", stream="stdout"}', {"immediate": "boolean", "num_chunks": "int"}),
    ('{compose_service="prometheus", stream="stdout"}', {"duration": "duration", "mint": "int"}),
    ('{compose_service="ollama", container="aixcl-ollama-1", stream="stdout"} |= "pulling manifest"',
     {"total": "bytes", "model": "string"}),
])
def test_detected_fields_of_logfmt_services_have_loki_types(client, query, expected):
    fields = fields_of(client, query, line_limit="1000")
    assert {name: fields[name]["type"] for name in expected} == expected
    assert all(fields[name]["parsers"] == ["logfmt"] for name in expected)


def test_detected_fields_keep_the_first_fields_up_to_the_limit(client):
    fields = fields_of(client, '{compose_service="grafana", stream="stdout"}', limit="3")
    assert len(fields) == 3


def test_detected_fields_of_a_query_with_a_label_filter_see_only_its_lines(client):
    fields = fields_of(client, '{compose_service="open-webui", stream="stdout"} | json | status >= 500',
                       line_limit="1000")
    r = get(client, "/loki/api/v1/detected_field/status/values",
            query='{compose_service="open-webui", stream="stdout"} | json | status >= 500', line_limit="1000")
    assert fields["status"]["type"] == "int"
    assert r.json()["values"] == ["500"]


def test_detected_field_values_are_the_values_seen(client):
    r = get(client, "/loki/api/v1/detected_field/request_method/values",
            query='{compose_service="open-webui", stream="stdout"}', line_limit="1000")
    assert r.status_code == 200, r.text
    assert r.json() == {"values": ["GET", "POST"], "limit": 1000}


def test_detected_field_values_of_an_unknown_field_are_an_empty_object(client):
    r = get(client, "/loki/api/v1/detected_field/no_such_field/values", query='{compose_service="nginx"}')
    assert r.status_code == 200 and r.json() == {}


def test_detected_labels_leave_out_labels_whose_values_are_all_ids(client):
    r = get(client, "/loki/api/v1/detected_labels", query='{job="varlogs"}')
    assert r.status_code == 200, r.text
    labels = {d["label"]: d["cardinality"] for d in r.json()["detectedLabels"]}
    assert labels == {"filename": 3, "host": 1, "job": 1, "service_name": 1}


def test_detected_labels_without_a_query_cover_every_stream(client):
    r = get(client, "/loki/api/v1/detected_labels")
    labels = {d["label"]: d["cardinality"] for d in r.json()["detectedLabels"]}
    assert labels["compose_service"] == 12 and labels["stream"] == 2


def count_lines(client, selector) -> int:
    r = client.get("/loki/api/v1/query", params={"query": f"sum(count_over_time({selector}[2h]))", "time": END})
    return int(r.json()["data"]["result"][0]["value"][1])


def test_nginx_access_lines_collapse_into_a_handful_of_patterns_counting_every_line(client):
    selector = '{compose_service="nginx", stream="stdout"}'
    r = get(client, "/loki/api/v1/patterns", query=selector, step="300")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    data = body["data"]
    assert 1 <= len(data) <= 5
    assert all(p["pattern"].startswith("<_> - <_> [<_> +0000]") and "<_>" in p["pattern"] for p in data)
    assert sum(c for p in data for _, c in p["samples"]) == count_lines(client, selector)


def test_pattern_samples_are_counts_per_step_in_seconds(client):
    r = get(client, "/loki/api/v1/patterns", query='{compose_service="postgres"}', step="10m")
    data = r.json()["data"]
    assert data
    for p in data:
        assert set(p) == {"pattern", "level", "samples"}
        stamps = [t for t, _ in p["samples"]]
        assert stamps == sorted(stamps)
        assert all(t % 600 == 0 and START_S <= t < END_S and c > 0 for t, c in p["samples"])
    totals = [sum(c for _, c in p["samples"]) for p in data]
    assert totals == sorted(totals, reverse=True) and min(totals) >= 30


def test_patterns_are_split_by_detected_level(client):
    r = get(client, "/loki/api/v1/patterns", query='{compose_service="grafana"}')
    levels = {p["level"] for p in r.json()["data"]}
    assert {"info", "error"} <= levels


def test_patterns_of_no_stream_are_an_empty_list(client):
    r = get(client, "/loki/api/v1/patterns", query='{compose_service="nope"}')
    assert r.json() == {"status": "success", "data": []}


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/loki/api/v1/detected_fields", {"query": '{job="varlogs"}', "line_limit": "0"},
     "limit must be a positive value"),
    ("/loki/api/v1/detected_fields", {"query": '{job="varlogs"}', "line_limit": "x"},
     'strconv.Atoi: parsing "x": invalid syntax'),
    ("/loki/api/v1/detected_fields", {"query": '{job="varlogs"}', "line_limit": "5001"},
     "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)"),
    ("/loki/api/v1/detected_fields", {"query": '{job="varlogs"}', "field_limit": "-1"},
     "limit must be a positive value"),
    ("/loki/api/v1/detected_fields", {"query": 'count_over_time({job="varlogs"}[1m])'},
     "only log selector is supported"),
    ("/loki/api/v1/detected_field/x/values", {"query": '{job="varlogs"}', "step": "0"},
     "zero or negative query resolution step widths are not accepted. Try a positive integer"),
    ("/loki/api/v1/detected_labels", {"start": END, "end": START}, "end timestamp must not be before or equal"),
    ("/loki/api/v1/patterns", {"query": '{job="varlogs"}', "step": "-1"}, "zero or negative query resolution"),
])
def test_drilldown_parameters_are_refused_in_lokis_words(client, path, params, message):
    r = get(client, path, **params)
    assert r.status_code == 400
    assert r.text.startswith(message)


def test_drilldown_limits_say_patterns_are_available(client):
    r = client.get("/loki/api/v1/drilldown-limits")
    assert r.status_code == 200
    body = r.json()
    assert body["pattern_ingester_enabled"] is True
    assert body["limits"]["max_entries_limit_per_query"] == 5000
    assert body["limits"]["retention_period"] == "0s"
    assert body["version"]


@pytest.mark.parametrize(("method", "query", "status", "expected"), [
    ("GET", '{foo=   "bar"}', 200, {"status": "success", "data": '{foo="bar"}'}),
    # logyard's canonical LogQL: Loki prints `{a="b"}[5m]`, without the space.
    ("POST", 'sum(rate({a="b"}[5m]))', 200, {"status": "success", "data": 'sum(rate({a="b"} [5m]))'}),
    ("GET", '{foo="bar"} |=', 400, {"status": "invalid-query",
                                   "error": "parse error at line 1, col 15: syntax error: unexpected $end, "
                                            "expecting STRING or ip"}),
])
def test_format_query_prints_the_query_or_its_parse_error(client, method, query, status, expected):
    if method == "GET":
        r = client.get("/loki/api/v1/format_query", params={"query": query})
    else:
        r = client.post("/loki/api/v1/format_query", data={"query": query})
    assert r.status_code == status
    assert r.json() == expected
