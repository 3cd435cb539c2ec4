"""Damage in one place costs only what it damaged: a WAL replay keeps every record before a bad one,
a damaged block is quarantined and reads answer from the rest, a lost index is rebuilt from blocks."""

from __future__ import annotations

import logging

import pytest

from logyard.labels import Matcher
from logyard.storage import format as F
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, abandon, push, rows

CLOCK = T0 / 1e9 + 2 * 86400


def open_store(data) -> Store:
    s = Store(data, clock=lambda: CLOCK)
    s.open()
    return s


def lines(store: Store, tenant: str = "t") -> list[str]:
    ids = list(store.streams(tenant, [], T0, T0 + 3 * HOUR))
    return sorted(r[2] for r in rows(store.read(tenant, ids, T0, T0 + 3 * HOUR, direction="forward")))


def append(store: Store, name: str, ts: int, app: str = "a", tenant: str = "t") -> None:
    store.append(tenant, [push({"app": app}, [ts], [name + " " + "x" * 100])])


def inside_the_line_pages(block) -> int:
    """An offset in the middle of the first row group's `line` column chunk (which every log query reads)."""
    import pyarrow.parquet as pq

    col = pq.read_metadata(block).row_group(0).column(F.BLOCK_COLUMNS.index("line"))
    return col.data_page_offset + col.total_compressed_size // 2


def flip(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damaged", [1, 2], ids=["sealed-segment", "last-segment"])
def test_wal_replay_keeps_every_record_before_the_damage_and_reports_what_it_skipped(tmp_path, caplog, damaged):
    data = tmp_path / "data"
    store = open_store(data)
    for seg in range(3):
        for i in range(3):
            append(store, f"s{seg}r{i}", T0 + seg * 10 + i)
        if seg < 2:
            store._wal.rotate()
    abandon(store)
    segs = sorted((data / F.WAL_DIR).iterdir())
    assert len(segs) == 3
    # Damage the second record of one segment (its payload, so its CRC no longer matches).
    record_size = (segs[0].stat().st_size - len(F.WAL_SEGMENT_HEADER)) // 3
    offset = len(F.WAL_SEGMENT_HEADER) + record_size
    flip(segs[damaged], offset + 40)
    with caplog.at_level(logging.WARNING, logger="logyard.storage"):
        store = open_store(data)
    got = [line.split(" ")[0] for line in lines(store)]
    want = [f"s{s}r{i}" for s in range(3) for i in range(3) if s != damaged or i == 0]
    assert got == sorted(want)
    assert store.recovery.wal_skipped_records == 2
    assert store.recovery.wal_skipped_bytes == 2 * record_size
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(said) == 1 and segs[damaged].name in said[0] and f"offset {offset}" in said[0] and "2 records" in said[0]
    assert str(tmp_path) not in said[0]
    # The damaged segment stays (its good records are in the head only) until a flush has them in
    # blocks; then it is moved aside, not deleted, and restarts go on from a clean WAL.
    assert segs[damaged].exists() and not (data / "quarantine").exists()
    append(store, "after", T0 + 100)
    store.flush()
    assert [p.name for p in (data / "quarantine").iterdir()] == [f"wal-{segs[damaged].name}"]
    append(store, "later", T0 + 101)
    abandon(store)
    store = open_store(data)
    try:
        assert store.recovery.wal_skipped_records == 0
        assert [line.split(" ")[0] for line in lines(store)] == sorted([*want, "after", "later"])
    finally:
        store.close()


def test_a_damaged_block_is_quarantined_and_reads_answer_from_every_other_block_and_the_head(tmp_path, caplog):
    data = tmp_path / "data"
    store = open_store(data)
    for i in range(50):
        append(store, f"w0-{i}", T0 + i)
        append(store, f"w1-{i}", T0 + HOUR + i)
    store.flush()
    append(store, "head", T0 + HOUR + 100)
    (bad,) = [b for b in store._index.blocks("t") if b.window_start == T0 + HOUR]
    path = data / bad.path
    flip(path, inside_the_line_pages(path))
    with caplog.at_level(logging.WARNING, logger="logyard.storage"):
        got = lines(store)
    assert got == sorted([f"w0-{i} " + "x" * 100 for i in range(50)] + ["head " + "x" * 100])
    assert store.recovery.blocks_quarantined == 1
    assert not path.exists() and (data / "quarantine" / bad.path.replace("/", "_")).exists()
    assert bad.path not in {b.path for b in store._index.blocks("t")}
    said = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(said) == 1 and bad.path in said[0]
    store.close()
    store = open_store(data)  # it stays out of the index and the quarantine after a restart
    try:
        assert len(lines(store)) == 51
    finally:
        store.close()


@pytest.mark.parametrize("damage", ["deleted", "garbage", "emptied"])
def test_a_missing_or_unreadable_index_is_rebuilt_from_the_blocks(tmp_path, damage, caplog):
    data = tmp_path / "data"
    store = open_store(data)
    for i in range(30):
        append(store, f"a-{i}", T0 + i, app="a")
        append(store, f"b-{i}", T0 + HOUR + i, app="b")
        append(store, f"o-{i}", T0 + i, app="a", tenant="other")
    store.flush()
    assert store.compact() == 3  # compacted blocks beside flushed ones
    for i in range(30):
        append(store, f"c-{i}", T0 + 2 * HOUR + i, app="a")
    store.flush()
    append(store, "c-30", T0 + 2 * HOUR + 30, app="a")
    store.flush()
    append(store, "head", T0 + 5, app="b")
    before = {t: lines(store, t) for t in ("t", "other")}
    abandon(store)
    index = data / F.INDEX_FILE
    if damage == "deleted":
        for p in data.glob(F.INDEX_FILE + "*"):
            p.unlink()
    elif damage == "garbage":
        index.write_bytes(b"this is not a database " * 500)
    else:
        index.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="logyard.storage"):
        store = open_store(data)
    try:
        assert {t: lines(store, t) for t in ("t", "other")} == before
        assert len(before["t"]) == 92
        assert store.recovery.index_rebuilds == 1
        assert any("rebuilt" in r.getMessage() for r in caplog.records)
        assert len(store.streams("t", [Matcher("app", "=", "b")], T0, T0 + 3 * HOUR)) == 1
        append(store, "new stream", T0 + 7, app="z")  # a new stream gets an id of its own
        assert len(lines(store)) == 93
    finally:
        store.close()


def test_a_rebuild_quarantines_a_block_that_names_no_labels_and_serves_the_rest(tmp_path, caplog):
    import pyarrow.parquet as pq

    from logyard.storage.block import write_block

    data = tmp_path / "data"
    store = open_store(data)
    append(store, "kept", T0, app="a")
    append(store, "old", T0 + HOUR, app="b")
    store.flush()
    (old,) = [b for b in store._index.blocks("t") if b.window_start == T0 + HOUR]
    abandon(store)
    # The same block as a logyard from before `logyard.streams` wrote it: ids with no labels.
    table = pq.read_table(data / old.path, columns=list(F.BLOCK_COLUMNS))
    (data / old.path).unlink()
    write_block(table, data, old.path, tenant="t", window_start=old.window_start)
    for p in data.glob(F.INDEX_FILE + "*"):
        p.unlink()
    with caplog.at_level(logging.WARNING, logger="logyard.storage"):
        store = open_store(data)
    try:
        assert lines(store) == ["kept " + "x" * 100]
        assert store.recovery.blocks_quarantined == 1
        assert (data / "quarantine" / old.path.replace("/", "_")).exists()
        assert "logyard.streams" in caplog.text
    finally:
        store.close()
