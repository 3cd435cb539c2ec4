"""The sort-free additive range aggregations agree with the general windowed ones, point for point."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.labels import LabelSet
from logyard.logql.metric.additive import ADDITIVE_OPS, additive_step_matrix
from logyard.logql.metric.range_agg import range_step_matrix

S = 10**9


@pytest.mark.parametrize("op", sorted(ADDITIVE_OPS))
@pytest.mark.parametrize("range_s, step_s, offset_s", [(300, 60, 0), (60, 300, 0), (300, 300, 600), (90, 37, 5)])
def test_additive_matches_windowed_evaluation(op, range_s, step_s, offset_s):
    rng = np.random.default_rng(7)
    n = 5000
    ids = rng.integers(0, 4, n)
    ts = rng.integers(0, 7200 * S, n)
    ts[:20] = (np.arange(20) * 60) * S  # samples exactly on window edges
    vals = rng.random(n) * 100
    grid = np.arange(0, 7200 * S + 1, step_s * S, dtype=np.int64)
    labels = [LabelSet({"s": str(i)}.items()) for i in range(4)]
    got = additive_step_matrix(op, labels, ids, ts, vals, grid, range_s * S, offset_s * S)
    order = np.lexsort((ts, ids))
    want = range_step_matrix(op, labels, ids[order], ts[order], vals[order], grid, range_s * S, offset_s * S)
    assert np.array_equal(got.present, want.present)
    np.testing.assert_allclose(got.values[got.present], want.values[want.present], rtol=1e-9)


def test_samples_on_the_window_end_count_and_on_the_start_do_not():
    labels = [LabelSet()]
    grid = np.array([300 * S], dtype=np.int64)
    at_end = additive_step_matrix("count_over_time", labels, np.array([0, 0]), np.array([0, 300 * S]),
                                  np.ones(2), grid, 300 * S)
    assert at_end.values[0, 0] == 1.0


def test_an_infinity_leaving_the_window_leaves_no_nan_behind():
    # Loki sums each window's samples afresh (range_vector.go sumOverTime): once +Inf, -Inf or NaN
    # is out of the window, the sum is finite again; in it, NaN and Inf - Inf give NaN.
    s = 10**9
    ts = np.array([10, 20, 30, 100, 110, 200, 210, 300, 305, 310], dtype=np.int64) * s
    vals = np.array([1, np.inf, 2, -np.inf, 3, np.nan, 4, np.inf, -np.inf, 5])
    grid = np.array([10, 20, 50, 100, 110, 130, 200, 230, 300, 310, 334], dtype=np.int64) * s
    sm = additive_step_matrix("sum_over_time", [LabelSet()], np.zeros(len(ts), np.int64), ts, vals, grid,
                              25 * s, unwrap=True)
    want = [1, np.inf, 2, -np.inf, -np.inf, 3, np.nan, 4, np.inf, np.nan, 5]
    np.testing.assert_array_equal(sm.values[0], want)
    ordered = range_step_matrix("sum_over_time", [LabelSet()], np.zeros(len(ts), np.int64), ts, vals, grid,
                                25 * s, 0, None, unwrap=True)
    np.testing.assert_array_equal(ordered.values[0], want)
