"""The LogQL engine: what a query does, step by step, and the `data` object of Loki's answer.

A query is parsed (remembered per text), its time range checked against Loki's max_query_length,
then run: a log query reads its windows in its direction and stops at the limit (`log_query`); a
metric query gets its step grid (`metric.steps`), is evaluated on it (`metric.evaluate`), and its
result's series are counted against the limit before it is encoded (`metric.result_json`).

A query's work is bounded: its `Deadline` is checked between windows, line filters, slices of rows
and metric nodes, so a timed-out or abandoned query stops in every thread working for it
(`readahead`); the series limit is enforced while samples are grouped when those groups are the
result's series (`metric.samples`); identical range aggregations in one query are evaluated once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from logyard.errors import BadRequestError, LimitError, LogyardError
from logyard.gocompat.durations import format_duration, format_prom_duration
from logyard.labels import LabelSet
from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.functions import FUNCTION_BY_NAME
from logyard.logql.log_query import log_query
from logyard.logql.metric import binop, limits, result_json, steps
from logyard.logql.metric.evaluate import evaluate
from logyard.logql.metric.series import StepMatrix
from logyard.logql.query_stats import QueryStats
from logyard.logql.source import LogSource
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse

INSTANT_ONLY = "count min sketches are only supported on instant queries"
INSTANT_LOG_QUERY = ("log queries are not supported as an instant query type, please change your query "
                     "to a range query type")

QUERY_TOO_LONG = "the query time range exceeds the limit (query length: {length}, limit: {limit})"
# Loki's logqlmodel.ErrIntervalLimit, for a range selector over max_query_range.
INTERVAL_TOO_LONG = "[interval] value exceeds limit: [{range}] > [{limit}]"
MS = 1_000_000


@dataclass(frozen=True)
class Limits:
    max_entries: int = 5000
    max_series: int = 500
    max_points: int = 11000
    max_query_length_ns: int = 721 * 3600 * 10**9  # Loki's max_query_length; 0 disables it
    max_query_range_ns: int = 0  # Loki's max_query_range: the longest `[range]`; 0 disables it
    max_query_parallelism: int = 2  # time windows one query reads at once (Loki: sub-queries at once)


class Engine:
    def __init__(self, store: LogSource, limits: Limits = Limits(),
                 limits_for: Callable[[str], Limits] | None = None) -> None:
        """`limits` are every tenant's unless `limits_for(tenant)` (per-tenant overrides) says otherwise."""
        self.store = store
        self.limits = limits
        self.limits_for = limits_for or (lambda tenant: limits)

    # --- entry points ---------------------------------------------------------------------------
    def query_range(self, tenant: str, query: str, start: int, end: int, step: int | None,
                    interval: int | None, limit: int, direction: str, deadline: Deadline = NO_DEADLINE, *,
                    categorize: bool = False, stats: QueryStats | None = None) -> dict:
        """`categorize`: a log answer in Loki's `categorize-labels` encoding; `stats` counts the work."""
        expr = _parse(query)
        lim = self.limits_for(tenant)
        _check_length(lim, start, end)
        store = self.store if stats is None else stats.source(self.store)
        if ast.is_log_query(expr):
            return {"resultType": "streams",
                    "result": log_query(store, tenant, expr, start, end, limit, direction, deadline,
                                        categorize=categorize, stats=stats,
                                        parallelism=lim.max_query_parallelism)}
        if end < start:
            raise BadRequestError("end timestamp must not be before or equal to start time")
        step = step if step is not None else steps.default_step_ns(start, end)
        steps.check_step(start, end, step, lim.max_points)
        _check_range(lim, expr)
        grid = steps.range_grid(start, end, step)
        value = evaluate(store, tenant, expr, grid, max_series=lim.max_series, deadline=deadline,
                         stats=stats, parallelism=lim.max_query_parallelism)
        if _instant_only(expr):
            # Loki evaluates the sketch's inner query first (its errors win), then refuses a range
            # result: a plain error, so a 500 (count_min_sketch.go, JoinCountMinSketchVector).
            raise LogyardError(INSTANT_ONLY)
        if isinstance(value, float):
            sm = binop.vector(value, grid)
            sm = StepMatrix((LabelSet(),), grid, sm.values, sm.present)
            return result_json.matrix_data(sm)
        limits.check_series_limit(value, lim.max_series)
        return result_json.matrix_data(value)

    def query_instant(self, tenant: str, query: str, ts: int, limit: int, direction: str,
                      deadline: Deadline = NO_DEADLINE, *, stats: QueryStats | None = None) -> dict:
        expr = _parse(query)
        if ast.is_log_query(expr):
            raise BadRequestError(INSTANT_LOG_QUERY)
        lim = self.limits_for(tenant)
        _check_range(lim, expr)
        grid = steps.instant_grid(ts)
        store = self.store if stats is None else stats.source(self.store)
        value = evaluate(store, tenant, expr, grid, max_series=lim.max_series, deadline=deadline,
                         stats=stats, parallelism=lim.max_query_parallelism)
        if isinstance(value, float):
            return result_json.scalar_data(value, ts)
        limits.check_series_limit(value, lim.max_series)
        return result_json.vector_data(value, keep_order=_has_sort(expr))


def _check_length(lim: Limits, start: int, end: int) -> None:
    """Loki's max_query_length: the range measured in whole milliseconds, Go-printed; the limit
    printed as a Prometheus duration (queryrange's limitsMiddleware)."""
    limit = lim.max_query_length_ns
    length = (end // MS - start // MS) * MS
    if limit > 0 and length > limit:
        raise LimitError(QUERY_TOO_LONG.format(length=format_duration(length), limit=format_prom_duration(limit)))


def _check_range(lim: Limits, expr) -> None:
    """Loki's max_query_range (engine.go checkIntervalLimit): every `[range]` within the limit."""
    limit = lim.max_query_range_ns
    if limit <= 0:
        return
    for e in ast.walk(expr):
        if isinstance(e, ast.RangeAggregation) and e.range_ns > limit:
            raise BadRequestError(INTERVAL_TOO_LONG.format(range=format_prom_duration(e.range_ns),
                                                           limit=format_prom_duration(limit)))


@functools.lru_cache(maxsize=256)
def _parse(query: str) -> ast.Expr:
    """`parse`, remembered per query text: dashboards repeat the same few queries, and the AST is
    frozen (nothing downstream mutates it). Errors are raised again each time, not remembered."""
    return parse(query)


def _instant_only(expr) -> bool:
    return any(isinstance(e, ast.VectorAggregation) and FUNCTION_BY_NAME[e.op].instant_only for e in ast.walk(expr))


def _has_sort(expr) -> bool:
    """Loki keeps the evaluation order of an instant vector when sort/sort_desc appears anywhere."""
    return any(isinstance(e, ast.VectorAggregation) and FUNCTION_BY_NAME[e.op].sorts for e in ast.walk(expr))


__all__ = ["Engine", "Limits"]
