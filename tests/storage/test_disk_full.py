"""A full disk fails the write that hit it and nothing else: the WAL stays as if it never happened."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from logyard.errors import LogyardError
from logyard.storage import format as F
from logyard.storage.store import Store
from logyard.storage.wal import Wal, build_record, encode_record, frame
from tests.storage.conftest import HOUR, T0, abandon, push, rows
from tests.support.mounts import fill, mounted_tmpfs


@pytest.fixture
def small_fs(tmp_path):
    with mounted_tmpfs(tmp_path / "fs", "2m") as mnt:
        yield mnt


def record(i: int, size: int = 3000) -> list:
    return frame(encode_record(build_record("t", [push({"app": "a"}, [T0 + i], [f"{i} " + "x" * size])])))


def store_on(path) -> Store:
    s = Store(path, clock=lambda: T0 / 1e9 + 86400)
    s.open()
    return s


def lines_of(store: Store, hours: int = 1) -> list[str]:
    ids = list(store.streams("t", [], T0, T0 + hours * HOUR))
    return [r[2].split(" ")[0] for r in rows(store.read("t", ids, T0, T0 + hours * HOUR, direction="forward"))]


def test_an_append_that_hits_a_full_disk_leaves_the_segment_at_the_last_good_record(small_fs):
    wal = Wal(small_fs / "wal")
    list(wal.replay())
    wal.start()
    (seg,) = [p for _, p in wal.segments()]
    good = len(F.WAL_SEGMENT_HEADER)
    fill(small_fs, leave=10_000)  # room for a few records, then ENOSPC in the middle of one
    acked = []
    for i in range(20):
        try:
            wal.append(record(i))
        except OSError as e:
            assert e.errno == errno.ENOSPC
            assert seg.stat().st_size == good  # the torn record is cut off again
            assert os.lseek(wal._fd, 0, os.SEEK_CUR) == good
            continue
        good += sum(memoryview(p).nbytes for p in record(i))
        acked.append(i)
    assert 0 < len(acked) < 20
    (small_fs / "filler").unlink()
    wal.append(record(99))
    wal.close()
    replayed = [r.batch.column("line")[0].as_py().split(" ")[0] for r in Wal(small_fs / "wal").replay()]
    assert replayed == [str(i) for i in acked] + ["99"]


def test_a_store_append_on_a_full_disk_answers_507_and_every_acknowledged_append_replays(small_fs):
    store = store_on(small_fs / "data")
    acked, failed = [], []
    store.append("t", [push({"app": "a"}, [T0], ["warmup"])])
    fill(small_fs, leave=20_000)
    for i in range(40):
        try:
            store.append("t", [push({"app": "a"}, [T0 + 1 + i], [f"{i} " + "x" * 3000])])
            acked.append(str(i))
        except LogyardError as e:
            assert e.status == 507 and "no space left on device" in e.message
            assert str(small_fs) not in e.message
            failed.append(i)
    assert acked and failed
    (small_fs / "filler").unlink()
    store.append("t", [push({"app": "a"}, [T0 + 100], ["after"])])
    abandon(store)  # kill -9
    store = store_on(small_fs / "data")
    try:
        assert lines_of(store) == ["warmup", *acked, "after"]
    finally:
        store.close()


def test_a_flush_on_a_full_disk_fails_and_keeps_the_wal_writable(small_fs):
    store = store_on(small_fs / "data")
    store.append("t", [push({"app": "a"}, [T0], ["before " + "x" * 2000])])
    segments = sorted(p.name for p in (small_fs / "data" / F.WAL_DIR).iterdir())
    fill(small_fs)
    with pytest.raises(LogyardError) as e:
        store.flush()
    assert e.value.status == 507 and str(small_fs) not in e.value.message
    # No header-less next segment, no half-written block left behind.
    assert sorted(p.name for p in (small_fs / "data" / F.WAL_DIR).iterdir()) == segments
    assert not [p for p in (small_fs / "data").rglob("*") if p.name.endswith((F.TMP_SUFFIX, F.BLOCK_SUFFIX))]
    (small_fs / "filler").unlink()
    store.append("t", [push({"app": "a"}, [T0 + 1], ["after"])])
    abandon(store)
    store = store_on(small_fs / "data")
    assert lines_of(store) == ["before", "after"]
    store.flush()
    store.append("t", [push({"app": "a"}, [T0 + 2], ["later"])])
    store.close()  # a clean shutdown: no "Bad file descriptor"
    store = store_on(small_fs / "data")
    try:
        assert lines_of(store) == ["before", "after", "later"]
    finally:
        store.close()


def test_a_flush_that_fails_writing_blocks_leaves_no_block_and_keeps_the_head_for_the_next_flush(small_fs):
    store = store_on(small_fs / "data")
    for w in range(3):  # three windows: three blocks, so some are written before the disk is full
        store.append("t", [push({"app": "a"}, T0 + w * HOUR + np.arange(100),
                                [f"w{w}-{i} " + "x" * 1000 for i in range(100)])])
    fill(small_fs, leave=150_000)  # room for a new WAL segment and a block, not for three
    with pytest.raises(LogyardError) as e:
        store.flush()
    assert e.value.status == 507
    assert not [p for p in (small_fs / "data").rglob("*") if p.name.endswith((F.TMP_SUFFIX, F.BLOCK_SUFFIX))]
    assert len(lines_of(store, 3)) == 300  # still served, from the frozen head
    (small_fs / "filler").unlink()
    store.flush()
    assert len(store._index.blocks("t")) == 3 and len(lines_of(store, 3)) == 300
    abandon(store)
    store = store_on(small_fs / "data")
    try:
        assert len(lines_of(store, 3)) == 300
    finally:
        store.close()
