"""Collecting a log query's entries: the first `limit` in time order, whatever the slicing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.logql.log_result import collect_entries, next_chunk
from logyard.logql.rows import Rows


class EveryNth:
    """A row stage stand-in: keeps rows whose line number is a multiple of `n`, counting rows run."""

    has_row_stages = True

    def __init__(self, n: int) -> None:
        self.n, self.rows_run = n, 0

    def per_row(self, rows: Rows) -> Rows:
        self.rows_run += len(rows)
        keep = np.array([int(s) % self.n == 0 for s in rows.line.to_pylist()], dtype=bool)
        return rows.take(keep)


def window(ts: list[int]) -> Rows:
    n = len(ts)
    return Rows(np.array(ts, dtype=np.int64), np.zeros(n, dtype=np.int64),
                pa.array([str(i) for i in range(n)]), pa.array([""] * n))


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(0, 3000), every=st.integers(1, 60), limit=st.integers(1, 400),
       backward=st.booleans(), seed=st.integers(0, 2**16))
def test_entries_are_the_first_limit_passing_rows_in_time_order(n_rows, every, limit, backward, seed):
    ts = np.random.default_rng(seed).integers(0, max(1, n_rows // 3), n_rows).tolist()  # with ties
    pipeline = EveryNth(every)
    parts = collect_entries([window(ts)], pipeline, limit, "backward" if backward else "forward")
    got = [(int(t), line) for p in parts for t, line in zip(p.ts, p.line.to_pylist())]
    order = np.argsort(np.array(ts, dtype=np.int64), kind="stable")
    if backward:
        order = order[::-1]
    expected = [(ts[i], str(i)) for i in order.tolist() if i % every == 0][:limit]
    assert got == expected


def test_row_stages_run_on_about_as_many_rows_as_the_limit_needs():
    pipeline = EveryNth(15)  # about the share of nginx lines a `status >= 500` filter keeps
    collect_entries([window(list(range(20_000)))], pipeline, 100, "backward")
    assert pipeline.rows_run < 2 * 15 * 100  # growing 4x a step it ran 5,376 rows


@pytest.mark.parametrize("chunk,seen,kept,remaining,expected", [
    (256, 256, 0, 100, 1024),          # nothing passed yet: grow 4x
    (512, 512, 34, 66, 1306),          # ~6.6 % pass: 66 more need ~1,000 rows, plus a margin
    (256, 256, 250, 5, 256),           # almost everything passes: never below 256
    (256, 256, 1, 99, 1024),           # a rate from one row is capped at 4x
])
def test_next_chunk_follows_the_pass_rate_seen(chunk, seen, kept, remaining, expected):
    assert next_chunk(chunk, seen, kept, remaining) == expected
