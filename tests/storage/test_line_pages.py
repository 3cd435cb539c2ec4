"""Reading single line pages (line_pages.py) gives exactly what pyarrow decodes: pages cut at odd
places, long, empty and non-ASCII lines, nullable or required columns, zstd or none; anything it
does not decode (dictionary pages, data page v2, nulls) is Unusual and a damaged page an error. And
through the store: needle reads of compacted blocks keep the same rows and count the same scanned
bytes whether they read pages alone or whole row groups, while skipping pages."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logyard.errors import CorruptDataError
from logyard.needles import LineMatch
from logyard.storage import block, line_pages, trigrams
from logyard.storage import format as F
from logyard.storage.reads import LINE_PRUNING_ENV
from tests.storage.conftest import HOUR, T0, push
from tests.storage.test_line_scan import random_line

LONG = "L" * 30_000 + "\u00e9"


def some_lines(rng: np.random.Generator, n: int) -> list[str]:
    words = ["", "caf\u00e9", "\u212a", "x", "needle-42", LONG, "a b c", "\U0001f600"]
    return [" ".join(words[i] for i in rng.integers(0, len(words), int(rng.integers(0, 4)))) for _ in range(n)]


def write(path, lines, *, nullable=True, compression="zstd", batch=7, page_bytes=1, version="1.0", dictionary=False):
    schema = pa.schema([pa.field("line", pa.large_string(), nullable=nullable)])
    with pq.ParquetWriter(path, schema, compression=compression, data_page_size=page_bytes, write_batch_size=batch,
                          use_dictionary=dictionary, write_page_checksum=True, data_page_version=version) as w:
        w.write_table(pa.table({"line": pa.array(lines, pa.large_string())}, schema=schema), row_group_size=len(lines))


def read_all(path) -> tuple[list[line_pages.Page], list[str]]:
    md = pq.read_metadata(path)
    cc = md.row_group(0).column(0)
    fd = os.open(path, os.O_RDONLY)
    try:
        start = cc.dictionary_page_offset if cc.has_dictionary_page else cc.data_page_offset
        pages = line_pages.data_pages(fd, start, cc.total_compressed_size, md.row_group(0).num_rows)
        got = []
        for p in pages:
            got += line_pages.read_lines(fd, p, cc.compression, md.schema.column(0).max_definition_level).to_pylist()
    finally:
        os.close(fd)
    return pages, got


@pytest.mark.parametrize("nullable", [True, False])
@pytest.mark.parametrize("compression", ["zstd", "none"])
@pytest.mark.parametrize("batch,page_bytes", [(7, 1), (1, 1), (64, 1), (5, 300), (1000, 1 << 20)])
def test_pages_decode_as_pyarrow_does(tmp_path, nullable, compression, batch, page_bytes):
    lines = some_lines(np.random.default_rng(batch), 301)
    path = tmp_path / "b.parquet"
    write(path, lines, nullable=nullable, compression=compression, batch=batch, page_bytes=page_bytes)
    pages, got = read_all(path)
    assert got == lines == pq.read_table(path).column("line").to_pylist()
    assert [p.row for p in pages] == np.cumsum([0] + [p.rows for p in pages[:-1]]).tolist()
    if page_bytes == 1:  # a page every `batch` rows
        assert all(p.rows == batch for p in pages[:-1])


@pytest.mark.parametrize("kind", ["dictionary", "v2", "null"])
def test_pages_it_does_not_decode_are_unusual(tmp_path, kind):
    lines = some_lines(np.random.default_rng(3), 50)
    if kind == "null":
        lines[5] = None
    path = tmp_path / "b.parquet"
    write(path, lines, dictionary=kind == "dictionary", version="2.0" if kind == "v2" else "1.0")
    with pytest.raises(line_pages.Unusual):
        read_all(path)


def test_a_damaged_page_is_an_error(tmp_path):
    path = tmp_path / "b.parquet"
    write(path, some_lines(np.random.default_rng(4), 50), batch=50)
    md = pq.read_metadata(path)
    cc = md.row_group(0).column(0)
    fd = os.open(path, os.O_RDONLY)
    try:
        page = line_pages.data_pages(fd, cc.data_page_offset, cc.total_compressed_size, 50)[0]
    finally:
        os.close(fd)
    raw = bytearray(path.read_bytes())
    raw[page.at + page.size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        read_all(path)


def test_candidates_are_the_pages_over_a_passing_slice():
    pages = [line_pages.Page(r, n, 0, 0, 0, None) for r, n in ((0, 10), (10, 10), (20, 5))]
    got = line_pages.candidates(pages, 4, np.array([0, 0, 1, 0, 0, 0, 0], bool))  # rows 8..11
    assert [p.row for p in got] == [0, 10]
    assert line_pages.candidates(pages, 4, np.zeros(7, bool)) == []


# Through the store --------------------------------------------------------------------------------

NEEDLES = ["needle-5150", "caf\u00e9-au-lait", "edge-of-page", "absent-one", "\u212aelvin", "LLLL"]


def load(s, rng: np.random.Generator, n: int = 600) -> None:
    """Compacted blocks of two streams: lines with their own timestamps (cut when stored), empty
    ones, long ones, non-ASCII ones, and needles here and there (one at the edge of a page)."""
    for app in ("a", "b"):
        ts = T0 + np.arange(n) * 10_000 + int(rng.integers(0, 1000))
        lines = [random_line(rng, int(t)) for t in ts]
        for i in rng.integers(0, n, 40).tolist():
            lines[i] = ""
        for i in rng.integers(0, n, 3).tolist():
            lines[i] += LONG
        for i in rng.integers(0, n, 4).tolist():
            lines[i] += " " + NEEDLES[int(rng.integers(0, 3))]
        edge = min(F.LINE_PAGE_ROWS, n // 2)
        lines[edge - 1] += " edge-of-page"
        lines[edge] = "edge-of-page " + lines[edge]
        lines[int(rng.integers(0, n))] += " \u212aelvin"
        s.append("t", [push({"app": app}, ts, lines)])
    s.flush()
    s.compact()


def needle_read(s, needle: str, columns=("stream", "ts", "line", "meta")) -> tuple[list, list]:
    ids = sorted(s.streams("t", [], T0, T0 + HOUR))
    counted: list = []
    rows = []
    for t in s.read("t", ids, T0, T0 + HOUR, columns=columns, line_contains=(needle,),
                    line_match=LineMatch(((needle,),)), scanned=lambda *a: counted.append(a)):
        d = t.to_pydict()
        rows.extend(zip(d["stream"], d["ts"], d.get("line", [None] * t.num_rows)))
    return rows, counted


@pytest.mark.parametrize("page_rows,page_bytes", [(7, 1), (16, 1), (5, 400)])
@pytest.mark.parametrize("seed", [1, 2])
def test_store_page_reads_keep_the_rows_of_whole_reads(make_store, monkeypatch, page_rows, page_bytes, seed):
    """Pages of `page_rows` rows, or (page_bytes 400) of several slices each, cut wherever the
    writer's size check falls."""
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    monkeypatch.setattr(F, "LINE_PAGE_ROWS", page_rows)
    monkeypatch.setattr(F, "LINE_PAGE_BYTES", page_bytes)
    s = make_store()
    load(s, np.random.default_rng(seed))
    assert all(b.level == 1 for b in s._index.blocks("t"))
    read = []
    orig = line_pages.read_lines
    monkeypatch.setattr(line_pages, "read_lines", lambda *a: read.append(a[1]) or orig(*a))
    paged = {n: needle_read(s, n) for n in NEEDLES}
    numbers = {n: needle_read(s, n, ("stream", "ts")) for n in NEEDLES}
    reads = 2 * len(NEEDLES)
    assert read and len(read) < reads * 2 * 600 / page_rows / 4  # pages were read, few of them
    monkeypatch.setattr(block, "MAX_PAGE_SHARE", -1.0)  # whole row groups, with the same row-group maps
    read.clear()
    for n in NEEDLES:
        assert needle_read(s, n) == paged[n], n
        assert needle_read(s, n, ("stream", "ts")) == numbers[n], n
    assert not read
    assert len(paged["needle-5150"][0]) >= 1 and len(paged["edge-of-page"][0]) >= 4
    monkeypatch.setattr(block, "MAX_PAGE_SHARE", 0.5)
    s.close()
    monkeypatch.setenv(LINE_PRUNING_ENV, "0")
    full = make_store()
    for n in NEEDLES:  # and the rows of a read without any map
        want = needle_read(full, n)[0]
        assert paged[n][0] == want, n
        assert all(n in line for _, _, line in want)


