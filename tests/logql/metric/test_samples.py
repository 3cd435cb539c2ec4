"""What a metric query asks storage for: no metadata when every label is aggregated away."""

from __future__ import annotations

import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql.engine import Engine
from tests.support.line_match import kept

SEC = 10**9


class OneStreamStore:
    """One stream, two entries (one with metadata); records the columns of each read."""

    def __init__(self) -> None:
        self.columns: list[tuple] = []
        self.first: list[int | None] = []

    window_ns = 0  # no windows: every range is read as one sequence

    def streams(self, tenant, matchers, start, end):
        return {7: LabelSet({"app": "x"}.items())}

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None, line_match=None):
        self.columns.append(tuple(columns))
        self.first.append(first)
        data = {"stream": pa.array([7, 7]), "ts": pa.array([10 * SEC, 20 * SEC]),
                "line": pa.array(["an error", "fine"], pa.large_string()),
                "meta": pa.array(['{"level":"warn"}', ""]).dictionary_encode(), "len": pa.array([8, 4], pa.int32())}
        yield kept(pa.table({c: data[c] for c in columns}), data["line"].to_pylist(), line_match)


def _run(query):
    store = OneStreamStore()
    data = Engine(store).query_range("t", query, 60 * SEC, 60 * SEC, 60 * SEC, None, 100, "forward")
    return store.columns, [(r["metric"], r["values"]) for r in data["result"]]


@pytest.mark.parametrize("query, count", [
    ('sum(count_over_time({app="x"}[1m]))', "2"),
    ('sum(count_over_time({app="x"} |= "error" [1m]))', "1"),
])
def test_sum_without_labels_reads_no_metadata(query, count):
    columns, result = _run(query)
    assert all("meta" not in c for c in columns)
    assert result == [({}, [[60, count]])]


def test_grouping_by_a_name_still_reads_metadata():
    columns, result = _run('sum by (level) (count_over_time({app="x"}[1m]))')
    assert all("meta" in c for c in columns)
    assert sorted((m.get("level", ""), v[0][1]) for m, v in result) == [("", "1"), ("warn", "1")]
