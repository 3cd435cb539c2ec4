"""The Store's read and label APIs: round trips through head and blocks, directions, time bounds,
dedup across sources, restarts, column pruning and time-aware labels."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

from logyard.labels import LabelSet, Matcher
from logyard.logql.source import LogSource
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, abandon, push, rows

A = {"app": "api", "env": "prod"}
B = {"app": "db", "env": "dev"}


def load_two_hours(store):
    store.append("t", [push(A, [T0 + 1, T0 + 2, T0 + HOUR + 1], ["a1", "a2", "a3"]),
                       push(B, [T0 + 5, T0 + 5], ["b1", "b0"])])


def ids_of(store, *matchers, start=T0, end=T0 + 10 * HOUR):
    return sorted(store.streams("t", list(matchers), start, end))


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
    ]
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


def test_restart_replays_the_wal_into_the_head(make_store):
    s = make_store()
    load_two_hours(s)
    before = rows(s.read("t", ids_of(s), T0, T0 + 2 * HOUR))
    abandon(s)  # no flush, no clean close
    s2 = make_store()
    assert s2.sizes()["blocks"] == 0 and s2.sizes()["head_lines"] == 5
    assert rows(s2.read("t", ids_of(s2), T0, T0 + 2 * HOUR)) == before


def test_stream_ids_are_stable_across_restarts(make_store):
    s = make_store()
    load_two_hours(s)
    ids = s.streams("t", [], T0, T0 + 2 * HOUR)
    s.close()
    s2 = make_store()
    s2.append("t", [push({"app": "new"}, [T0 + 9], ["n"])])
    again = s2.streams("t", [], T0, T0 + 2 * HOUR)
    assert {k: again[k] for k in ids} == ids and len(again) == 3


def test_restart_after_flush_reads_blocks_and_does_not_duplicate(make_store):
    s = make_store()
    load_two_hours(s)
    s.flush()
    s.append("t", [push(A, [T0 + 7], ["later"])])
    abandon(s)
    s2 = make_store()
    assert len(rows(s2.read("t", ids_of(s2), T0, T0 + 2 * HOUR))) == 6


def test_tenants_are_isolated(make_store):
    s = make_store()
    load_two_hours(s)
    s.append("other", [push(A, [T0 + 1], ["mine"])])
    s.flush()
    (oid,) = s.streams("other", [], T0, T0 + HOUR)
    assert rows(s.read("other", [oid], T0, T0 + HOUR)) == [(oid, T0 + 1, "mine")]
    assert s.label_values("other", "app", T0, T0 + HOUR) == ["api"]


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


def test_index_stats_count_line_and_metadata_bytes_and_volume_line_bytes(make_store):
    s = make_store()
    s.append("t", [push(A, [T0 + 1, T0 + 2, T0 + HOUR], ["abc", "de", "f"], ['{"k":"v"}', "", ""])])
    s.flush()
    s.append("t", [push(A, [T0 + HOUR + 5], ["ghij"])])
    stats = s.index_stats("t", [Matcher("app", "=", "api")], T0, T0 + 2 * HOUR)
    assert stats == {"streams": 1, "chunks": 3, "bytes": 3 + 9 + 2 + 1 + 4, "entries": 4}
    ((labels, ts, nbytes),) = s.volume("t", [Matcher("app", "=", "api")], T0, T0 + 2 * HOUR, step_ns=HOUR)
    assert labels.get("app") == "api"
    assert ts.tolist() == [T0, T0 + HOUR] and nbytes.tolist() == [5, 5]
    ((_, ts1, total),) = s.volume("t", [], T0, T0 + 2 * HOUR)
    assert ts1.tolist() == [T0] and total.tolist() == [10]


def test_sizes_follow_the_head_and_blocks(make_store):
    s = make_store()
    load_two_hours(s)
    z = s.sizes()
    assert (z["head_lines"], z["blocks"], z["streams"]) == (5, 0, 2) and z["wal_bytes"] > 100
    s.flush()
    z = s.sizes()
    assert (z["head_lines"], z["head_bytes"], z["blocks"]) == (0, 0, 2) and z["block_bytes"] > 0
    assert z["wal_bytes"] < 100  # segments covered by the blocks are gone


def test_concurrent_appends_from_threads_all_land(make_store):
    s = make_store(head_max_bytes=4096)
    s.start_background()

    def worker(k):
        for i in range(50):
            s.append("t", [push({"app": f"w{k}"}, [T0 + i * 1000 + k], [f"{k}-{i}"])])
            if i % 17 == 0:
                s.maybe_flush()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.stop_background()
    got = rows(s.read("t", ids_of(s), T0, T0 + HOUR))
    assert sorted(r[2] for r in got) == sorted(f"{k}-{i}" for k in range(4) for i in range(50))
    assert s.sizes()["blocks"] >= 1


def test_an_append_past_the_back_pressure_bound_flushes_when_no_flush_runs(make_store):
    s = make_store(head_max_bytes=100)  # no background thread: nobody else flushes
    s.append("t", [push({"app": "a"}, [T0], ["x" * 50])])
    assert s.sizes()["head_lines"] == 1  # under the bound
    s.append("t", [push({"app": "a"}, [T0 + 1], ["y" * 100])])  # 150 bytes >= 1.25 x 100
    assert s.sizes()["head_lines"] == 0 and s.sizes()["blocks"] == 1


def test_an_append_past_the_back_pressure_bound_waits_for_the_flush_in_progress(make_store):
    s = make_store(head_max_bytes=100)
    s._flush_lock.acquire()  # a flush in progress
    done = threading.Event()
    t = threading.Thread(target=lambda: (s.append("t", [push({"app": "a"}, [T0], ["x" * 200])]), done.set()))
    t.start()
    try:
        assert not done.wait(0.5)  # held back while that flush runs
        assert s.sizes()["head_lines"] == 1  # the row is in (WAL and head) before the wait
    finally:
        s._flush_lock.release()
    assert done.wait(10)
    t.join()
    # It waited, and left the head to the (woken) flusher instead of flushing in the client's time.
    assert s.sizes()["head_lines"] == 1 and s.sizes()["blocks"] == 0


def test_maybe_flush_flushes_an_old_head(make_store):
    s = make_store(head_max_age_s=0.0)
    load_two_hours(s)
    s.maybe_flush()
    assert s.sizes()["head_lines"] == 0 and s.sizes()["blocks"] == 2


def test_read_of_no_streams_or_empty_range_yields_nothing(make_store):
    s = make_store()
    load_two_hours(s)
    assert list(s.read("t", [], T0, T0 + HOUR)) == []
    assert list(s.read("t", ids_of(s), T0 + 5, T0 + 5)) == []
    assert s.streams("nobody", [], T0, T0 + HOUR) == {}


def test_labels_given_to_append_come_back_unchanged(make_store):
    s = make_store()
    labels = {"app": "x", "weird": 'quo"te\n', "service_name": "x"}
    s.append("t", [push(labels, np.array([T0]), ["l"])])
    s.close()
    s2 = make_store()
    assert list(s2.streams("t", [], T0, T0 + 1).values()) == [LabelSet(labels.items())]


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


def test_a_replayed_head_over_the_size_limit_is_flushed_at_open(make_store):
    s = make_store()
    load_two_hours(s)
    abandon(s)
    s2 = make_store(head_max_bytes=10)
    assert s2.sizes()["head_lines"] == 0 and s2.sizes()["blocks"] == 2
    assert len(rows(s2.read("t", ids_of(s2), T0, T0 + 2 * HOUR))) == 5


def test_opening_a_data_dir_with_another_block_window_is_refused(make_store):
    from logyard.errors import ConfigError

    make_store().close()
    with pytest.raises(ConfigError, match="block_window_ns 1800000000000 differs from 3600000000000"):
        make_store(block_window_ns=HOUR // 2)


def test_a_data_dir_open_in_one_store_is_refused_to_another(make_store):
    from logyard.errors import ConfigError

    s = make_store()
    with pytest.raises(ConfigError, match="in use by another logyard process"):
        make_store()
    s.close()
    make_store()  # released on close


def first_by_ts(table_rows, limit, backward):
    """What a log query takes from a window: stable order by ts (reversed when backward), `limit`."""
    order = sorted(range(len(table_rows)), key=lambda i: table_rows[i][1])
    if backward:
        order.reverse()
    return [table_rows[i] for i in order[:limit]]


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


def test_decoded_row_groups_leave_the_cache_with_their_block_at_compaction(make_store, monkeypatch):
    from logyard.storage import block as B
    from logyard.storage import format as F

    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    s = make_store()
    for part in range(2):  # two flushed blocks of one window: compaction merges them
        s.append("t", [push(A, T0 + (np.arange(500) * 2 + part) * 10**9, [f"l{part}-{i}" for i in range(500)])])
        s.flush()
    before = first_by_ts(rows(s.read("t", ids_of(s), T0, T0 + HOUR, first=50)), 50, True)
    paths = {str(s.data_dir / b.path) for b in s._index.all_blocks()}
    assert any(key[0] in paths for key in B.DECODED._entries)
    s.compact()
    assert not any(key[0] in paths for key in B.DECODED._entries)
    assert first_by_ts(rows(s.read("t", ids_of(s), T0, T0 + HOUR, first=50)), 50, True) == before


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


def test_the_store_is_the_engines_log_source(make_store):
    s = make_store()
    source: LogSource = s  # what the engine is given (logql/source.py)
    assert isinstance(source, LogSource)
    members = [n for n in vars(LogSource) if not n.startswith("_")]
    assert sorted(members) == ["head_lines", "read", "streams", "window_ns"]
    for name in members:  # same parameters, kinds, defaults and annotations as the protocol declares
        declared = getattr(LogSource, name)
        if isinstance(declared, property):
            assert isinstance(getattr(source, name), int)
            continue
        assert inspect.signature(getattr(Store, name)) == inspect.signature(declared), name
    load_two_hours(s)
    assert (source.window_ns, source.head_lines()) == (HOUR, 5)
    streams = source.streams("t", [Matcher("app", "=", "api")], T0, T0 + 2 * HOUR)
    assert [ls.get("app") for ls in streams.values()] == ["api"]
    tables = list(source.read("t", list(streams), T0, T0 + 2 * HOUR, direction="forward", columns=("ts", "line")))
    assert [t.column_names for t in tables] == [["ts", "line"]] * 2
    assert [r[1] for r in rows(tables, ("ts", "line"))] == ["a1", "a2", "a3"]
