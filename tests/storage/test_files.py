"""Block files (storage/files.py): open readers closed with their blocks, discarded files kept for
the reads that may still use them, orphans removed at open."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.storage import format as F
from tests.storage.conftest import HOUR, T0, A, first_by_ts, ids_of, push, random_pushes, rows


def test_decoded_row_groups_leave_the_cache_with_their_block_at_compaction(make_store, monkeypatch):
    from logyard.storage import block as B

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


def test_open_removes_block_files_the_index_does_not_know(make_store):
    s = make_store()
    s.append("t", [push({"app": "a"}, [T0 + 1], ["x"])])
    s.close()
    stray = s.data_dir / F.BLOCKS_DIR / "t" / "stray.parquet"
    tmp = s.data_dir / F.BLOCKS_DIR / "t" / ("half" + F.BLOCK_SUFFIX + F.TMP_SUFFIX)
    stray.write_bytes(b"x")
    tmp.write_bytes(b"y")
    s2 = make_store()
    assert not stray.exists() and not tmp.exists()
    assert s2.sizes()["blocks"] == 1


def block_files(store) -> set:
    return set((store.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))


def test_replaced_blocks_are_deleted_once_no_read_that_listed_them_is_running(make_store):
    s = make_store()
    for p in random_pushes(3, n_pushes=2):
        s.append("t", p)
        s.flush()
    old = block_files(s)
    ids = list(s.streams("t", [], T0, T0 + 4 * HOUR))
    reading = s.read("t", ids, T0, T0 + 4 * HOUR, direction="forward")
    first = next(reading)  # the read has listed the flushed blocks
    assert s.compact() == len(old)
    s.files.empty_trash()
    assert old <= block_files(s)  # kept for the unfinished read, which still sees every row
    later = [first, *reading]
    assert sum(t.num_rows for t in later) == sum(t.num_rows for t in s.read("t", ids, T0, T0 + 4 * HOUR))
    s.files.empty_trash()  # the read ended: no grace period to wait for
    assert not old & block_files(s)


def test_reads_started_after_a_compaction_do_not_keep_its_replaced_blocks(make_store):
    s = make_store()
    for p in random_pushes(4, n_pushes=2):
        s.append("t", p)
        s.flush()
    old = block_files(s)
    s.compact()
    ids = list(s.streams("t", [], T0, T0 + 4 * HOUR))
    reading = s.read("t", ids, T0, T0 + 4 * HOUR)
    next(reading)
    s.files.empty_trash()
    assert not old & block_files(s)
    reading.close()


@pytest.fixture
def two_flushed_blocks(tmp_path):
    """A store (a day after T0) with two flushed blocks of one window: compaction merges them."""
    from logyard.ingest.model import PushStream
    from logyard.labels import LabelSet
    from logyard.storage.store import Store

    s = Store(tmp_path / "data", clock=lambda: T0 / 1e9 + 86400)
    s.open()
    try:
        labels = LabelSet({"app": "a", "service_name": "a"}.items())
        for k in range(2):
            s.append("t", [PushStream(labels, np.array([T0 + k], np.int64), [f"l{k}"], [""])])
            s.flush()
        yield s
    finally:
        s.close()


def test_compaction_closes_the_files_of_the_blocks_it_replaced(two_flushed_blocks):
    from logyard.storage import block

    s = two_flushed_blocks
    ids = sorted(s.streams("t", [], T0, T0 + 10))
    assert sum(t.num_rows for t in s.read("t", ids, T0, T0 + 10)) == 2
    old = [s.files._readers[b.path] for b in s._index.blocks("t")]
    assert all(r in block._idle for r in old)
    s.compact()
    assert not any(r in block._idle for r in old)


def test_a_block_reopened_by_a_read_that_listed_it_before_compaction_is_closed_with_the_trash(two_flushed_blocks):
    from logyard.storage import block

    s = two_flushed_blocks
    listed = s._index.blocks("t")  # what a read in progress saw
    s.compact()
    late = s.files.reader(listed[0])  # that read opens a discarded block
    late.read([0], ["ts"])
    assert late in block._idle
    s.files.empty_trash()
    assert late not in block._idle and not (s.data_dir / listed[0].path).exists()
