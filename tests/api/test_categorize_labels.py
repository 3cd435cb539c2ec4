"""`X-Loki-Response-Encoding-Flags: categorize-labels` (sent by Grafana 11-12 on every data query),
against a real `logyard serve`: log answers then carry `encodingFlags`, streams keep only their
indexed labels, and each entry gets a third element with its `structuredMetadata` and `parsed`
labels (Loki's pkg/util/marshal encodeStream and iter.NewCategorizeLabelsIterator)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess

T0 = 1_767_225_600_000_000_000
FLAGS = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
LINES = [
    # ts offset, line, structured metadata
    (1, "level=warn msg=hello user=bob", {"trace_id": "t1"}),
    (2, "level=info msg=bye user=al", None),
    (3, "level=info msg=again user=al", {"app": "b"}),  # named like a stream label
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("categorize") / "data") as srv:
        values = [[str(T0 + dt), line, *([meta] if meta else [])] for dt, line, meta in LINES]
        body = orjson.dumps({"streams": [{"stream": {"job": "cat", "app": "a"}, "values": values}]})
        r = httpx.post(srv.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 204, r.text
        yield srv


def data(srv, query: str, headers=None, **params) -> dict:
    """The `data` of a query_range answer, without its `stats`."""
    params = {"query": query, "start": str(T0), "end": str(T0 + 10**9), **params}
    r = httpx.get(srv.url + "/loki/api/v1/query_range", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    got = orjson.loads(r.content)["data"]
    got.pop("stats", None)
    return got


STREAM = {"app": "a", "job": "cat", "service_name": "a"}


def test_categorized_entries_group_by_stream_labels_with_metadata_and_parsed_apart(server):
    assert data(server, '{job="cat"} | logfmt', FLAGS) == {
        "resultType": "streams",
        "encodingFlags": ["categorize-labels"],
        "result": [{"stream": STREAM, "values": [
            [str(T0 + 3), "level=info msg=again user=al",
             {"structuredMetadata": {"app_extracted": "b", "detected_level": "info"},
              "parsed": {"level": "info", "msg": "again", "user": "al"}}],
            [str(T0 + 2), "level=info msg=bye user=al",
             {"structuredMetadata": {"detected_level": "info"},
              "parsed": {"level": "info", "msg": "bye", "user": "al"}}],
            [str(T0 + 1), "level=warn msg=hello user=bob",
             {"structuredMetadata": {"detected_level": "warn", "trace_id": "t1"},
              "parsed": {"level": "warn", "msg": "hello", "user": "bob"}}],
        ]}],
    }


def test_categorized_entries_without_stages_carry_only_structured_metadata(server):
    assert data(server, '{job="cat"}', FLAGS, direction="forward") == {
        "resultType": "streams",
        "encodingFlags": ["categorize-labels"],
        "result": [{"stream": STREAM, "values": [
            [str(T0 + 1), "level=warn msg=hello user=bob",
             {"structuredMetadata": {"detected_level": "warn", "trace_id": "t1"}}],
            [str(T0 + 2), "level=info msg=bye user=al", {"structuredMetadata": {"detected_level": "info"}}],
            [str(T0 + 3), "level=info msg=again user=al",
             {"structuredMetadata": {"app_extracted": "b", "detected_level": "info"}}],
        ]}],
    }


def test_categorized_entry_with_no_metadata_nor_parsed_label_has_an_empty_object(server):
    got = data(server, '{job="cat"} | drop detected_level, trace_id, app_extracted', FLAGS, limit="1")
    assert got["result"] == [{"stream": STREAM, "values": [[str(T0 + 3), "level=info msg=again user=al", {}]]}]


def test_pipeline_errors_are_parsed_labels(server):
    got = data(server, '{job="cat"} |= "bob" | json', FLAGS)
    [[_, _, extra]] = got["result"][0]["values"]
    assert got["result"][0]["stream"] == STREAM
    assert extra["parsed"]["__error__"] == "JSONParserErr"
    assert set(extra["parsed"]) == {"__error__", "__error_details__"}


def test_a_stream_label_rewritten_by_label_format_leaves_the_stream_for_parsed(server):
    got = data(server, '{job="cat"} |= "bob" | label_format app="x"', FLAGS)
    assert got["result"] == [{"stream": {"job": "cat", "service_name": "a"}, "values": [
        [str(T0 + 1), "level=warn msg=hello user=bob",
         {"structuredMetadata": {"detected_level": "warn", "trace_id": "t1"}, "parsed": {"app": "x"}}]]}]


def test_without_the_header_streams_hold_every_label_and_entries_are_pairs(server):
    got = data(server, '{job="cat"} |= "bob" | logfmt', None)
    assert got == {"resultType": "streams", "result": [{
        "stream": {**STREAM, "detected_level": "warn", "trace_id": "t1", "level": "warn", "msg": "hello",
                   "user": "bob"},
        "values": [[str(T0 + 1), "level=warn msg=hello user=bob"]]}]}


def test_metadata_named_like_a_stream_label_is_renamed_without_stages_too(server):
    """Loki's LabelsBuilder.Add renames it `<name>_extracted` in every pipeline, the no-op one too."""
    got = data(server, '{job="cat"}', None, limit="1")
    assert got["result"] == [{"stream": {**STREAM, "app_extracted": "b", "detected_level": "info"},
                              "values": [[str(T0 + 3), "level=info msg=again user=al"]]}]


def test_unknown_flags_are_echoed_and_change_nothing_else(server):
    got = data(server, '{job="cat"} |= "bob"', {"X-Loki-Response-Encoding-Flags": "some-flag"})
    assert got["encodingFlags"] == ["some-flag"]
    assert got["result"][0]["values"] == [[str(T0 + 1), "level=warn msg=hello user=bob"]]


def test_metric_answers_carry_no_encoding_flags(server):
    """Loki's query frontend encodes metric answers without them (LokiPromResponse)."""
    got = data(server, 'count_over_time({job="cat"}[1s])', FLAGS, step="1")
    assert "encodingFlags" not in got and got["resultType"] == "matrix"
