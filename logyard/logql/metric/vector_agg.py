"""Vector aggregations (`sum by (...)`, `topk`, `sort`, ...) over every step at once.

Semantics are Loki's `VectorAggEvaluator` (pkg/logql/evaluator.go): `by` keeps only the named
labels, `without` drops them and `__name__`; topk/bottomk/sort keep each sample's own labels.
Rows are grouped once (a dict over label sets, per series) and each aggregation is a reduction
over the rows of a group, for all steps in one NumPy call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from logyard.labels import LabelSet
from logyard.logql.functions import FUNCTION_BY_NAME, VECTOR_AGG
from logyard.logql.metric.series import StepMatrix


def group_labels(labels: LabelSet, grouping: Sequence[str], without: bool) -> LabelSet:
    """The output labels of a sample's group."""
    if without:
        return labels.without([*grouping, "__name__"])
    return labels.keep(grouping)


def aggregate(op: str, sm: StepMatrix, grouping: Sequence[str] = (), without: bool = False,
              param: float | None = None) -> StepMatrix:
    """`op by (grouping)` (or `without`) of `sm`; `param` is k of topk/bottomk.

    `sum(x)` is `by ()`: one group with no labels. The result of sort/sort_desc is ordered by the
    value at the last step (what an instant query returns); other results are ordered by group.
    """
    function = FUNCTION_BY_NAME.get(op)
    if function is None or function.kind != VECTOR_AGG or not function.evaluated:
        raise AssertionError(f"BUG: unknown vector aggregation {op!r}")
    if op in ("topk", "bottomk"):
        return _top(sm, grouping, without, int(param), largest=op == "topk")
    if op == "approx_topk":
        # Loki rewrites approx_topk(k, x) into topk(k, <count-min sketch of x>). Its sketch counts a
        # series exactly unless two of the series it keeps collide in every row, so the exact
        # topk is Loki's answer (the sketch can only overestimate); the parser forbids grouping.
        return _top(sm, (), False, int(param), largest=True)
    if op in ("sort", "sort_desc"):
        return sm.take_rows(sort_order(sm.labels, sm.values[:, -1], sm.present[:, -1], op == "sort_desc"))

    keys: dict[LabelSet, int] = {}
    gid = np.array([keys.setdefault(group_labels(l, grouping, without), len(keys)) for l in sm.labels],
                   dtype=np.int64)  # per series: label sets are Python objects
    m = len(sm.steps)
    if not keys:
        return StepMatrix.empty(sm.steps)
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], np.arange(len(keys)))
    present = sm.present[order]
    values = sm.values[order]
    count = np.add.reduceat(present.astype(np.int64), starts, axis=0)
    total = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if op == "sum":
            out = total
        elif op == "count":
            out = count.astype(np.float64)
        elif op == "avg":
            out = total / count
        elif op == "max":
            # Loki replaces a NaN running max by any later sample: NaN only if all are NaN, like fmax.
            out = np.fmax.reduceat(np.where(present, values, np.nan), starts, axis=0)
        elif op == "min":
            out = np.fmin.reduceat(np.where(present, values, np.nan), starts, axis=0)
        else:  # stddev, stdvar: population, two-pass (Loki uses Welford; both are accurate)
            mean = total / count
            dev = np.where(present, values - np.repeat(mean, np.diff(np.append(starts, len(gid))), axis=0), 0.0)
            out = np.add.reduceat(dev * dev, starts, axis=0) / count
            if op == "stddev":
                out = np.sqrt(out)
    has = count > 0
    return StepMatrix(tuple(keys), sm.steps, np.where(has, out, np.nan).reshape(len(keys), m), has)


def _label_rank(labels: Sequence[LabelSet]) -> np.ndarray:
    rank = np.empty(len(labels), dtype=np.int64)
    rank[sorted(range(len(labels)), key=labels.__getitem__)] = np.arange(len(labels))
    return rank


def _top(sm: StepMatrix, grouping: Sequence[str], without: bool, k: int, largest: bool) -> StepMatrix:
    """topk/bottomk: per step and group, the k samples with the largest (smallest) values.

    Loki's heaps rank NaN below every number for both; ties are broken by label order here (in
    Loki they depend on map iteration order). k < 1 gives nothing, as in Loki.
    """
    n, m = sm.values.shape
    if k < 1 or n == 0:
        return sm.with_present(np.zeros_like(sm.present))
    keys: dict[LabelSet, int] = {}
    gid = np.array([keys.setdefault(group_labels(l, grouping, without), len(keys)) for l in sm.labels],
                   dtype=np.int64)
    shape = (n, m)
    value_key = -sm.values if largest else sm.values
    order = np.lexsort((
        np.broadcast_to(_label_rank(sm.labels)[:, None], shape),
        np.nan_to_num(value_key, nan=0.0),
        np.isnan(sm.values),
        ~sm.present,
        np.broadcast_to(gid[:, None], shape),
    ), axis=0)
    # gid is the primary key and constant along a row, so every column holds the groups in the same
    # positions: the rank inside a group is the position minus the group's first position.
    sorted_gid = np.sort(gid)
    first = np.searchsorted(sorted_gid, sorted_gid)
    rank_sorted = (np.arange(n) - first)[:, None]
    keep = np.zeros(shape, dtype=bool)
    np.put_along_axis(keep, order, np.broadcast_to(rank_sorted < k, shape), axis=0)
    return sm.with_present(sm.present & keep)


def sort_order(labels: Sequence[LabelSet], values: np.ndarray, present: np.ndarray, descending: bool) -> np.ndarray:
    """Row order of `sort` (ascending) or `sort_desc`: NaN after numbers, absent rows last.

    Loki sorts with an unstable sort; equal values are ordered by labels here.
    """
    key = -values if descending else values
    return np.lexsort((_label_rank(labels), np.nan_to_num(key, nan=0.0), np.isnan(values), ~present))
