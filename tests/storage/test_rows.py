"""Row operations agree with a plain-Python reference: selection, sort order and dedup."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.labels import LabelSet
from logyard.storage import rows as R
from logyard.storage._gather import copy_rows

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


meta_row_st = st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["a", "b"]),
                        st.sampled_from(["", '{"pod":"p1"}', '{"pod":"p2"}']))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(meta_row_st, max_size=40), dictionary=st.booleans())
def test_entries_differing_only_in_metadata_are_both_kept(rows, dictionary):
    """Loki keeps two entries with the same timestamp and line but different structured metadata
    (pkg/iter mergeEntryIterator: duplicates are identical in timestamp, line AND metadata)."""
    s, t, l, m = zip(*rows) if rows else ((), (), (), ())
    meta = pa.array(m, pa.string())
    table = pa.table({"stream": pa.array(s, pa.int64()), "ts": pa.array(t, pa.int64()),
                      "line": pa.array(l, pa.large_string()),
                      "meta": meta.dictionary_encode() if dictionary else meta})
    d = R.sort_dedup(table).to_pydict()
    got = [(a, b, c, str(x)) for a, b, c, x in zip(d["stream"], d["ts"], d["line"], d["meta"])]
    assert got == sorted(set(rows))


def test_a_retried_push_is_kept_once_and_a_metadata_variant_beside_it():
    table = pa.table({"stream": pa.array([1, 1, 1], pa.int64()), "ts": pa.array([5, 5, 5], pa.int64()),
                      "line": pa.array(["x", "x", "x"], pa.large_string()),
                      "meta": pa.array(['{"pod":"p1"}', '{"pod":"p2"}', '{"pod":"p1"}'])})
    assert R.sort_dedup(table).column("meta").to_pylist() == ['{"pod":"p1"}', '{"pod":"p2"}']


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


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row_st, max_size=60), names=st.permutations(["web", "db", "cache", "api", "queue", "auth"]))
def test_sort_dedup_by_label_ranks_orders_streams_by_their_labels(rows, names):
    """Blocks keep streams in the order of their label sets, not of their (hashed) ids."""
    labels = {sid: LabelSet([("app", n)]) for sid, n in enumerate(names)}
    t = table_of(rows)
    got = as_rows(R.sort_dedup(t, R.label_ranks(R._np(t.column("stream")), labels.__getitem__)))
    assert got == sorted(set(rows), key=lambda r: (labels[r[0]], r[1], r[2]))


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.lists(st.text(max_size=6), max_size=8), min_size=1, max_size=4),
       large=st.booleans(), data=st.data())
def test_take_strings_matches_arrow_take_across_chunks(chunks, large, data):
    typ = pa.large_string() if large else pa.string()
    col = pa.chunked_array([pa.array(c, typ) for c in chunks], typ)
    flat = [x for c in chunks for x in c]
    order = data.draw(st.lists(st.integers(0, max(0, len(flat) - 1)), max_size=20)) if flat else []
    got = R.take_strings(col, np.array(order, dtype=np.int64))
    assert got.type == pa.large_string() and got.to_pylist() == [flat[i] for i in order]


def test_take_strings_reads_sliced_arrays_from_their_offset():
    arr = pa.array(["zero", "one", "two", "three"]).slice(1, 3)
    assert R.take_strings(arr, np.array([2, 0, 1])).to_pylist() == ["three", "one", "two"]


def test_take_strings_refuses_rows_outside_the_column_instead_of_reading_past_it():
    col = pa.chunked_array([pa.array(["a", "b"]), pa.array(["c"])])
    prepared = R._Strings(col)
    with pytest.raises(IndexError):
        prepared.take(np.array([0, 3]))  # NumPy wraps -1 but refuses 3 itself, before the copy
    out = np.empty(4, np.uint8)
    with pytest.raises(IndexError, match="out of range"):
        copy_rows(out, np.array([0, 1, 2]), prepared.datas, prepared.chunk_of, prepared.start, np.array([0, -1]))
    with pytest.raises(IndexError, match="out of range"):
        copy_rows(out, np.array([0, 9]), prepared.datas, prepared.chunk_of, prepared.start, np.array([0]))
    with pytest.raises(ValueError, match="lengths disagree"):
        copy_rows(out, np.array([0, 1]), prepared.datas, prepared.chunk_of, prepared.start, np.array([0, 1]))


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 1 << 20),
                               st.one_of(st.integers(-50, 50), st.integers(-(1 << 62), 1 << 62))), max_size=50),
       with_major=st.booleans())
def test_packed_key_order_is_the_stable_lexsort_order(keys, with_major):
    major, stream, ts = (np.array(k, dtype=np.int64) for k in (zip(*keys) if keys else ((), (), ())))
    want = np.lexsort((ts, stream, major) if with_major else (ts, stream))
    assert R._key_order(stream, ts, major if with_major else None).tolist() == want.tolist()


def first_by_ts(rows, limit, backward):
    """What a log query takes from a window: stable order by ts (reversed when backward), `limit`."""
    order = sorted(range(len(rows)), key=lambda i: rows[i][1])
    if backward:
        order.reverse()
    return [rows[i] for i in order[:limit]]


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row_st, max_size=60), limit=st.integers(0, 70), backward=st.booleans())
def test_first_rows_keep_what_a_limit_takes_in_order(rows, limit, backward):
    t = R.sort_dedup(table_of(rows))
    got = as_rows(R.first_rows(t, limit, backward))
    full = as_rows(t)
    assert [r for r in full if r in set(got)] == got  # a subset, in the table's order
    assert first_by_ts(got, limit, backward) == first_by_ts(full, limit, backward)


def test_first_rows_keep_every_row_tied_with_the_last_one_taken():
    t = table_of([(1, 5, "a"), (1, 7, "b"), (2, 7, "c"), (3, 9, "d")])
    assert as_rows(R.first_rows(t, 2, backward=True)) == [(1, 7, "b"), (2, 7, "c"), (3, 9, "d")]
    assert as_rows(R.first_rows(t, 2, backward=False)) == [(1, 5, "a"), (1, 7, "b"), (2, 7, "c")]


def test_take_few_re_encodes_metadata_over_the_rows_own_values():
    big = pa.array([f"m{i}" for i in range(1000)]).dictionary_encode()
    t = pa.Table.from_arrays([pa.chunked_array([big.slice(0, 10), big.slice(500, 5)]),
                              pa.chunked_array([pa.array(range(15), pa.int64())])], names=["meta", "n"])
    out = R.take_few(t, np.array([3, 4, 11]))
    assert [out.column(c).num_chunks for c in ("meta", "n")] == [1, 1]
    assert out.to_pydict() == {"meta": ["m3", "m4", "m501"], "n": [3, 4, 11]}
    assert len(out.column("meta").chunk(0).dictionary) == 3
    assert R.take_few(t, np.array([], np.int64)).num_rows == 0
