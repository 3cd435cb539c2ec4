"""Retention and compaction keep answers right while the files change."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.storage import format as F
from logyard.storage.maintenance import compaction_due
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


def test_sizes_count_the_compacted_blocks_and_their_line_bytes(make_store):
    s = make_store()
    for p in random_pushes(3):
        s.append("t", p)
        s.flush()
    z = s.sizes()
    assert (z["compacted_block_bytes"], z["compacted_line_bytes"]) == (0, 0)
    line_bytes = sum(b.line_bytes for b in s._index.all_blocks())
    s.compact()
    z = s.sizes()
    assert z["compacted_block_bytes"] == z["block_bytes"] > 0
    assert z["compacted_line_bytes"] == line_bytes


# (seconds since the last pass, seconds since the last flush, compaction_interval, due)
COMPACTION_DUE = [
    (4, 3600, 600, False),   # passes are COMPACT_EVERY_S apart at least
    (6, 11, 600, True),      # ingest quiet for COMPACT_QUIET_S
    (6, 1, 600, False),      # ingest running: deferred
    (299, 1, 600, False),
    (300, 1, 600, True),     # deferred at most COMPACT_MAX_DEFER_S
    (29, 1, 30, False),
    (30, 1, 30, True),       # or compaction_interval when shorter
]


@pytest.mark.parametrize("since_pass,since_flush,interval,due", COMPACTION_DUE)
def test_compaction_waits_for_quiet_ingest_at_most_the_compaction_interval(since_pass, since_flush, interval, due):
    now = 10_000.0
    assert compaction_due(now, now - since_pass, now - since_flush, interval) is due


def test_a_compaction_pass_over_its_budget_leaves_the_later_windows_to_the_next_pass(make_store):
    s = make_store()
    for p in random_pushes(7):
        s.append("t", p)
        s.flush()
    windows = lambda: sorted({(b.window_start, b.level) for b in s._index.all_blocks()})  # noqa: E731
    starts = sorted({w for w, _ in windows()})
    assert len(starts) == 3
    first = s.maintenance.compact(budget_s=0)  # one window's merge, then the budget is spent
    assert first > 0 and windows() == [(starts[0], 1), (starts[1], 0), (starts[2], 0)]
    assert s.maintenance.compact(budget_s=0) > 0
    assert windows() == [(starts[0], 1), (starts[1], 1), (starts[2], 0)]
    assert s.maintenance.compact() > 0 and {lvl for _, lvl in windows()} == {1}


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


def test_each_merge_of_a_compaction_calls_after_compaction(make_store):
    """Once per merge, so that the memory one merge freed is returned before the next one runs."""
    calls = []
    s = make_store(after_compaction=lambda: calls.append(1))
    for part in range(2):  # two flushed blocks in each of two windows
        for hour in range(2):
            t = T0 + hour * 3600 * 10**9 + (np.arange(100) * 2 + part) * 10**9
            s.append("t", [push(A, t, [f"l{part}-{i}" for i in range(100)])])
        s.flush()
    assert s.compact() == 4 and calls == [1, 1]
    assert s.compact() == 0 and calls == [1, 1]  # nothing merged: not called
