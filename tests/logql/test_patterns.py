"""Patterns over a column of lines: every line counted once, per step."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.logql.patterns import cluster_lines, level_of, step_buckets


def test_every_line_is_counted_by_one_cluster_even_when_trained_on_a_sample():
    lines = [f"request {i} served in {i % 7}ms by worker {i % 3}" for i in range(5000)]
    lines += [f"cache miss for key k{i}" + " x" * 2 for i in range(1000)]
    ids, drain = cluster_lines(pa.array(lines, pa.large_string()), "unknown", sample=200)
    assert (ids > 0).all()
    counts = {drain.clusters[c].pattern: n for c, n in zip(*np.unique(ids, return_counts=True))}
    assert counts == {"request <_> served in <_> by worker <_>": 5000, "cache miss for key <_> x x": 1000}


def test_lines_no_cluster_takes_are_left_uncounted():
    ids, _ = cluster_lines(pa.array(["a b", "c"], pa.large_string()), "unknown")
    assert (ids == 0).all()


def test_levels_are_lower_cased_and_unknown_ones_filed_as_unknown():
    assert level_of((("detected_level", "ERROR"),)) == "error"
    assert level_of((("detected_level", "notice"),)) == "unknown"
    assert level_of(()) == "unknown"


def test_samples_are_stamped_at_the_start_of_their_step_in_seconds():
    ts = np.array([1_000_000_000_000, 1_059_000_000_000, 1_060_000_000_000], dtype=np.int64)
    assert step_buckets(ts, 60 * 10**9).tolist() == [960, 1020, 1020]
