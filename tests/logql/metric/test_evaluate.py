"""Bounds on one metric query's work: the series limit while grouping, cancellation between
windows, identical subqueries evaluated once, a binary chain thousands long evaluated in a loop."""

from __future__ import annotations

import pyarrow as pa
import pytest

from logyard.errors import BadRequestError, ClientClosedError, LimitError, QueryTimeoutError
from logyard.labels import LabelSet
from logyard.logql.deadline import Deadline
from logyard.logql.engine import Engine, Limits
from tests.support.line_match import kept

SEC = 10**9
HOUR = 3600 * SEC


class ManyLinesStore:
    """One stream, `tables` tables of `rows` distinct lines each; counts what was read."""

    def __init__(self, tables: int = 10, rows: int = 5000, on_table=None) -> None:
        self.tables, self.rows = tables, rows
        self.yielded = 0
        self.reads = 0
        self.on_table = on_table

    window_ns = 0  # no windows: every range is read as one sequence

    def head_lines(self) -> int:
        return 0

    def streams(self, tenant, matchers, start, end):
        return {7: LabelSet({"app": "x"}.items())}

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None, line_match=None):
        self.reads += 1
        for t in range(self.tables):
            n = self.rows
            ts = [start + (t * n + i) * (end - start) // (self.tables * n) for i in range(n)]  # spread evenly
            data = {"stream": pa.array([7] * n), "ts": pa.array(ts),
                    "line": pa.array([f"line {t}-{i}" for i in range(n)], pa.large_string()),
                    "meta": pa.array([""] * n), "len": pa.array([10] * n, pa.int32())}
            self.yielded += 1
            if self.on_table is not None:
                self.on_table(t)
            yield kept(pa.table({c: data[c] for c in columns}), data["line"].to_pylist(), line_match)


def _instant(engine, query, deadline=None):
    kw = {} if deadline is None else {"deadline": deadline}
    return engine.query_instant("t", query, 60 * SEC, 100, "backward", **kw)


def test_series_limit_stops_reading_once_exceeded():
    store = ManyLinesStore()
    engine = Engine(store, Limits(max_series=10))
    with pytest.raises(LimitError, match=r"^maximum number of series \(10\) reached for a single query"):
        _instant(engine, 'sum by (x) (count_over_time({app="x"} | label_format x="{{__line__}}" [1m]))')
    # The limit is met in the first table: the rest of the data is never grouped (nor read).
    assert store.yielded < store.tables


def test_series_limit_counts_only_the_result_series():
    # `count(...)` answers one series however many it counts: no limit on what it aggregates.
    store = ManyLinesStore(tables=2, rows=100)
    engine = Engine(store, Limits(max_series=10))
    data = _instant(engine, 'count(count_over_time({app="x"} | label_format x="{{__line__}}" [1m]))')
    assert [r["value"][1] for r in data["result"]] == ["200"]


def test_samples_outside_every_window_make_no_series():
    # Step 1h, range 1m: a row that falls in no window is no series of the result (as in Loki),
    # so it cannot count against the series limit either.
    store = ManyLinesStore(tables=1, rows=50)
    engine = Engine(store, Limits(max_series=10))
    data = engine.query_range("t", 'count_over_time({app="x"} | label_format x="{{__line__}}" [1s])',
                              0, 2 * HOUR, HOUR, None, 100, "forward")
    assert len(data["result"]) <= 10


def test_a_cancelled_query_stops_reading():
    deadline = Deadline(timeout_ns=None)
    store = ManyLinesStore(on_table=lambda t: deadline.cancel() if t == 1 else None)
    engine = Engine(store)
    with pytest.raises(ClientClosedError, match="^the request was cancelled by the client$"):
        _instant(engine, 'count(count_over_time({app="x"} | label_format x="{{__line__}}" [1m]))', deadline)
    assert store.yielded < store.tables


def test_an_expired_deadline_answers_lokis_timeout():
    engine = Engine(ManyLinesStore())
    with pytest.raises(QueryTimeoutError) as err:
        _instant(engine, 'count_over_time({app="x"}[1m])', Deadline(timeout_ns=0))
    assert err.value.status == 504
    assert err.value.message == ("request timed out, decrease the duration of the request or add more label "
                                 "matchers (prefer exact match over regex match) to reduce the amount of data "
                                 "processed")


def test_identical_range_aggregations_read_storage_once():
    store = ManyLinesStore(tables=1, rows=10)
    q = " + ".join(['count_over_time({app="x"}[1m])'] * 50)
    data = _instant(Engine(store), q)
    assert store.reads == 1
    assert [r["value"][1] for r in data["result"]] == ["500"]


def test_a_binary_chain_thousands_long_evaluates():
    # `vector(1) + vector(1) + …` is a left spine as deep as the chain: evaluated in a loop.
    data = _instant(Engine(ManyLinesStore(tables=0)), " + ".join(["vector(1)"] * 5000))
    assert [r["value"][1] for r in data["result"]] == ["5000"]


def test_pipeline_error_still_wins_over_the_series_limit():
    # Loki reports the pipeline error of a query whose series carry __error__, however many there are.
    store = ManyLinesStore(tables=2, rows=100)
    with pytest.raises(BadRequestError, match=r"^pipeline error: 'JSONParserErr'"):
        _instant(Engine(store, Limits(max_series=10)),
                 'count_over_time({app="x"} | json | label_format x="{{__line__}}" [1m])')
