"""`data.stats` of query answers, against a real `logyard serve`: Loki's stats `Result` shape (as a
real Loki answered it in the conformance corpus), and what it counts: the lines and bytes the query
read, the lines that passed its pipeline, the entries it returned."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

T0 = 1_767_225_600_000_000_000
SEC = 10**9
N = 300
LINES = [f"request {i} {'error' if i % 3 == 0 else 'ok'} path=/p/{i}" for i in range(N)]
LINE_BYTES = sum(len(line.encode()) for line in LINES)
ERRORS = sum(1 for line in LINES if " error " in line)
# Captured from Loki by tests/conformance: the shape its stats have.
LOKI_ANSWER = Path(__file__).resolve().parents[1] / "conformance" / "cases" / "ls-nregex.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = HISTORIC_DATA_CONFIG + "  discover_log_levels: false\n"
    with ServerProcess(tmp_path_factory.mktemp("stats") / "data", config_text=config) as srv:
        plain = [[str(T0 + i * SEC), line] for i, line in enumerate(LINES)]
        with_meta = [[str(T0 + i * SEC), "traced line", {"trace_id": f"t{i}"}] for i in range(10)]
        body = orjson.dumps({"streams": [{"stream": {"job": "stats"}, "values": plain},
                                         {"stream": {"job": "meta"}, "values": with_meta}]})
        r = httpx.post(srv.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 204, r.text
        yield srv


def stats(srv, path: str = "/loki/api/v1/query_range", **params) -> dict:
    params = {"start": str(T0), "end": str(T0 + 3600 * SEC), **params}
    r = httpx.get(srv.url + path, params=params)
    assert r.status_code == 200, r.text
    data = orjson.loads(r.content)["data"]
    assert list(data)[-1] == "stats"  # Loki writes it last
    return data["stats"]


def shape(obj):
    """Keys in order, recursively, with each leaf's JSON type (ints and floats both numbers)."""
    if isinstance(obj, dict):
        return [(k, shape(v)) for k, v in obj.items()]
    return "bool" if isinstance(obj, bool) else "number" if isinstance(obj, (int, float)) else type(obj).__name__


def test_stats_have_lokis_shape(server):
    loki = json.loads(LOKI_ANSWER.read_text())["response"]["body"]["data"]["stats"]
    loki["summary"].pop("estimatedQueryBytes")  # omitempty in stats.proto: absent when not estimated
    assert shape(stats(server, query='{job="stats"}')) == shape(loki)
    assert shape(stats(server, query='count_over_time({job="stats"}[1m])', step="60")) == shape(loki)
    assert shape(stats(server, "/loki/api/v1/query", query="1 + 1", time=str(T0))) == shape(loki)


def test_a_log_query_counts_the_lines_and_bytes_it_read(server):
    got = stats(server, query='{job="stats"}', limit="1000")
    summary = got["summary"]
    assert summary["totalLinesProcessed"] == N
    assert summary["totalBytesProcessed"] == LINE_BYTES
    assert summary["totalPostFilterLines"] == N
    assert summary["totalEntriesReturned"] == N
    assert summary["totalStructuredMetadataBytesProcessed"] == 0
    chunk = got["querier"]["store"]["chunk"]
    assert (chunk["decompressedLines"], chunk["decompressedBytes"], chunk["postFilterLines"]) == (N, LINE_BYTES, N)
    assert got["index"]["totalStreams"] == 1
    assert summary["execTime"] > 0 and got["querier"]["querierExecTime"] > 0
    assert summary["bytesProcessedPerSecond"] == int(LINE_BYTES / summary["execTime"])
    assert summary["linesProcessedPerSecond"] == int(N / summary["execTime"])


def test_lines_a_filter_drops_are_processed_but_not_post_filter(server):
    summary = stats(server, query='{job="stats"} |= " error "', limit="1000")["summary"]
    assert (summary["totalLinesProcessed"], summary["totalPostFilterLines"]) == (N, ERRORS)
    assert summary["totalEntriesReturned"] == ERRORS


def test_lines_row_stages_drop_are_not_post_filter(server):
    summary = stats(server, query='{job="stats"} | logfmt | path=~"/p/1.*"', limit="1000")["summary"]
    matching = sum(1 for i in range(N) if str(i).startswith("1"))
    assert summary["totalLinesProcessed"] == N
    assert summary["totalPostFilterLines"] == summary["totalEntriesReturned"] == matching


def test_structured_metadata_bytes_count_in_the_bytes_processed(server):
    summary = stats(server, query='{job="meta"}')["summary"]
    line_bytes = 10 * len("traced line")
    assert summary["totalLinesProcessed"] == 10
    assert summary["totalStructuredMetadataBytesProcessed"] > 10 * len("trace_idt0")
    assert summary["totalBytesProcessed"] == line_bytes + summary["totalStructuredMetadataBytesProcessed"]


def test_a_metric_query_counts_what_it_read_and_returns_series(server):
    got = stats(server, query='sum by (job) (count_over_time({job=~"stats|meta"} |= "error" [1h]))', step="3600")
    summary = got["summary"]
    assert summary["totalLinesProcessed"] == N + 10
    assert summary["totalPostFilterLines"] == ERRORS
    assert summary["totalEntriesReturned"] == 1  # series, as Loki's frontend counts a matrix
    assert got["index"]["totalStreams"] == 2


def test_a_scalar_reads_nothing_and_returns_one_entry(server):
    summary = stats(server, "/loki/api/v1/query", query="2 * 3", time=str(T0))["summary"]
    assert (summary["totalLinesProcessed"], summary["totalBytesProcessed"], summary["totalEntriesReturned"]) == (0, 0, 1)


def test_an_instant_metric_query_counts_what_it_read(server):
    # logcli instant-query --stats reads these from /query.
    summary = stats(server, "/loki/api/v1/query", query='count_over_time({job="stats"} |= "error" [1h])',
                    time=str(T0 + 1800 * SEC))["summary"]  # the window (t-1h, t] holds every line
    assert (summary["totalLinesProcessed"], summary["totalBytesProcessed"]) == (N, LINE_BYTES)
    assert summary["totalPostFilterLines"] == ERRORS
    assert summary["totalEntriesReturned"] == 1
    assert summary["execTime"] > 0 and summary["bytesProcessedPerSecond"] > 0
