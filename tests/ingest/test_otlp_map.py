"""OTLP records → streams, labels and structured metadata as Loki maps them (otlp_map.py)."""

from __future__ import annotations

import math

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from logyard.config.otlp import OtlpConfig
from logyard.errors import BadRequestError
from logyard.ingest.decode import DEFAULT_LIST
from logyard.ingest.otlp_map import AttributeRule, OtlpRules, as_string, to_raw_streams

NOW = 1_767_225_600_000_000_000
DEFAULT = OtlpConfig().rules()


def value(v) -> AnyValue:
    if isinstance(v, AnyValue):
        return v
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    if isinstance(v, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=value(x)) for k, x in v.items()]))
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
    return AnyValue(string_value=v)


@pytest.mark.parametrize("given,text", [
    ("plain text", "plain text"), (True, "true"), (-7, "-7"), (1.5, "1.5"), (100.0, "100"), (1e21, "1e+21"),
    (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.000001, "0.000001"), (-2.5e-8, "-2.5e-8"),
    (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (b"\x00\xff", "AP8="),
    (AnyValue(), ""),
    ({"b": 1, "a": [1.5, "x<y&z", None], "c": {"d": b"hi"}}, '{"a":[1.5,"x<y&z",null],"b":1,"c":{"d":"aGk="}}'),
    (["line\nbreak", "tab\t", "\x01", "\u2028"], '["line\\nbreak","tab\\t","\\u0001","\\u2028"]'),
    ({"bad": math.nan}, ""),  # Go's JSON encoder refuses NaN: pdata prints nothing
], ids=repr)
def test_body_and_attribute_values_print_as_the_collector_prints_them(given, text):
    assert as_string(value(given)) == text


def test_a_rule_applies_to_the_names_it_lists_or_the_whole_names_its_regex_matches():
    rules = OtlpRules(log=(AttributeRule("drop", regex="k8s"), AttributeRule("index_label", frozenset({"tier"})),
                           AttributeRule("drop", regex="secret\\..*")))
    assert rules.action(rules.log, "k8s") == "drop"
    assert rules.action(rules.log, "k8s.pod.name") == "structured_metadata"  # anchored: no partial match
    assert rules.action(rules.log, "tier") == "index_label"
    assert rules.action(rules.log, "secret.token") == "drop"


def request(resource: dict, records: list[dict], scope_name: str = "", scope_attrs: dict | None = None):
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(KeyValue(key=k, value=value(v)) for k, v in resource.items())
    sl = rl.scope_logs.add()
    sl.scope.name = scope_name
    sl.scope.attributes.extend(KeyValue(key=k, value=value(v)) for k, v in (scope_attrs or {}).items())
    for rec in records:
        lr = sl.log_records.add()
        for k, v in rec.items():
            if k == "attributes":
                lr.attributes.extend(KeyValue(key=a, value=value(x)) for a, x in v.items())
            elif k == "body":
                lr.body.CopyFrom(value(v))
            else:
                setattr(lr, k, v)
    return req


def streams(req, rules=DEFAULT, discover=DEFAULT_LIST):
    return [(dict(s.pairs), list(s.lines), s.ts.tolist(), [s.sm.get(i, {}) for i in range(len(s.lines))])
            for s in to_raw_streams(req, rules, discover, NOW)]


def test_default_list_attributes_are_labels_the_rest_metadata_with_dots_as_underscores():
    req = request({"service.name": "web", "k8s.namespace.name": "prod", "host.name": "h1", "http": {"port": 80}},
                  [{"body": "hi", "time_unix_nano": NOW + 1, "attributes": {"user.id": "7"}}], scope_name="lib")
    assert streams(req) == [({"service_name": "web", "k8s_namespace_name": "prod"}, ["hi"], [NOW + 1],
                             [{"host_name": "h1", "http_port": "80", "scope_name": "lib", "user_id": "7"}])]


@pytest.mark.parametrize("resource,discover,service", [
    ({"k8s.container.name": "db"}, DEFAULT_LIST, "db"),  # k8s_container_name is in Loki's discovery list
    ({"host.name": "h1"}, DEFAULT_LIST, "unknown_service"),  # metadata is not looked at
    ({"k8s.pod.name": "p"}, [], None),  # discovery off: no service_name at all
])
def test_service_name_without_service_name_attribute(resource, discover, service):
    labels = streams(request(resource, [{"body": "x"}]), discover=discover)[0][0]
    assert labels.get("service_name") == service


def test_service_name_attribute_mapped_elsewhere_leaves_no_service_name_label():
    rules = OtlpConfig.model_validate({"resource_attributes": {"ignore_defaults": True, "attributes_config": [
        {"action": "index_label", "attributes": ["k8s.pod.name"]}]}}).rules()
    labels, _, _, meta = streams(request({"service.name": "web", "k8s.pod.name": "p"}, [{"body": "x"}]), rules)[0]
    assert labels == {"k8s_pod_name": "p"} and meta == [{"service_name": "web"}]


def test_timestamp_falls_back_to_observed_then_now_and_observed_is_kept_when_both_are_set():
    req = request({"service.name": "s"}, [
        {"body": "a", "time_unix_nano": NOW + 1, "observed_time_unix_nano": NOW + 9},
        {"body": "b", "observed_time_unix_nano": NOW + 2}, {"body": "c"}])
    _, _, ts, meta = streams(req)[0]
    assert ts == [NOW + 1, NOW + 2, NOW]
    assert meta == [{"observed_timestamp": str(NOW + 9)}, {}, {}]


def test_record_fields_become_metadata_and_ids_are_hex():
    req = request({"service.name": "s"}, [{
        "body": "x", "severity_number": 17, "severity_text": "ERROR", "trace_id": bytes(range(16)),
        "span_id": bytes(range(8)), "flags": 1, "dropped_attributes_count": 2, "event_name": "login",
        "attributes": {"event_name": "shadowed", "k": "v"}}])
    assert streams(req)[0][3] == [{
        "k": "v", "severity_number": "17", "severity_text": "ERROR", "trace_id": "000102030405060708090a0b0c0d0e0f",
        "span_id": "0001020304050607", "flags": "1", "dropped_attributes_count": "2", "event_name": "login"}]


def test_all_zero_ids_are_left_out_and_wrong_lengths_refused():
    assert streams(request({"service.name": "s"}, [{"body": "x", "trace_id": bytes(16)}]))[0][3] == [{}]
    with pytest.raises(BadRequestError, match="^unmarshal: invalid SpanID length$"):
        streams(request({"service.name": "s"}, [{"body": "x", "span_id": b"abc"}]))


def test_indexed_log_attributes_and_severity_text_split_records_into_streams():
    rules = OtlpConfig.model_validate({"log_attributes": [{"action": "index_label", "attributes": ["tier"]}],
                                       "severity_text_as_label": True}).rules()
    req = request({"service.name": "s"}, [
        {"body": "a", "attributes": {"tier": "gold"}}, {"body": "b"}, {"body": "c", "severity_text": "WARN"}])
    assert [(labels, lines) for labels, lines, _, _ in streams(req, rules)] == [
        ({"service_name": "s", "tier": "gold"}, ["a"]), ({"service_name": "s"}, ["b"]),
        ({"service_name": "s", "severity_text": "WARN"}, ["c"])]


def test_scope_rules_and_drop():
    rules = OtlpConfig.model_validate({"scope_attributes": [{"action": "drop", "regex": "n.*"}],
                                       "resource_attributes": {"attributes_config": [
                                           {"action": "drop", "attributes": ["host.name"]}]}}).rules()
    req = request({"service.name": "s", "host.name": "h"}, [{"body": "x"}], "lib", {"noise": "1", "kept": "2"})
    assert streams(req, rules)[0][3] == [{"kept": "2", "scope_name": "lib"}]


def test_an_attribute_name_that_cannot_be_a_label_is_refused_with_lokis_wording():
    with pytest.raises(BadRequestError, match='^symbolizer lookup: normalization for label name "__" '):
        streams(request({"service.name": "s", "__": "x"}, [{"body": "x"}]))
