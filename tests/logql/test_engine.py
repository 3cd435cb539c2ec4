"""What `Engine` checks before a query runs: Loki's query time-range limit (max_query_length)."""

from __future__ import annotations

import pytest

from logyard.errors import LimitError
from logyard.labels import LabelSet
from logyard.logql.engine import Engine, Limits
from tests.support.line_match import kept

SEC = 10**9
HOUR = 3600 * SEC


class NoRowsStore:
    """One stream without rows: a query that passes the checks runs through and answers nothing."""

    window_ns = 0  # no windows: every range is read as one sequence

    def streams(self, tenant, matchers, start, end):
        return {7: LabelSet({"app": "x"}.items())}

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None):
        yield from ()


@pytest.mark.parametrize("end, error", [
    (721 * HOUR, None),
    (721 * HOUR + 999_999, None),  # Loki measures the range in milliseconds
    (721 * HOUR + 10**6, "the query time range exceeds the limit (query length: 721h0m0.001s, limit: 30d1h)"),
    (800 * HOUR, "the query time range exceeds the limit (query length: 800h0m0s, limit: 30d1h)"),
])
def test_query_time_range_is_bounded_by_max_query_length(end, error):
    engine = Engine(NoRowsStore(), Limits(max_query_length_ns=721 * HOUR))
    for q in ('{app="x"}', 'count_over_time({app="x"}[1m])'):
        run = lambda: engine.query_range("t", q, 0, end, HOUR, None, 100, "forward")  # noqa: E731
        if error is None:
            run()
            continue
        with pytest.raises(LimitError) as err:
            run()
        assert (err.value.status, err.value.message) == (400, error)


def test_max_query_length_zero_disables_it():
    engine = Engine(NoRowsStore(), Limits(max_query_length_ns=0))
    engine.query_range("t", '{app="x"}', 0, 10_000 * HOUR, None, None, 100, "forward")


class SlowWindowsStore:
    """Hour windows, one line each, every read taking a moment: how many windows a query reads at
    once shows in `most` (reads overlapping)."""

    window_ns = HOUR

    def __init__(self) -> None:
        import threading

        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def head_lines(self) -> int:
        return 0

    def streams(self, tenant, matchers, start, end):
        return {7: LabelSet({"app": "x"}.items())}

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None, line_match=None):
        import time

        import pyarrow as pa

        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)  # long enough for the other readers to start: it is overlap that is counted
        with self.lock:
            self.now -= 1
        types = {"stream": pa.int64(), "ts": pa.int64(), "line": pa.large_string(), "meta": pa.string(),
                 "len": pa.int32()}
        values = {"stream": [7], "ts": [start], "line": ["x"], "meta": [""], "len": [1]}
        yield kept(pa.table({c: pa.array(values[c], types[c]) for c in columns}), values["line"], line_match)


@pytest.mark.parametrize("parallelism", [1, 3])
@pytest.mark.parametrize("query", ['count_over_time({app="x"}[1h])', '{app="x"} |= "x"'])
def test_max_query_parallelism_bounds_the_windows_read_at_once(parallelism, query):
    store = SlowWindowsStore()
    engine = Engine(store, Limits(max_query_parallelism=parallelism))
    answer = engine.query_range("t", query, 0, 12 * HOUR, HOUR, None, 5000, "forward")
    assert answer["result"]
    assert store.most == parallelism
