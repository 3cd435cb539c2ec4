"""Retention and compaction keep answers right while the files change."""

from __future__ import annotations

import numpy as np

from logyard.storage import format as F
from tests.storage.conftest import HOUR, T0, A, push, random_pushes, rows

DAY = 24 * HOUR


def test_retention_deletes_only_blocks_entirely_older_than_the_period(make_store):
    now = [(T0 + 3 * DAY) / 1e9]
    s = make_store(retention_ns=2 * DAY, clock=lambda: now[0])
    s.append("t", [push({"app": "a"}, [T0 + 1, T0 + DAY + HOUR + 1, T0 + 2 * DAY + 1], ["old", "mid", "new"])])
    s.flush()
    assert s.apply_retention() == 1  # the window ending before now - 2 days
    ids = list(s.streams("t", [], T0, T0 + 3 * DAY))
    assert [r[2] for r in rows(s.read("t", ids, T0, T0 + 3 * DAY, direction="forward"))] == ["mid", "new"]
    assert s.label_values("t", "app", T0, T0 + HOUR) == []
    assert s.apply_retention() == 0
    s.files.empty_trash(force=True)
    assert len(list((s.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))) == 2


def snapshot(store, columns=("stream", "ts", "line", "meta", "len")):
    ids = list(store.streams("t", [], T0, T0 + 4 * HOUR))
    return [t.to_pydict() for t in store.read("t", ids, T0, T0 + 4 * HOUR, columns=columns)]


def test_compaction_keeps_answers_identical_and_leaves_one_block_per_window(make_store):
    s = make_store()
    for p in random_pushes(7):
        s.append("t", p)
        s.flush()
    before = snapshot(s), snapshot(s, ("stream", "ts", "len"))
    blocks = s.sizes()["blocks"]
    assert blocks > 3
    assert s.compact() == blocks
    assert s.sizes()["blocks"] == 3
    assert (snapshot(s), snapshot(s, ("stream", "ts", "len"))) == before
    assert s.compact() == 0  # settled windows are compacted once


def test_compaction_of_an_unsettled_window_merges_but_does_not_recompress(make_store):
    s = make_store(clock=lambda: T0 / 1e9 + 60)  # "now" is inside the first window
    s.append("t", [push({"app": "a"}, [T0 + 1], ["x"])])
    s.flush()
    assert s.compact() == 0
    s.append("t", [push({"app": "a"}, [T0 + 2], ["y"])])
    s.flush()
    assert s.compact() == 2
    assert [b.level for b in s._index.all_blocks()] == [0]


def test_compacted_blocks_survive_a_restart(make_store):
    s = make_store()
    for p in random_pushes(3, 3):
        s.append("t", p)
        s.flush()
    s.compact()
    before = snapshot(s)
    s.close()
    assert snapshot(make_store()) == before


def test_a_compaction_pass_leaves_the_index_journal_empty(make_store):
    s = make_store()
    for p in random_pushes(5, n_pushes=8):
        s.append("t", p)
        s.flush()
    journal = s.data_dir / (F.INDEX_FILE + "-wal")
    assert journal.stat().st_size > 0
    assert s.compact() > 0
    assert journal.stat().st_size == 0


def test_a_compaction_that_merged_blocks_calls_after_compaction(make_store):
    calls = []
    s = make_store(after_compaction=lambda: calls.append(1))
    for part in range(2):  # two flushed blocks of one window
        s.append("t", [push(A, T0 + (np.arange(100) * 2 + part) * 10**9, [f"l{part}-{i}" for i in range(100)])])
        s.flush()
    assert s.compact() == 2 and calls == [1]
    assert s.compact() == 0 and calls == [1]  # nothing merged: not called
