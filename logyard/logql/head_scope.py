"""The part of the writers' heads a query can read (logyard/read_scope.py), from its text: the
matchers of each of its stream selectors, and its time range: a metric query's step-aligned and
widened by each range aggregation's `[range]` and `offset` (a point at t reads
`(t - offset - range, t - offset]`). A reader sends it with its head requests so that writers
answer only those rows (docs/scaling.md)."""

from __future__ import annotations

from logyard.errors import LogyardError
from logyard.logql.metric.steps import grid_bounds
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse
from logyard.read_scope import EVERYTHING, INT64_MAX, INT64_MIN, ReadScope


def query_scope(query: str, start_ns: int, end_ns: int, step_ns: int | None = None) -> ReadScope:
    """The scope of a log query over [start, end), or of a metric query evaluated from start to end
    every `step_ns` (a range query: its grid is step-aligned, metric/steps.py) or at start = end
    (an instant query: `step_ns` None). A query that does not parse gets every row (the engine then
    raises its error as it would)."""
    try:
        expr = parse(query)
    except LogyardError:
        return EVERYTHING
    lo, hi = min(start_ns, end_ns), max(start_ns, end_ns)
    ranges = ast.range_aggregations(expr)
    if ranges:
        if step_ns is not None:
            lo, hi, _ = grid_bounds(lo, hi, step_ns)
        lo, hi = min(lo - r.offset_ns - r.range_ns for r in ranges), max(hi - r.offset_ns for r in ranges)
    return ReadScope.of([s.matchers for s in ast.selectors(expr)], max(lo, INT64_MIN), min(hi + 1, INT64_MAX))
