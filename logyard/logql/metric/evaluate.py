"""A metric query's expression tree evaluated on its step grid, node by node, into a `StepMatrix`.

Range aggregations take their samples from storage (`samples.extract`) and evaluate every step at
once (`additive` for sums over windows, `range_agg` for the rest); vector aggregations, binary
operations and `label_replace` map onto `vector_agg` and `binop`. Where Loki pushes a `sum by`
grouping into the range aggregation beneath it (canInjectVectorGrouping), so do we. Identical range
aggregations in one query are evaluated once, and the deadline is checked at every node.
"""

from __future__ import annotations

import numpy as np

from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.functions import FUNCTION_BY_NAME
from logyard.logql.metric import additive, binop, count_samples, limits, range_agg, samples, vector_agg
from logyard.logql.metric.series import StepMatrix
from logyard.logql.query_stats import QueryStats
from logyard.logql.syntax import ast


def evaluate(store, tenant: str, expr: ast.Expr, grid: np.ndarray, *, max_series: int = 0,
             deadline: Deadline = NO_DEADLINE, stats: QueryStats | None = None,
             parallelism: int = 2) -> float | StepMatrix:
    """The value of the metric expression `expr` on `grid`: a number, or series on the grid.

    `max_series` (0: none) is checked early, while samples are grouped, where a range
    aggregation's series are the result's; the caller checks the result's series too. `stats`
    counts the samples extracted (the rows that passed each range aggregation's pipeline);
    `parallelism` is how many time windows are read at once (limits' max_query_parallelism)."""
    return _Evaluator(store, tenant, grid, expr, max_series, deadline, stats, parallelism).eval(expr, None)


def _injects_grouping(parent: ast.VectorAggregation, child: ast.RangeAggregation) -> bool:
    """Whether the parent's grouping is pushed into the child's extractor (Loki's
    canInjectVectorGrouping: `sum by (g)` over count_over_time, rate, ...)."""
    return FUNCTION_BY_NAME[parent.op].injects_grouping and FUNCTION_BY_NAME[child.op].takes_sum_grouping


def _result_range_aggregation(expr) -> ast.RangeAggregation | None:
    """The range aggregation whose series (or `sum by` groups, pushed into it) are the query's result
    series one for one, if there is one: then the series limit holds while its samples are grouped.

    That is the root itself, or under `sort`/`sort_desc` (they keep every series), or the child of
    such a `sum` when Loki's vector grouping is injected into it (no grouping of its own)."""
    while isinstance(expr, ast.VectorAggregation) and FUNCTION_BY_NAME[expr.op].sorts and expr.grouping is None:
        expr = expr.expr
    if isinstance(expr, ast.RangeAggregation):
        return expr
    if (isinstance(expr, ast.VectorAggregation) and isinstance(expr.expr, ast.RangeAggregation)
            and expr.expr.grouping is None and _injects_grouping(expr, expr.expr)):
        return expr.expr
    return None


