"""The Store: restarts (WAL replay, stable stream ids), tenants, flushes and back-pressure, the data
directory's lock and settings, and that it is the query engine's `LogSource`."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

from logyard.labels import LabelSet, Matcher
from logyard.logql.source import LogSource
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, A, abandon, ids_of, load_two_hours, push, rows


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


def test_sizes_follow_the_head_and_blocks(make_store):
    s = make_store()
    load_two_hours(s)
    z = s.sizes()
    assert (z["head_lines"], z["blocks"], z["streams"]) == (5, 0, 2) and z["wal_bytes"] > 100
    s.flush()
    z = s.sizes()
    assert (z["head_lines"], z["head_bytes"], z["blocks"]) == (0, 0, 2) and z["block_bytes"] > 0
    assert z["wal_bytes"] < 100  # segments covered by the blocks are gone


def test_streams_created_and_in_memory_follow_the_head_per_tenant(make_store):
    s = make_store()
    s.append("t", [push(A, [T0], ["a"]), push({"app": "b"}, [T0], ["b"])])
    s.append("t", [push(A, [T0 + 1], ["again"])])  # an existing stream is not created again
    s.append("u", [push(A, [T0], ["other tenant"])])
    assert (dict(s.streams_created), s.memory_streams()) == ({"t": 2, "u": 1}, {"t": 2, "u": 1})
    s.flush()
    assert s.memory_streams() == {}
    s.append("t", [push(A, [T0 + 2], ["after the flush"])])  # in memory again: created again, as in Loki
    assert (dict(s.streams_created), s.memory_streams()) == ({"t": 3, "u": 1}, {"t": 1})


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


def test_labels_given_to_append_come_back_unchanged(make_store):
    s = make_store()
    labels = {"app": "x", "weird": 'quo"te\n', "service_name": "x"}
    s.append("t", [push(labels, np.array([T0]), ["l"])])
    s.close()
    s2 = make_store()
    assert list(s2.streams("t", [], T0, T0 + 1).values()) == [LabelSet(labels.items())]


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
