"""Reads (storage/reads.py): round trips through head and blocks, directions, time bounds, dedup
across sources, column pruning, first-rows reads and time-aware label APIs."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest

from logyard.labels import Matcher
from tests.storage.conftest import HOUR, T0, A, B, first_by_ts, ids_of, load_two_hours, push, rows


@pytest.mark.parametrize("flushed", [False, True])
def test_read_returns_windows_newest_first_for_backward(make_store, flushed):
    s = make_store()
    load_two_hours(s)
    if flushed:
        s.flush()
    a, b = ids_of(s, Matcher("app", "=", "api")), ids_of(s, Matcher("app", "=", "db"))
    tables = list(s.read("t", a + b, T0, T0 + 2 * HOUR))
    assert [rows([t]) for t in tables] == [
        [(a[0], T0 + HOUR + 1, "a3")],
        [(a[0], T0 + 1, "a1"), (a[0], T0 + 2, "a2"), (b[0], T0 + 5, "b0"), (b[0], T0 + 5, "b1")],
    ]  # streams in the order of their labels (app=api, app=db), each by ts: not by id (ids are hashes)
    forward = list(s.read("t", a + b, T0, T0 + 2 * HOUR, direction="forward"))
    assert [rows([t]) for t in forward] == [rows([t]) for t in reversed(tables)]


@pytest.mark.parametrize("flushed", [False, True])
@pytest.mark.parametrize("start,end,expected", [
    (T0 + 1, T0 + 2, ["a1"]),            # start inclusive, end exclusive
    (T0 + 2, T0 + HOUR + 2, ["a2", "a3"]),
    (T0 + 3, T0 + HOUR + 1, []),
])
def test_read_keeps_only_rows_in_start_inclusive_end_exclusive(make_store, flushed, start, end, expected):
    s = make_store()
    load_two_hours(s)
    if flushed:
        s.flush()
    a = ids_of(s, Matcher("app", "=", "api"))
    assert [r[2] for r in rows(s.read("t", a, start, end, direction="forward"))] == expected


@pytest.mark.parametrize("columns", [("stream", "ts", "line", "meta"), ("stream", "ts"), ("ts", "len", "meta")])
def test_exact_duplicates_appear_once_across_head_and_blocks(make_store, columns):
    s = make_store()
    s.append("t", [push(A, [T0 + 1, T0 + 1, T0 + 2], ["x", "x", "y"])])
    s.flush()
    s.append("t", [push(A, [T0 + 1, T0 + 2, T0 + 2], ["x", "y", "z"])])  # x and y again, z new
    s.flush()
    s.append("t", [push(A, [T0 + 2, T0 + 3], ["z", "w"])])  # z again, in the head
    a = ids_of(s)
    got = list(s.read("t", a, T0, T0 + HOUR, columns=columns))
    assert [t.column_names for t in got] == [list(columns)]
    assert got[0].column("ts").to_pylist() == [T0 + 1, T0 + 2, T0 + 2, T0 + 3]
    if "line" in columns:
        assert got[0].column("line").to_pylist() == ["x", "y", "z", "w"]


def test_len_is_the_utf8_byte_length_and_meta_is_kept(make_store):
    s = make_store()
    s.append("t", [push(A, [T0 + 1, T0 + 2], ["héllo", "日本"], ['{"trace_id":"ab"}', ""])])
    for flushed in (False, True):
        (t,) = s.read("t", ids_of(s), T0, T0 + HOUR, columns=("line", "len", "meta"))
        assert t.column("len").to_pylist() == [6, 6]
        assert t.column("meta").to_pylist() == ['{"trace_id":"ab"}', ""]
        s.flush()


@pytest.mark.parametrize("matchers,expected", [
    ([Matcher("app", "=", "api")], ["api"]),
    ([Matcher("app", "=~", "api|db")], ["api", "db"]),
    ([Matcher("env", "!=", "prod")], ["db"]),
    ([Matcher("missing", "=", "")], ["api", "db"]),  # a missing label matches as ""
    ([Matcher("missing", "!~", ".+"), Matcher("app", "!~", "d.*")], ["api"]),
])
def test_streams_match_with_prometheus_semantics(make_store, matchers, expected):
    s = make_store()
    load_two_hours(s)
    got = s.streams("t", matchers, T0, T0 + 2 * HOUR)
    assert sorted(ls.get("app") for ls in got.values()) == expected


@pytest.mark.parametrize("flushed", [False, True])
def test_label_apis_only_see_streams_with_data_in_the_window(make_store, flushed):
    s = make_store()
    s.append("t", [push(A, [T0 + 1], ["a"]), push({**B, "extra": "x"}, [T0 + HOUR + 1], ["b"])])
    if flushed:
        s.flush()
    first, second = (T0, T0 + HOUR), (T0 + HOUR, T0 + 2 * HOUR)
    assert s.label_names("t", *first) == ["app", "env", "service_name"]
    assert s.label_names("t", *second) == ["app", "env", "extra", "service_name"]
    assert s.label_values("t", "app", *first) == ["api"]
    assert s.label_values("t", "app", T0, T0 + 2 * HOUR) == ["api", "db"]
    assert s.label_values("t", "app", T0, T0 + 2 * HOUR, [Matcher("env", "=", "dev")]) == ["db"]
    assert s.label_values("t", "extra", *first) == []
    assert [ls.get("app") for ls in s.series("t", [[Matcher("app", "=", "db")], [Matcher("env", "=", "prod")]], T0, T0 + 2 * HOUR)] == ["api", "db"]
    assert s.series("t", [[Matcher("app", "=", "db")]], *first) == []


def test_index_stats_and_volume_count_the_line_bytes_in_the_window(make_store):
    s = make_store()
    s.append("t", [push(A, [T0 + 1, T0 + 2, T0 + HOUR], ["abc", "de", "f"], ['{"k":"v"}', "", ""])])
    s.flush()
    s.append("t", [push(A, [T0 + HOUR + 5], ["ghij"])])
    stats = s.index_stats("t", [Matcher("app", "=", "api")], T0, T0 + 2 * HOUR)
    assert stats == {"streams": 1, "chunks": 3, "bytes": 3 + 2 + 1 + 4, "entries": 4}
    # A window cutting a block counts only the rows inside it (the block still counts as a chunk).
    assert s.index_stats("t", [Matcher("app", "=", "api")], T0 + 2, T0 + 2 * HOUR) == {
        "streams": 1, "chunks": 3, "bytes": 2 + 1 + 4, "entries": 3}
    ((labels, ts, nbytes),) = s.volume("t", [Matcher("app", "=", "api")], T0, T0 + 2 * HOUR, step_ns=HOUR)
    assert labels.get("app") == "api"
    assert ts.tolist() == [T0, T0 + HOUR] and nbytes.tolist() == [5, 5]
    ((_, ts1, total),) = s.volume("t", [], T0, T0 + 2 * HOUR)
    assert ts1.tolist() == [T0] and total.tolist() == [10]


def test_volume_buckets_are_multiples_of_the_step_since_the_epoch(make_store):
    """Loki's volume_range splits the range with util.ForInterval: buckets start at multiples of the
    step, the first one cut at the query's start; a line counts in the bucket of its timestamp."""
    s = make_store()
    m = 60 * 10**9
    s.append("t", [push(A, [T0 + m // 2, T0 + m + 1, T0 + 2 * m + 1], ["aaaaaaaaaa", "bbbbb", "ccc"])])
    ((_, ts, nbytes),) = s.volume("t", [], T0 + m // 3, T0 + 4 * m, step_ns=m)
    assert ts.tolist() == [T0, T0 + m, T0 + 2 * m] and nbytes.tolist() == [10, 5, 3]


@pytest.mark.parametrize("flush_between", [False, True])
def test_entries_differing_only_in_metadata_survive_reads_and_a_retry_does_not_double(make_store, flush_between):
    s = make_store()
    s.append("t", [push(A, [T0 + 1, T0 + 1], ["same", "same"], ['{"pod":"p1"}', '{"pod":"p2"}'])])
    if flush_between:
        s.flush()  # the retry then meets its first copy across a block and the head
    s.append("t", [push(A, [T0 + 1], ["same"], ['{"pod":"p2"}'])])
    ids = list(s.streams("t", [], T0, T0 + HOUR))
    for columns in [("stream", "ts", "line", "meta"), ("stream", "ts")]:
        got = pa.concat_tables(list(s.read("t", ids, T0, T0 + HOUR, columns=columns)))
        assert got.num_rows == 2
    got = pa.concat_tables(list(s.read("t", ids, T0, T0 + HOUR))).column("meta").to_pylist()
    assert sorted(str(m) for m in got) == ['{"pod":"p1"}', '{"pod":"p2"}']


def test_read_of_no_streams_or_empty_range_yields_nothing(make_store):
    s = make_store()
    load_two_hours(s)
    assert list(s.read("t", [], T0, T0 + HOUR)) == []
    assert list(s.read("t", ids_of(s), T0 + 5, T0 + 5)) == []
    assert s.streams("nobody", [], T0, T0 + HOUR) == {}


def test_line_contains_skips_compacted_row_groups_without_the_substring(make_store, monkeypatch):
    from logyard.storage import format as F

    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    s = make_store()
    lines = [f"ordinary line number {i}" for i in range(1000)]
    lines[555] += " ref=xq7-needle-5150"
    s.append("t", [push(A, T0 + np.arange(1000), lines)])
    s.flush()
    s.compact()  # compacted blocks carry the trigram bitmaps
    ids = ids_of(s)
    hinted = rows(s.read("t", ids, T0, T0 + HOUR, line_contains=["xq7-needle-5150"]))
    assert 0 < len(hinted) <= 100 and any("xq7-needle-5150" in r[2] for r in hinted)
    assert len(rows(s.read("t", ids, T0, T0 + HOUR, line_contains=["ab"]))) == 1000  # too short to prune
    assert rows(s.read("t", ids, T0, T0 + HOUR, line_contains=["no such text here"])) == []


def test_reads_stay_exact_while_duplicates_are_flushed_and_compacted(make_store):
    s = make_store()
    batch = [push(A, T0 + np.arange(300) * 10**9, [f"l{i}" for i in range(300)]),
             push(B, T0 + HOUR + np.arange(200) * 10**9, [f"m{i}" for i in range(200)])]
    s.append("t", batch)
    ids = ids_of(s)
    expected = rows(s.read("t", ids, T0, T0 + 2 * HOUR))
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            s.append("t", batch)  # exact duplicates: the answer must not change
            s.flush()
            s.compact()

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(30):
            assert rows(s.read("t", ids, T0, T0 + 2 * HOUR)) == expected
            assert len(rows(s.read("t", ids, T0, T0 + 2 * HOUR, columns=("stream", "ts")), ("stream", "ts"))) == 500
    finally:
        stop.set()
        t.join()


def load_duplicates_and_ties(s):
    """Three streams over two windows: two flushed blocks per window sharing rows, ties in ts,
    and a head that repeats some block rows and adds new ones."""
    c = {"app": "cache", "env": "prod"}
    ts_a = T0 + np.repeat(np.arange(40), 2) * 10**9  # pairs of equal timestamps
    a_lines = [f"a{i}" for i in range(80)]
    b_ts = T0 + np.arange(60) * 10**9 + 5
    s.append("t", [push(A, ts_a, a_lines), push(B, b_ts, [f"b{i}" for i in range(60)])])
    s.flush()
    s.append("t", [push(A, ts_a[40:], a_lines[40:]), push(c, T0 + HOUR + np.arange(30) * 10**9, [f"c{i}" for i in range(30)])])
    s.flush()
    s.append("t", [push(B, b_ts[50:], [f"b{i}" for i in range(50, 60)]),
                   push(c, T0 + HOUR + np.arange(25, 35) * 10**9, [f"c{i}" for i in range(25, 35)]),
                   push(A, T0 + np.array([79, 79]) * 10**9, ["late", "later"])])


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50, 1000])
@pytest.mark.parametrize("direction", ["backward", "forward"])
@pytest.mark.parametrize("end", [T0 + 2 * HOUR, T0 + 30 * 10**9])
def test_a_first_rows_read_gives_a_limit_the_rows_of_a_full_read(make_store, monkeypatch, limit, direction, end):
    from logyard.storage import format as F

    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 7)
    s = make_store()
    load_duplicates_and_ties(s)
    ids = ids_of(s)
    cols = ("stream", "ts", "line", "meta")
    full = [rows([t]) for t in s.read("t", ids, T0, end, direction=direction, columns=cols)]
    hinted = [rows([t]) for t in s.read("t", ids, T0, end, direction=direction, columns=cols, first=limit)]
    assert len(hinted) == len(full)
    for h, f in zip(hinted, full):
        assert [r for r in f if r in set(h)] == h  # a subset, sorted and free of duplicates as the full read
        assert first_by_ts(h, limit, direction == "backward") == first_by_ts(f, limit, direction == "backward")


@pytest.mark.parametrize("end, expected_reads, last", [
    (T0 + HOUR, [(list(range(10)), ["stream", "ts"]), ([8], ["line", "meta"]), ([9], ["line", "meta"])], 999),
    (T0 + 900 * 10**9, [(list(range(9)), ["stream", "ts"]), ([7], ["line", "meta"]), ([8], ["line", "meta"])], 899),
])
def test_a_first_rows_read_decodes_lines_only_of_the_row_groups_it_needs(make_store, monkeypatch, end,
                                                                          expected_reads, last):
    from logyard.storage import format as F
    from logyard.storage.block import BlockReader

    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    s = make_store()
    s.append("t", [push(A, T0 + np.arange(1000) * 10**9, [f"l{i}" for i in range(1000)])])
    s.flush()
    reads = []
    orig = BlockReader.read

    def spy(self, row_groups, columns, pf=None):
        reads.append((list(row_groups), list(columns)))
        return orig(self, row_groups, columns, pf)

    monkeypatch.setattr(BlockReader, "read", spy)
    got = rows(s.read("t", ids_of(s), T0, end, first=150))
    assert [r[2] for r in got] == [f"l{i}" for i in range(last - 149, last + 1)]
    assert reads == expected_reads
    # The same read again finds those row groups decoded: only stream and ts are read.
    reads.clear()
    assert rows(s.read("t", ids_of(s), T0, end, first=150)) == got
    assert reads == expected_reads[:1]


@pytest.mark.parametrize("seed", range(12))
def test_first_rows_reads_agree_with_full_reads_on_random_data(make_store, monkeypatch, seed):
    from logyard.storage import format as F

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", int(rng.integers(2, 20)))
    s = make_store()
    for part in range(3):  # two flushed blocks per window sharing rows, then the head
        batch = []
        for k in range(int(rng.integers(1, 5))):
            n = int(rng.integers(1, 60))
            ts = T0 + rng.integers(0, 2 * HOUR // 10**9, n) * 10**9  # seconds: many ties
            batch.append(push({"app": f"s{k}"}, ts, [f"l{int(x) % 7}" for x in rng.integers(0, 100, n)]))
        s.append("t", batch)
        if part < 2:
            s.flush()
    ids = ids_of(s)
    lo = T0 + int(rng.integers(0, HOUR)) * (seed % 2)
    hi = T0 + 2 * HOUR - int(rng.integers(0, HOUR)) * (seed % 3 == 0)
    for direction in ("backward", "forward"):
        full = [rows([t]) for t in s.read("t", ids, lo, hi, direction=direction)]
        for limit in (1, 2, 5, 17, 200):
            hinted = [rows([t]) for t in s.read("t", ids, lo, hi, direction=direction, first=limit)]
            assert len(hinted) == len(full)
            for h, f in zip(hinted, full):
                assert first_by_ts(h, limit, direction == "backward") == first_by_ts(f, limit, direction == "backward")
