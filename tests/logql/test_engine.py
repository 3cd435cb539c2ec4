"""What `Engine` checks before a query runs: Loki's query time-range limit (max_query_length)."""

from __future__ import annotations

import pytest

from logyard.errors import LimitError
from logyard.labels import LabelSet
from logyard.logql.engine import Engine, Limits

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
