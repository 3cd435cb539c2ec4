"""Row operations agree with a plain-Python reference: selection, sort order and dedup."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.storage import rows as R

row_st = st.tuples(st.integers(0, 5), st.integers(0, 6), st.sampled_from(["a", "b", "c", "é", ""]))


def table_of(rows):
    s, t, l = zip(*rows) if rows else ((), (), ())
    return pa.table({"stream": pa.array(s, pa.int64()), "ts": pa.array(t, pa.int64()), "line": pa.array(l, pa.large_string())})


def as_rows(t):
    d = t.to_pydict()
    return list(zip(d["stream"], d["ts"], d["line"]))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row_st, max_size=60))
def test_sort_dedup_matches_sorted_set(rows):
    assert as_rows(R.sort_dedup(table_of(rows))) == sorted(set(rows))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row_st, max_size=60), ids=st.sets(st.integers(0, 7)), lo=st.integers(0, 7), hi=st.integers(0, 7))
def test_select_rows_matches_a_filter(rows, ids, lo, hi):
    t = R.sort_rows(table_of(rows))
    want = [r for r in as_rows(t) if r[0] in ids and lo <= r[1] < hi]
    assert as_rows(R.select_rows(t, np.array(sorted(ids), dtype=np.int64), lo, hi)) == want
    assert as_rows(R.select_rows(t, None, lo, hi)) == [r for r in as_rows(t) if lo <= r[1] < hi]


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(row_st, max_size=40))
def test_sort_rows_orders_by_stream_then_time(rows):
    got = as_rows(R.sort_rows(table_of(rows)))
    assert [r[:2] for r in got] == sorted(r[:2] for r in rows)
    assert sorted(got) == sorted(rows)
