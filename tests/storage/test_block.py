"""Block files: written sorted with per-stream ranges, pruned by row-group statistics."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logyard.errors import CorruptDataError
from logyard.storage import format as F
from logyard.storage.block import BlockReader, row_group_bounds, stream_layout, write_block
from logyard.storage.trigrams import Needs as needed_trigrams
from tests.storage.conftest import HOUR, T0, push


def table(n_streams=3, per=10):
    stream = np.repeat(np.arange(1, n_streams + 1), per)
    ts = np.tile(np.arange(per) * 10, n_streams)
    lines = [f"s{s} t{t} é" for s, t in zip(stream, ts)]
    return pa.table({"stream": stream, "ts": ts, "line": pa.array(lines, pa.large_string()),
                     "meta": [""] * len(lines), "len": pa.array([len(x.encode()) for x in lines], pa.int32())})


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 10)


def test_write_block_records_per_stream_ranges(tmp_path):
    info = write_block(table(), tmp_path, "b/x.parquet", tenant="t", window_start=0)
    s = info.streams
    assert (s.ids.tolist(), s.min_ts.tolist(), s.max_ts.tolist(), s.rows.tolist()) == ([1, 2, 3], [0] * 3, [90] * 3, [10] * 3)
    assert s.bytes.tolist() == [int(table().column("len").to_numpy()[i * 10:(i + 1) * 10].sum()) for i in range(3)]
    assert (info.rows, info.min_ts, info.max_ts) == (30, 0, 90)
    assert not list(tmp_path.rglob("*" + F.TMP_SUFFIX))


@pytest.mark.parametrize("ids,start,end,groups,covered", [
    (None, 0, 100, [0, 1, 2], True),
    ([2], 0, 100, [1], True),
    ([1, 3], 0, 100, [0, 2], True),
    ([2], 50, 60, [1], False),          # the group has rows outside the time window
    ([4], 0, 100, [], True),
    ([1], 100, 200, [], True),
])
def test_row_groups_are_pruned_by_stream_and_time(tmp_path, small_groups, ids, start, end, groups, covered):
    write_block(table(), tmp_path, "x.parquet", tenant="t", window_start=0)
    r = BlockReader(tmp_path / "x.parquet")
    sel = r.row_groups(None if ids is None else np.array(ids), start, end)
    assert sel == groups
    if sel:
        assert r.covers(sel, None if ids is None else np.array(ids), start, end) == covered


def test_first_rows_of_row_groups_holding_none_of_the_window_are_an_empty_table(tmp_path, small_groups):
    """Statistics name a row group whose range spans the window while none of its rows is inside it
    (a stream with a gap: in a scaled-out installation, every writer's block of a stream the writers
    share): its first rows are none, of the asked columns and types."""
    write_block(table(), tmp_path, "x.parquet", tenant="t", window_start=0)
    r = BlockReader(tmp_path / "x.parquet")
    groups = r.row_groups(np.array([2]), 55, 60)
    assert groups == [1]
    first = r.read_first(groups, ["stream", "ts", "line", "meta"], np.array([2]), 55, 60, 10, True)
    assert first.num_rows == 0
    assert first.schema == r.read(groups, ["stream", "ts", "line", "meta"]).schema


@pytest.mark.parametrize("level,codec", [(0, "UNCOMPRESSED"), (1, "ZSTD")])
def test_flushed_blocks_are_written_uncompressed_and_compacted_ones_with_zstd(tmp_path, level, codec):
    write_block(table(), tmp_path, "x.parquet", tenant="t", window_start=0, level=level)
    md = pq.ParquetFile(tmp_path / "x.parquet").metadata
    assert {md.row_group(0).column(c).compression for c in range(md.num_columns)} == {codec}
    assert BlockReader(tmp_path / "x.parquet").read([0], ["line"]).column("line").to_pylist() == table().column("line").to_pylist()


def test_trigram_bitmaps_prune_row_groups_in_compacted_blocks(tmp_path, small_groups):
    write_block(table(), tmp_path, "x.parquet", tenant="t", window_start=0, level=1)
    r = BlockReader(tmp_path / "x.parquet")
    assert r.row_groups(None, 0, 100, needed_trigrams(["s2 t5"])) == [1]
    assert r.row_groups(None, 0, 100, needed_trigrams(["0 é"])) == [0, 1, 2]
    assert r.read([1], ["line"]).column("line").to_pylist()[5] == "s2 t50 é"


def test_a_truncated_block_raises_corrupt_data_error_naming_the_file(tmp_path):
    write_block(table(), tmp_path, "x.parquet", tenant="t", window_start=0)
    p = tmp_path / "x.parquet"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(CorruptDataError, match="x.parquet"):
        BlockReader(p).row_groups(None, 0, 100)


@pytest.mark.parametrize("lens,expected", [
    ([10] * 5, [(0, 5)]),
    ([600_000, 600_000, 10], [(0, 1), (1, 3)]),
    ([2 << 20, 5], [(0, 1), (1, 2)]),  # a row longer than the budget still gets a group
    ([], []),
])
def test_row_groups_are_bounded_by_line_bytes(lens, expected):
    assert row_group_bounds(np.array(lens, dtype=np.int64)) == expected


def test_row_groups_of_random_text_get_no_bitmap_and_are_always_read(tmp_path):
    rng = np.random.default_rng(1)
    noise = [bytes(rng.integers(33, 127, 2000, dtype=np.uint8)).decode() for _ in range(500)]
    t = pa.table({"stream": np.ones(500, np.int64), "ts": np.arange(500), "line": pa.array(noise, pa.large_string()),
                  "meta": [""] * 500, "len": pa.array([2000] * 500, pa.int32())})
    write_block(t, tmp_path, "x.parquet", tenant="t", window_start=0, level=1)
    r = BlockReader(tmp_path / "x.parquet")
    assert r.row_groups(None, 0, 1000, needed_trigrams(["this is not in the noise"])) == [0]
    assert r._trigrams is not None and r._trigrams.ks == [0]  # 300k distinct once lowered: beyond 2^18 bits


@pytest.mark.parametrize("level", [0, 1])
def test_a_block_gathered_by_row_order_equals_the_block_of_the_sorted_table(tmp_path, small_groups, level):
    sorted_t = table(n_streams=4, per=9)
    rng = np.random.default_rng(2)
    shuffled = rng.permutation(sorted_t.num_rows)
    # Head-like input: several chunks, 32-bit strings, no len column, rows out of order.
    src = sorted_t.drop_columns(["len"]).take(pa.array(shuffled))
    src = src.cast(pa.schema([f.with_type(pa.string()) if f.name == "line" else f for f in src.schema]))
    src = pa.concat_tables([src.slice(0, 11), src.slice(11, 7), src.slice(18)])
    order = np.argsort(shuffled)
    a = write_block(sorted_t, tmp_path, "a.parquet", tenant="t", window_start=0, level=level)
    b = write_block(src, tmp_path, "b.parquet", tenant="t", window_start=0, level=level, order=order)
    ra, rb = BlockReader(tmp_path / "a.parquet"), BlockReader(tmp_path / "b.parquet")
    all_a, all_b = ra.row_groups(None, 0, 1000), rb.row_groups(None, 0, 1000)
    assert all_a == all_b and len(all_a) > 2
    assert rb.read(all_b, list(F.BLOCK_COLUMNS)).equals(ra.read(all_a, list(F.BLOCK_COLUMNS)))
    assert (b.rows, b.line_bytes, b.min_ts, b.max_ts) == (a.rows, a.line_bytes, a.min_ts, a.max_ts)
    for f in ("ids", "min_ts", "max_ts", "rows", "bytes"):
        assert getattr(b.streams, f).tolist() == getattr(a.streams, f).tolist()
    if level:
        assert rb.row_groups(None, 0, 1000, needed_trigrams(["s3 t2"])) == ra.row_groups(None, 0, 1000, needed_trigrams(["s3 t2"]))


def test_a_block_file_stays_open_for_the_next_read_until_the_reader_is_closed(tmp_path, monkeypatch):
    from logyard.storage import block

    monkeypatch.setattr(block, "_idle", block.OrderedDict())
    write_block(table(), tmp_path, "b/x.parquet", tenant="t", window_start=0)
    r = BlockReader(tmp_path / "b/x.parquet")
    with r.open() as first:
        with r.open() as second:  # a concurrent read gets a file of its own
            assert second is not first
    with r.open() as again:
        assert again is first or again is second
    assert r.read([0], ["ts"]).num_rows == 30
    r.close()
    assert r not in block._idle
    with r.open():
        pass
    assert r not in block._idle  # a closed reader keeps nothing open


def test_open_block_files_are_bounded_across_blocks(tmp_path, monkeypatch):
    from logyard.storage import block

    monkeypatch.setattr(block, "_idle", block.OrderedDict())
    monkeypatch.setattr(block, "MAX_IDLE_FILES", 2)
    readers = []
    for i in range(4):
        write_block(table(), tmp_path, f"b/{i}.parquet", tenant="t", window_start=0)
        readers.append(BlockReader(tmp_path / f"b/{i}.parquet"))
        readers[-1].read([0], ["ts"])
    assert list(block._idle) == readers[2:]  # the least recently read were closed


def test_row_groups_of_a_stream_are_those_its_rows_lie_in_whatever_the_id_order(tmp_path, small_groups):
    """Blocks hold their streams in label order, not id order: streams 3, 1, 2, 4 of 5 rows make row
    groups {3, 1} and {2, 4}. Stream 2 lies in the second alone, though the first's id range [1, 3]
    spans it; the footer says where each stream's rows are."""
    t = table(n_streams=4, per=5)
    t = pa.concat_tables([t.slice(10, 5), t.slice(0, 5), t.slice(5, 5), t.slice(15, 5)])
    info = write_block(t, tmp_path, "x.parquet", tenant="t", window_start=0)
    assert info.streams.ids.tolist() == [1, 2, 3, 4] and info.streams.first_row.tolist() == [5, 10, 0, 15]
    r = BlockReader(tmp_path / "x.parquet")
    assert r.row_groups(np.array([2]), 0, 100) == [1]
    assert not r.covers([1], np.array([2]), 0, 100)  # stream 4 is there too
    assert r.row_groups(np.array([1, 3]), 0, 100) == [0]
    assert r.covers([0], np.array([1, 3]), 0, 100)
    assert r.row_groups(np.array([5]), 0, 100) == []


