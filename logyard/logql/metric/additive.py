"""Additive range aggregations without sorting the samples.

The range functions marked `additive` in `logyard.logql.functions` (count_over_time, bytes_over_time,
rate, bytes_rate, sum_over_time) are sums over each window, so the samples need not be in order: each sample falls into one bucket between consecutive window
edges (one `searchsorted` against the few edges), buckets are summed per series with `bincount`, and
a window is the difference of two cumulative sums. O(n log steps) and no per-sample sort — the
difference between 0.7 s and 0.1 s for a day of two million lines.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from logyard.labels import LabelSet
from logyard.logql.functions import FUNCTIONS
from logyard.logql.metric.range_agg import duration_seconds
from logyard.logql.metric.series import StepMatrix

ADDITIVE_OPS = frozenset(f.name for f in FUNCTIONS if f.additive)


def additive_step_matrix(op: str, labels: Sequence[LabelSet], series_ids: np.ndarray, sample_ts: np.ndarray,
                         sample_values: np.ndarray, grid_ts: np.ndarray, range_ns: int, offset_ns: int = 0,
                         unwrap: bool = False, weights: np.ndarray | None = None) -> StepMatrix:
    """Same answers as `range_agg.range_step_matrix` for the additive ops; samples in any order.

    Windows are Loki's `(t - offset - range, t - offset]`; a window without samples is no point.
    `weights`: how many rows each sample stands for (`count_samples`: a count of rows between the
    same two edges), its value then being their sum; None: one each.
    """
    if op not in ADDITIVE_OPS:
        raise AssertionError(f"BUG: {op} is not additive")
    grid = np.asarray(grid_ts, dtype=np.int64)
    n_series, n_steps = len(labels), len(grid)
    if n_series == 0:
        return StepMatrix.empty(grid)
    hi = grid - offset_ns
    lo = hi - range_ns
    edges = np.unique(np.concatenate([lo, hi]))
    nb = len(edges) + 1
    bucket = np.searchsorted(edges, np.asarray(sample_ts, dtype=np.int64), side="left")
    key = np.asarray(series_ids, dtype=np.int64) * nb + bucket
    if weights is None:
        counts = np.bincount(key, minlength=n_series * nb).reshape(n_series, nb)
    else:  # int64 sums: exact (float64 sums of whole counts are exact below 2**53 too)
        counts = np.bincount(key, weights=weights, minlength=n_series * nb).astype(np.int64).reshape(n_series, nb)
    ccount = np.zeros((n_series, nb + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=ccount[:, 1:])
    hi_i = np.searchsorted(edges, hi) + 1
    lo_i = np.searchsorted(edges, lo) + 1
    n_in = ccount[:, hi_i] - ccount[:, lo_i]
    present = n_in > 0
    if op == "count_over_time" or (op == "rate" and not unwrap):
        total = n_in.astype(np.float64)
    else:
        vals = np.asarray(sample_values, dtype=np.float64)
        finite = np.isfinite(vals)
        if finite.all():
            total = _window_sums(key, vals, n_series, nb, hi_i, lo_i)
        else:
            total = _window_sums(key, np.where(finite, vals, 0.0), n_series, nb, hi_i, lo_i)
            total = _with_non_finite(total, key, vals, n_series, nb, hi_i, lo_i)
    if op in ("rate", "bytes_rate"):
        total = total / duration_seconds(range_ns)
    values = np.where(present, total, np.nan)
    return StepMatrix(tuple(labels), grid, values, present)


def _window_sums(key, weights, n_series, nb, hi_i, lo_i) -> np.ndarray:
    """Per series and step, the sum of `weights` in the window: a difference of cumulative sums."""
    sums = np.bincount(key, weights=weights, minlength=n_series * nb).reshape(n_series, nb)
    csum = np.zeros((n_series, nb + 1))
    np.cumsum(sums, axis=1, out=csum[:, 1:])
    return csum[:, hi_i] - csum[:, lo_i]


def _with_non_finite(total, key, vals, n_series, nb, hi_i, lo_i) -> np.ndarray:
    """Window sums as Loki adds each window's samples one by one (range_vector.go, sumOverTime):
    a NaN, or +Inf with -Inf, makes NaN; one kind of infinity wins over finite values. Counted
    apart from the cumulative sums, so an infinity that leaves the window leaves no NaN behind
    (Inf - Inf) in the windows after it."""
    def count(mask):
        return _window_sums(key, mask.astype(np.float64), n_series, nb, hi_i, lo_i) > 0

    pos, neg, nan = count(vals == np.inf), count(vals == -np.inf), count(np.isnan(vals))
    total = np.where(pos, np.inf, np.where(neg, -np.inf, total))
    return np.where(nan | (pos & neg), np.nan, total)
