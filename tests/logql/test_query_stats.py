"""`QueryStats`: counting what a query reads from its source, and Loki's stats JSON."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql.query_stats import QueryStats, entries_returned, string_bytes


@pytest.mark.parametrize("col,expected", [
    (pa.array(["ab", "cde", None, "f"], pa.large_string()), 6),
    (pa.array(["ab", "cde", "f"], pa.large_string()).slice(1, 1), 3),
    (pa.array(["ab", "cde", "f"]).slice(2), 1),
    (pa.chunked_array([pa.array(["ab"], pa.large_string()), pa.array(["cde"], pa.large_string())]), 5),
    (pa.array(["", '{"a":"b"}', "", '{"a":"b"}']).dictionary_encode(), 18),
    (pa.array(["", '{"a":"b"}', ""]).dictionary_encode().slice(2), 0),
    (pa.array([], pa.large_string()), 0),
])
def test_string_bytes_are_the_values_bytes(col, expected):
    assert string_bytes(col) == expected


class Source:
    """Two tables, noting whether the caller closed the read early."""

    window_ns = 0

    def __init__(self) -> None:
        self.closed = False

    def head_lines(self) -> int:
        return 0

    def streams(self, tenant, matchers, start_ns, end_ns):
        return {1: LabelSet({"job": "x"}.items())}

    def read(self, tenant, stream_ids, start_ns, end_ns, **kw):
        try:
            for lines in (["aa", "bbb"], ["c"]):
                yield pa.table({"stream": np.ones(len(lines), np.int64), "ts": np.arange(len(lines)),
                                "line": pa.array(lines, pa.large_string())})
        finally:
            self.closed = True


def test_counting_source_counts_tables_as_they_are_read():
    stats = QueryStats()
    src = stats.source(Source())
    assert len(src.streams("t", [], 0, 1)) == 1
    assert sum(t.num_rows for t in src.read("t", [1], 0, 10)) == 3
    assert (stats.lines, stats.line_bytes, stats.reads, stats.streams) == (3, 6, 1, 1)


def test_closing_a_counted_read_early_closes_the_sources():
    inner = Source()
    reads = QueryStats().source(inner).read("t", [1], 0, 10)
    next(reads)
    reads.close()
    assert inner.closed


@pytest.mark.parametrize("data,expected", [
    ({"resultType": "streams", "result": [{"values": [1, 2]}, {"values": [3]}]}, 3),
    ({"resultType": "matrix", "result": [{"values": [1, 2]}, {"values": [3]}]}, 2),
    ({"resultType": "vector", "result": [{}, {}, {}]}, 3),
    ({"resultType": "scalar", "result": [0, "1"]}, 1),
])
def test_entries_returned_count_as_lokis_frontend_does(data, expected):
    assert entries_returned(data) == expected
