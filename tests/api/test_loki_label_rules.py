"""Loki's rules for entry identity, label collisions and volume buckets, against a real server.

* Two entries with the same timestamp and line but different structured metadata are two entries;
  an exact duplicate (a retried push) is one (pkg/iter mergeEntryIterator, pkg/ingester stream.go).
* Structured metadata or a parsed label named like a stream label leaves the stream label alone
  and is `<name>_extracted`; a parsed label beats metadata of the same name (pkg/logql/log/labels.go
  LabelsBuilder.Add and Set, parser.go). The same in log queries, metric queries and the tail.
* `index/volume_range` buckets are multiples of the step since the epoch, the first cut at the
  query's start, each stamped 1 ms before its end and the last at the query's end
  (pkg/querier/queryrange/volume.go over pkg/util/time.go ForInterval).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from tests.support.server import ServerProcess

T0 = 1_767_225_600_000_000_000   # 2026-01-01T00:00:00Z, a multiple of a minute
S = 1_000_000_000
STREAM = {"job": "rules", "app": "a"}
VOLUME_LINES = [(30, "aaaaaaaaaa"), (70, "bbbbb"), (130, "ccc")]   # (seconds after T0, line)


def push(srv, stream: dict, values: list) -> None:
    body = orjson.dumps({"streams": [{"stream": stream, "values": values}]})
    r = httpx.post(srv.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("rules") / "data") as srv:
        same = [[str(T0 + 1), "same line", {"pod": "p1"}], [str(T0 + 1), "same line", {"pod": "p2"}]]
        push(srv, STREAM, same)
        push(srv, STREAM, same[:1])   # a retried push: an exact duplicate
        push(srv, STREAM, [[str(T0 + 2), "level=info app=c", {"app": "b"}]])
        push(srv, {"job": "vol"}, [[str(T0 + s * S), line] for s, line in VOLUME_LINES])
        yield srv


def query_range(srv, query: str, **params) -> list[dict]:
    params = {"query": query, "start": str(T0), "end": str(T0 + 60 * S), "step": "60", **params}
    r = httpx.get(srv.url + "/loki/api/v1/query_range", params=params)
    assert r.status_code == 200, r.text
    return orjson.loads(r.content)["data"]["result"]


def test_same_time_and_line_with_other_metadata_is_another_entry_and_a_retry_is_not(server):
    got = query_range(server, '{job="rules"} |= "same"')
    pods = sorted(s["stream"]["pod"] for s in got for _ in s["values"])
    assert pods == ["p1", "p2"]


def test_metadata_named_like_a_stream_label_is_extracted_in_a_log_query(server):
    (stream,) = query_range(server, '{job="rules"} |= "level"')
    assert (stream["stream"]["app"], stream["stream"]["app_extracted"]) == ("a", "b")


def test_a_parsed_label_beats_metadata_for_the_extracted_name(server):
    (stream,) = query_range(server, '{job="rules"} |= "level" | logfmt')
    assert (stream["stream"]["app"], stream["stream"]["app_extracted"]) == ("a", "c")


@pytest.mark.parametrize("pipeline, extracted", [('|= "level"', "b"), ('|= "level" | logfmt', "c")])
def test_metric_queries_group_by_the_stream_label_and_the_extracted_one(server, pipeline, extracted):
    got = query_range(server, f'sum by (app, app_extracted) (count_over_time({{job="rules"}} {pipeline} [1m]))')
    assert [s["metric"] for s in got] == [{"app": "a", "app_extracted": extracted}]


def test_the_tail_extracts_metadata_named_like_a_stream_label(server):
    url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urlencode(
        {"query": '{job="tailrules"}', "start": str(time.time_ns())})
    with connect(url, open_timeout=20) as ws:
        deadline = time.monotonic() + 20
        while True:  # the tail subscribes right after the upgrade: push until a frame comes
            push(server, {"job": "tailrules", "app": "a"}, [[str(time.time_ns()), "hello", {"app": "b"}]])
            try:
                frame = orjson.loads(ws.recv(timeout=1))
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "no frame"
    labels = frame["streams"][0]["stream"]
    assert (labels["app"], labels["app_extracted"]) == ("a", "b")


def test_volume_range_buckets_are_step_multiples_cut_at_the_start(server):
    """Start T0+20s, end T0+200s, step 60s: ForInterval gives [T0+20s, T0+60s-1ms],
    [T0+60s, T0+120s-1ms], [T0+120s, T0+180s-1ms], [T0+180s, T0+200s], each keyed by its end;
    a line counts in the bucket holding its timestamp, so 10, 5 and 3 bytes, the last bucket empty.
    (Buckets from the start instead would put the first two lines together.)"""
    params = {"query": '{job="vol"}', "start": str(T0 + 20 * S), "end": str(T0 + 200 * S), "step": "60"}
    r = httpx.get(server.url + "/loki/api/v1/index/volume_range", params=params)
    assert r.status_code == 200, r.text
    (series,) = orjson.loads(r.content)["data"]["result"]
    t0_ms = T0 // 1_000_000
    got = [(round(float(t) * 1000) - t0_ms, v) for t, v in series["values"]]
    assert got == [(59_999, "10"), (119_999, "5"), (179_999, "3")]