class _Evaluator:
    """Evaluates one metric expression tree on one step grid."""

    def __init__(self, store, tenant: str, grid: np.ndarray, root, max_series: int, deadline: Deadline,
                 stats: QueryStats | None = None, parallelism: int = 2) -> None:
        self.store = store
        self.parallelism = parallelism
        self.stats = stats
        self.tenant = tenant
        self.grid = grid
        self.deadline = deadline
        self.max_series = max_series
        self.bounded = _result_range_aggregation(root)
        # Identical range aggregations (same node, same injected grouping) are evaluated once:
        # `x + x + ... + x` reads storage once. StepMatrix values are never mutated downstream.
        self._memo: dict[tuple, StepMatrix] = {}

    def eval(self, expr, parent):
        self.deadline.check()
        if isinstance(expr, ast.NumberLiteral):
            return float(expr.value)
        if isinstance(expr, ast.VectorExpr):
            return binop.vector(expr.value, self.grid)
        if isinstance(expr, ast.RangeAggregation):
            return self.range_aggregation(expr, parent)
        if isinstance(expr, ast.VectorAggregation):
            inner = self.eval(expr.expr, expr)
            if isinstance(inner, float):
                inner = binop.vector(inner, self.grid)
            g = expr.grouping
            return vector_agg.aggregate(expr.op, inner, g.labels if g else (), bool(g and g.without),
                                        expr.param)
        if isinstance(expr, ast.BinaryOp):
            return self.binary(expr)
        if isinstance(expr, ast.LabelReplace):
            inner = self.eval(expr.expr, expr)
            return binop.label_replace(inner, expr.dst, expr.replacement, expr.src, expr.regex)
        raise AssertionError(f"BUG: cannot evaluate {type(expr).__name__}")

    def binary(self, expr: ast.BinaryOp):
        # `a + b + c + …` is a left spine as long as the chain: walk it in a loop, not recursively.
        spine = [expr]
        while isinstance(spine[-1].lhs, ast.BinaryOp):
            spine.append(spine[-1].lhs)
        acc = self.eval(spine[-1].lhs, spine[-1])
        for node in reversed(spine):
            acc = self._apply(node, acc, self.eval(node.rhs, node))
        return acc

    def _apply(self, expr: ast.BinaryOp, lhs, rhs):
        if isinstance(lhs, float) and isinstance(rhs, float):
            return binop.scalar_binop(expr.op, lhs, rhs)
        if isinstance(rhs, float):
            return binop.vector_scalar_binop(expr.op, lhs, rhs, scalar_left=False, return_bool=expr.bool_mod)
        if isinstance(lhs, float):
            return binop.vector_scalar_binop(expr.op, rhs, lhs, scalar_left=True, return_bool=expr.bool_mod)
        m = expr.matching
        if m is None:
            matching = binop.VectorMatching()
        else:
            card = {None: binop.ONE_TO_ONE, "left": binop.MANY_TO_ONE, "right": binop.ONE_TO_MANY}[m.group_side]
            matching = binop.VectorMatching(card=card, on=m.on, labels=tuple(m.labels), include=tuple(m.include))
        return binop.vector_binop(expr.op, lhs, rhs, matching, return_bool=expr.bool_mod)

    # --- range aggregations ---------------------------------------------------------------------
    def range_aggregation(self, expr: ast.RangeAggregation, parent) -> StepMatrix:
        grouping = expr.grouping
        if grouping is None and isinstance(parent, ast.VectorAggregation) and _injects_grouping(parent, expr):
            grouping = parent.grouping or ast.Grouping(without=False, labels=())
        key = (expr, grouping)
        try:
            out = self._memo.get(key)
        except RecursionError:  # a node too deep to hash (a label filter chain thousands long)
            return self._range_aggregation(expr, grouping)
        if out is None:
            out = self._memo[key] = self._range_aggregation(expr, grouping)
        return out

    def _range_aggregation(self, expr: ast.RangeAggregation, grouping: ast.Grouping | None) -> StepMatrix:
        # Every series made for the result's range aggregation is a result series: the series limit
        # holds while its samples are grouped.
        max_series = self.max_series if expr is self.bounded and expr.op != "absent_over_time" else 0
        grid = self.grid
        counted = count_samples.extract(self.store, self.tenant, grid, expr, grouping, max_series=max_series,
                                        check=self.deadline.check, parallelism=self.parallelism)
        if counted is not None:  # a count over a bare selector: rows counted by storage
            labels, ids, ts, values, weights = counted
            if self.stats is not None:
                self.stats.add_passed(int(weights.sum()))
            out = additive.additive_step_matrix(expr.op, labels, ids, ts, values, grid, expr.range_ns,
                                                expr.offset_ns, weights=weights)
            limits.check_pipeline_errors(out)
            return out
        labels, ids, ts, values = samples.extract(self.store, self.tenant, self.grid, expr, grouping,
                                                  max_series=max_series, check=self.deadline.check,
                                                  parallelism=self.parallelism)
        if self.stats is not None:
            self.stats.add_passed(len(ts))
        if expr.op == "absent_over_time":
            inner = additive.additive_step_matrix("count_over_time", labels, ids, ts, values, grid,
                                                  expr.range_ns, expr.offset_ns)
            return range_agg.absent_over_time(inner, range_agg.absent_labels(expr.log.selector.matchers))
        if FUNCTION_BY_NAME[expr.op].additive:
            out = additive.additive_step_matrix(expr.op, labels, ids, ts, values, grid, expr.range_ns,
                                                expr.offset_ns, unwrap=expr.unwrap is not None)
        else:
            order = np.lexsort((ts, ids))
            out = range_agg.range_step_matrix(expr.op, labels, ids[order], ts[order], values[order], grid,
                                              expr.range_ns, expr.offset_ns, expr.param,
                                              unwrap=expr.unwrap is not None)
        limits.check_pipeline_errors(out)  # Loki's RangeVectorEvaluator: no __error__ series survive
        return out
