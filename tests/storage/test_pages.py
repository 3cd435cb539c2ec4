"""Compacted blocks read page by page for a needle: the same rows and columns as whole row groups,
only the pages whose slices may hold the needle decoded, damage found, and anything the page reader
does not decode (older blocks, dictionary pages) read whole instead."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from logyard.errors import CorruptDataError
from logyard.needles import LineMatch, Needle
from logyard.storage import block, pages
from logyard.storage import format as F
from tests.storage.conftest import HOUR, T0, push
from tests.storage.test_line_pruning import random_lines

PER_STREAM = 1500
COLUMNS = ("stream", "ts", "line", "meta")
MATCHES = [
    LineMatch((("xq7-needle-5150",),)),
    LineMatch((("edge-needle-777", "xq7-needle-5150"),)),
    LineMatch((("needle",),), ("edge",)),
    LineMatch((("absent-needle-000",),)),
    LineMatch((("edge-needle-777",),)),
]


@pytest.fixture
def small_pages(monkeypatch):
    """Row groups of 400 rows, slices (and line pages) of 40: ten pages a row group."""
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 400)
    monkeypatch.setattr(F, "MIN_SLICE_ROWS", 8)
    monkeypatch.setattr(block, "slice_rows", lambda lens: 40)


def load(s, rng: np.random.Generator) -> list[int]:
    """Three streams of random lines with structured metadata on some rows and needles placed,
    one of them across the edge of two slices (rows 39 and 40 of stream s0); compacted."""
    for k, app in enumerate(["s0", "s1", "s2"]):
        lines = random_lines(rng, PER_STREAM)
        meta = [f'{{"trace_id":"t{int(x)}"}}' if x % 3 else "" for x in rng.integers(0, 50, PER_STREAM)]
        if k == 0:
            lines[39] += " edge-needle-777"
            lines[40] = "edge-needle-777 " + lines[40]
        for i in rng.choice(PER_STREAM, size=3, replace=False).tolist():
            lines[i] += " ref=xq7-needle-5150"
        s.append("t", [push({"app": app}, T0 + np.arange(PER_STREAM) * 1000, lines, meta)])
    s.flush()
    s.compact()
    return sorted(s.streams("t", [], T0, T0 + HOUR))


def read(s, ids, match: LineMatch, lo=T0, hi=T0 + HOUR) -> tuple[list[dict], list[tuple]]:
    hint = [Needle(tuple((v,) for v in group)) for group in match.contains]
    counted: list[tuple] = []
    got = list(s.read("t", ids, lo, hi, direction="forward", columns=COLUMNS, line_contains=hint,
                      line_match=match, scanned=lambda *n: counted.append(n)))
    return [t.to_pydict() for t in got], counted


def paged_calls(monkeypatch) -> list[int]:
    """Rows each `_paged` call decoded (None calls left out)."""
    calls: list[int] = []
    orig = block.BlockReader._paged

    def spy(self, *a):
        t = orig(self, *a)
        if t is not None:
            calls.append(t.num_rows)
        return t

    monkeypatch.setattr(block.BlockReader, "_paged", spy)
    return calls


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paged_reads_keep_the_same_rows_and_columns_as_whole_row_group_reads(make_store, small_pages, monkeypatch, seed):
    s = make_store()
    ids = load(s, np.random.default_rng(seed))
    calls = paged_calls(monkeypatch)
    lo, hi = T0 + 20 * 1000, T0 + 1400 * 1000  # a range that cuts the first and the last row group
    by_page = {m: (read(s, ids, m)[0], read(s, ids[:2], m, lo, hi)[0]) for m in MATCHES}
    assert calls and max(calls) < 3 * PER_STREAM / 4
    monkeypatch.setattr(block, "MAX_PAGE_SHARE", -1.0)  # every read whole
    calls.clear()
    for m in MATCHES:
        assert by_page[m] == (read(s, ids, m)[0], read(s, ids[:2], m, lo, hi)[0]), m
    assert not calls
    needles = [line for t in by_page[MATCHES[0]][0] for line in t["line"]]
    assert len(needles) == 9 and all("xq7-needle-5150" in line for line in needles)


def test_a_needle_decodes_only_the_pages_that_may_hold_it(make_store, small_pages, monkeypatch):
    s = make_store()
    ids = load(s, np.random.default_rng(5))
    calls = paged_calls(monkeypatch)
    _, counted = read(s, ids, LineMatch((("edge-needle-777",),)))
    assert calls == [80]  # the two slices of 40 rows either side of the edge, nothing else
    assert sum(c[0] for c in counted) == 80  # scanned: the rows of the pages read
    calls.clear()
    tables, counted = read(s, ids, LineMatch((("absent-needle-000",),)))
    assert tables == [] and sum(c[0] for c in counted) == 0


def test_compacted_pages_end_on_slice_edges_and_decode_as_pyarrow_does(make_store, small_pages):
    s = make_store()
    load(s, np.random.default_rng(6))
    b = s._index.blocks("t")[0]
    path = s.data_dir / b.path
    md = pq.read_metadata(path)
    data = path.read_bytes()
    names = md.schema.names
    whole = pq.read_table(path)
    at = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for c, kind in (("line", "strings"), ("meta", "strings"), ("ts", np.int64), (F.LINE_TIME_COLUMN, np.int32)):
            cc = rg.column(names.index(c))
            chunk = data[cc.data_page_offset:cc.data_page_offset + cc.total_compressed_size]
            layout = pages.layout(chunk, rg.num_rows)
            if c == "line":
                assert (layout.rows[:-1] % 40 == 0).all()
            decoded = [pages.strings(chunk, layout, i, cc.compression, 1) if kind == "strings"
                       else pages.numbers(chunk, layout, i, cc.compression, 1, kind) for i in range(len(layout.rows) - 1)]
            want = whole.column(c).slice(at, rg.num_rows)
            if kind == "strings":
                assert [v for d in decoded for v in d.to_pylist()] == want.to_pylist(), c
            else:
                assert np.concatenate(decoded).tolist() == want.to_pylist(), c
        at += rg.num_rows


def test_a_damaged_page_quarantines_the_block(make_store, small_pages):
    s = make_store()
    ids = load(s, np.random.default_rng(8))
    b = s._index.blocks("t")[0]
    path = s.data_dir / b.path
    md = pq.read_metadata(path)
    cc = md.row_group(0).column(md.schema.names.index("line"))
    raw = bytearray(path.read_bytes())
    layout = pages.layout(bytes(raw[cc.data_page_offset:cc.data_page_offset + cc.total_compressed_size]),
                          md.row_group(0).num_rows)
    raw[cc.data_page_offset + int(layout.at[0] + layout.size[0] // 2)] ^= 0xFF  # in the page of rows 0-39
    path.write_bytes(bytes(raw))
    r = s.files.reader(b)
    with pytest.raises(CorruptDataError, match="pages"):
        r.read_matching([0], list(COLUMNS), LineMatch((("edge-needle-777",),)), np.array(ids), T0, T0 + HOUR,
                        block.line_scan.Scanned(), block.trigrams.needs_for(("edge-needle-777",)))


def test_blocks_without_page_maps_or_with_dictionary_pages_are_read_whole(make_store, small_pages, monkeypatch):
    """A flushed block (dictionary-encoded metadata, no page maps) and a compacted one written with
    its metadata as a dictionary (as before the pages) answer the same, through pyarrow."""
    monkeypatch.setattr(F, "COMPACT_DICTIONARY_COLUMNS", ["meta"])
    s = make_store()
    ids = load(s, np.random.default_rng(9))
    calls = paged_calls(monkeypatch)
    old = read(s, ids, LineMatch((("xq7-needle-5150",),)))[0]
    assert not calls
    assert sum(len(t["line"]) for t in old) == 9
    with pytest.raises(pages.Unusual):
        b = s._index.blocks("t")[0]
        md = pq.read_metadata(s.data_dir / b.path)
        cc = md.row_group(0).column(md.schema.names.index("meta"))
        data = (s.data_dir / b.path).read_bytes()
        pages.layout(data[cc.dictionary_page_offset:cc.data_page_offset + cc.total_compressed_size], md.row_group(0).num_rows)