def test_blocks_without_page_maps_read_whole_row_groups(make_store, monkeypatch):
    """Blocks written before the page maps keep working, read whole."""
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    monkeypatch.setattr(F, "BLOCK_TRIGRAM_PAGES_KEY", b"logyard.test.unknown")
    s = make_store()
    load(s, np.random.default_rng(9))
    s.close()
    monkeypatch.undo()
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    old = make_store()
    read = []
    orig = line_pages.read_lines
    monkeypatch.setattr(line_pages, "read_lines", lambda *a: read.append(a[1]) or orig(*a))
    rows = {n: needle_read(old, n)[0] for n in NEEDLES}
    assert not read
    assert len(rows["edge-of-page"]) >= 4


def test_a_damaged_line_page_is_corrupt_data(make_store, monkeypatch):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 100)
    monkeypatch.setattr(F, "LINE_PAGE_ROWS", 16)
    monkeypatch.setattr(F, "LINE_PAGE_BYTES", 1)
    s = make_store()
    load(s, np.random.default_rng(3))
    b = s._index.blocks("t")[0]
    r = s.files.reader(b)
    rgs = r.row_groups(None, T0, T0 + HOUR)

    def damaged(fd, page, codec, max_def):
        raise ValueError("page checksum mismatch")

    monkeypatch.setattr(line_pages, "read_lines", damaged)
    with pytest.raises(CorruptDataError):
        r._line_pages(rgs, trigrams.needs_for(("edge-of-page",)))
