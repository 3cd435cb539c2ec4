"""Single pages of a compacted block's line column, read without pyarrow.

A needle query's trigram maps leave it a handful of row groups, and in each one the line text is
most of the decoding (a whole ~1 MiB chunk: pyarrow decodes only whole column chunks). Compacted
blocks cut that column into pages of LINE_PAGE_ROWS rows and keep a trigram map per slice of that
many rows (trigrams.py), so a read can decompress and decode only the pages that may hold the
needle. This module walks a chunk's page headers (Thrift compact protocol) and decodes PLAIN
BYTE_ARRAY data pages (_plainpages.c). Anything else -- a dictionary page, data page v2, another
encoding or codec, a null line -- yields None, and the reader decodes the chunk with pyarrow.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from logyard.storage import _plainpages

_DATA_PAGE, _PLAIN, _RLE = 0, 0, 3
_HEADER_READ = 256  # bytes read for a page header: ours are ~20 (no statistics on `line`)
# Arrow's own zstd: cramjam's took 4x as long on a 370 KB page.
_CODECS = {"ZSTD": lambda b, n: pa.decompress(b, n, codec="zstd"), "UNCOMPRESSED": lambda b, n: b}


class Unusual(Exception):
    """A page this reader does not decode: the caller decodes the chunk with pyarrow."""


@dataclass(frozen=True)
class Page:
    """One v1 data page of a column chunk: its rows [row, row + rows) of the row group, and where
    its compressed bytes lie in the file."""

    row: int
    rows: int
    at: int
    size: int
    raw_size: int
    crc: int | None


def _varint(b: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        x = b[i]
        i += 1
        out |= (x & 0x7F) << shift
        if not x & 0x80:
            return out, i
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _skip(b: bytes, i: int, t: int, in_list: bool = False) -> int:
    """Past one value of compact type `t` (booleans inside a list take a byte)."""
    if t in (1, 2):
        return i + 1 if in_list else i
    if t == 3:
        return i + 1
    if t in (4, 5, 6):
        return _varint(b, i)[1]
    if t == 7:
        return i + 8
    if t == 8:
        n, i = _varint(b, i)
        return i + n
    if t in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 15
        if n == 15:
            n, i = _varint(b, i)
        for _ in range(n):  # one step per element: statistics we never write
            i = _skip(b, i, et, True)
        return i
    if t == 11:
        n, i = _varint(b, i)
        if n:
            kt, vt = b[i] >> 4, b[i] & 15
            i += 1
            for _ in range(n):  # one step per entry
                i = _skip(b, _skip(b, i, kt, True), vt, True)
        return i
    if t == 12:
        return _struct(b, i, {})[1]
    raise Unusual(f"thrift type {t}")


def _struct(b: bytes, i: int, want: dict) -> tuple[dict, int]:
    """The integer fields (and nested structs) named in `want` of the struct at `i`; others skipped."""
    out: dict = {}
    last = 0
    while True:  # one step per field
        h = b[i]
        i += 1
        if h == 0:
            return out, i
        t, delta = h & 15, h >> 4
        if delta:
            fid = last + delta
        else:
            v, i = _varint(b, i)
            fid = _zigzag(v)
        last = fid
        if fid in want and t == 12:
            out[fid], i = _struct(b, i, want[fid])
        elif fid in want and t in (5, 6):
            v, i = _varint(b, i)
            out[fid] = _zigzag(v)
        else:
            i = _skip(b, i, t)


# PageHeader: 1 type, 2 uncompressed size, 3 compressed size, 4 crc, 5 DataPageHeader (1 values,
# 2 encoding, 3 definition level encoding).
_PAGE_HEADER = {1: None, 2: None, 3: None, 4: None, 5: {1: None, 2: None, 3: None}}


def data_pages(fd: int, start: int, size: int, num_rows: int) -> list[Page]:
    """The pages of the column chunk at [start, start + size) of the file, each header read
    alone; Unusual unless all are v1 PLAIN data pages whose values add up to `num_rows`."""
    pages, pos, row, end = [], start, 0, start + size
    while pos < end:  # one step per page: a handful
        head = os.pread(fd, min(_HEADER_READ, end - pos), pos)
        try:
            h, n = _struct(head, 0, _PAGE_HEADER)
        except IndexError:
            raise Unusual("page header longer than read") from None
        d = h.get(5)
        if h.get(1) != _DATA_PAGE or d is None or d.get(2) != _PLAIN or d.get(3, _RLE) != _RLE:
            raise Unusual("not a v1 PLAIN data page")
        values, csize = d.get(1, -1), h.get(3, -1)
        if values < 0 or csize < 0 or pos + n + csize > end:
            raise Unusual("page sizes out of range")
        crc = h.get(4)
        pages.append(Page(row, values, pos + n, csize, h.get(2, -1), None if crc is None else crc & 0xFFFFFFFF))
        pos += n + csize
        row += values
    if row != num_rows:
        raise Unusual(f"pages hold {row} values, the row group {num_rows} rows")
    return pages


def candidates(pages: list[Page], slice_rows: int, passing: np.ndarray) -> list[Page]:
    """The pages overlapping a slice of `slice_rows` rows (slice j: rows [j * slice_rows, ...))
    whose map may hold the needle (`passing`, one per slice of the row group)."""
    out = []
    for p in pages:  # one step per page
        a, b = p.row // slice_rows, (p.row + max(p.rows, 1) - 1) // slice_rows
        if passing[a : b + 1].any():
            out.append(p)
    return out


def read_lines(fd: int, page: Page, codec: str, max_def: int) -> pa.LargeStringArray:
    """The values of one page as a large_string array; Unusual for a codec or a null we do not
    decode; ValueError when the bytes are damaged (checksum, sizes)."""
    if codec not in _CODECS:
        raise Unusual(f"codec {codec}")
    raw = os.pread(fd, page.size, page.at)
    if len(raw) != page.size:
        raise ValueError("column chunk cut short")
    if page.crc is not None and zlib.crc32(raw) != page.crc:
        raise ValueError("page checksum mismatch")
    try:
        body = _CODECS[codec](raw, page.raw_size)
    except pa.ArrowException as e:
        raise ValueError(f"page does not decompress ({e})") from e
    if len(body) != page.raw_size:
        raise ValueError("page decompresses to another size than its header says")
    pos = 0
    if max_def:
        pos = _all_defined(body, page.rows)
    off, data = _plainpages.plain_strings(body, pos, page.rows)
    return pa.LargeStringArray.from_buffers(page.rows, pa.py_buffer(off), pa.py_buffer(data))


def _all_defined(body, n: int) -> int:
    """Where the values start after a nullable column's definition levels (4-byte length, RLE
    hybrid of bit width 1); Unusual unless they are one run of n ones (no null)."""
    if len(body) < 4:
        raise ValueError("page too short for its definition levels")
    body = memoryview(body)
    size = int.from_bytes(body[:4], "little")
    if n == 0:
        return 4 + size
    if size > len(body) - 4:
        raise ValueError("definition levels longer than their page")
    try:
        head, i = _varint(body, 4)
    except IndexError:
        raise ValueError("definition levels cut short") from None
    if head & 1 or head >> 1 != n or i + 1 != 4 + size or body[i] != 1:
        raise Unusual("definition levels other than one run of non-null")
    return 4 + size
