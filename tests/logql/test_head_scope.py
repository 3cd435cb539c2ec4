"""The writers' rows a query can read (logql/head_scope.py): its selectors, its time range widened
by each range aggregation's range and offset."""

from __future__ import annotations

import pytest

from logyard.labels import LabelSet, Matcher
from logyard.logql.head_scope import query_scope
from logyard.read_scope import EVERYTHING, ReadScope

M = 60 * 10**9
A = (Matcher("app", "=", "a"),)
B = (Matcher("app", "=~", "b.*"), Matcher("env", "!=", "dev"))


S = 10**9


@pytest.mark.parametrize("query, start, end, step, want", [
    ('{app="a"} |= "x"', 100 * M, 200 * M, 60 * S, ReadScope((A,), 100 * M, 200 * M + 1)),
    ('sum(rate({app="a"}[5m]))', 100 * M, 200 * M, 60 * S, ReadScope((A,), 95 * M, 200 * M + 1)),
    # a range query's grid is step-aligned: start rounded down, end up
    ('sum(rate({app="a"}[5m]))', 100 * M + 7 * S, 200 * M + 7 * S, 60 * S, ReadScope((A,), 95 * M, 201 * M + 1)),
    ('count_over_time({app="a"}[5m] offset 10m)', 100 * M, 100 * M, None, ReadScope((A,), 85 * M, 90 * M + 1)),
    ('sum(rate({app="a"}[1m])) / sum(rate({app=~"b.*", env!="dev"} | json [10m] offset 1m))', 100 * M, 200 * M,
     60 * S, ReadScope((A, B), 89 * M, 200 * M + 1)),
    ('{app="a"', 0, 1, 60 * S, EVERYTHING),  # does not parse: the engine raises the error
])
def test_a_query_scope_is_its_selectors_and_the_times_it_reads(query, start, end, step, want):
    assert query_scope(query, start, end, step) == want


def test_a_scope_matches_a_stream_of_any_of_its_selectors():
    scope = query_scope('sum(rate({app="a"}[1m])) + sum(rate({app=~"b.*", env!="dev"}[1m]))', 0, 1)
    assert scope.matches(LabelSet([("app", "a")]))
    assert scope.matches(LabelSet([("app", "bb"), ("env", "prod")]))
    assert not scope.matches(LabelSet([("app", "bb"), ("env", "dev")]))
    assert not scope.matches(LabelSet([("app", "c")]))