@pytest.mark.parametrize("groups", [[0], [1], [2], [3], [0, 1], [1, 3], [0, 1, 2, 3]])
def test_the_streams_of_rows_from_the_footer_are_the_stream_column(tmp_path, monkeypatch, groups):
    """Matching reads take each row's stream from where the footer says each stream's rows lie,
    not from the column: streams 3, 1, 2, 4 of 7 rows in label order, in row groups of 8 rows
    that cut them anywhere."""
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 8)
    t = table(n_streams=4, per=7)
    t = pa.concat_tables([t.slice(14, 7), t.slice(0, 7), t.slice(7, 7), t.slice(21, 7)])
    write_block(t, tmp_path, "x.parquet", tenant="t", window_start=0)
    r = BlockReader(tmp_path / "x.parquet")
    assert r.streams_of_rows(groups).tolist() == r.read(groups, ["stream"]).column("stream").to_pylist()


def test_footers_without_first_rows_hold_their_streams_in_id_order():
    """Blocks written before `first_row` was stored are sorted by stream id: each stream's rows start
    where the one before ends. A footer whose rows do not tile the block is damage, named."""
    blob = orjson.dumps({"ids": [1, 5, 9], "rows": [3, 4, 2]})
    ids, first, rows = stream_layout(blob, "x.parquet", 9)
    assert (ids.tolist(), first.tolist(), rows.tolist()) == ([1, 5, 9], [0, 3, 7], [3, 4, 2])
    with pytest.raises(CorruptDataError, match="x.parquet: logyard.ranges"):
        stream_layout(blob, "x.parquet", 10)
    with pytest.raises(CorruptDataError, match="x.parquet: logyard.ranges"):
        stream_layout(orjson.dumps({"ids": [1, 5], "rows": [3, 4], "first_row": [0, 2]}), "x.parquet", 7)


def test_a_flush_writes_streams_in_the_order_of_their_labels(make_store):
    """Stream ids are hashes; in the order of the labels the streams one selector picks are neighbours."""
    s = make_store()
    apps = ["web-3", "db", "web-1", "cache", "web-2"]
    s.append("t", [push({"app": a}, [T0 + i], [f"line of {a}"]) for i, a in enumerate(apps)])
    s.flush()
    (path,) = (s.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX)
    labels = {sid: ls.get("app") for sid, ls in s.streams("t", [], T0, T0 + HOUR).items()}
    got = [labels[sid] for sid in pq.read_table(path, columns=["stream"]).column("stream").to_pylist()]
    assert got == sorted(apps)
