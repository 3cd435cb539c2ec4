"""Single data pages of a compacted block's column chunks, read without pyarrow.

pyarrow decodes only whole column chunks: a needle query whose trigram maps leave it ten row groups
would decode ten row groups of every column it reads, ~1.2 ms each, for ten lines. Compacted
blocks cut their columns into pages of a few hundred KiB of line text (format.py) and keep a trigram
map per slice of rows (trigrams.py), so the reader decodes only the pages that may hold the needle
and, of the other columns, only the pages of the same rows. This module walks a chunk's page
headers (Thrift compact protocol, parsed once a chunk and kept as a `Chunk`) and decodes PLAIN data
pages: BYTE_ARRAY (_plainpages.c), INT32 and INT64, the numbers PLAIN or BYTE_STREAM_SPLIT. Anything else -- a dictionary page, a data page
v2, another encoding or codec, a null -- raises Unusual, and the caller decodes with pyarrow.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from logyard.storage import _plainpages

_DATA_PAGE, _PLAIN, _RLE, _SPLIT = 0, 0, 3, 9
_CODECS = ("ZSTD", "UNCOMPRESSED")  # Arrow's own zstd: cramjam's took 4x as long on a 370 KB page


class Unusual(Exception):
    """A page this reader does not decode: the caller decodes the chunk with pyarrow."""


@dataclass(frozen=True)
class Chunk:
    """The v1 data pages of one column chunk, in order: page i holds rows [rows[i], rows[i + 1])
    of its row group, its compressed bytes at [at[i], at[i] + size[i]) of the chunk's bytes."""

    split: bool  # BYTE_STREAM_SPLIT, else PLAIN
    rows: np.ndarray  # n + 1 row starts
    at: np.ndarray
    size: np.ndarray
    raw: np.ndarray  # uncompressed size
    crc: np.ndarray  # -1: none written

    def overlapping(self, lo: int, hi: int) -> range:
        """Indexes of the pages holding any of the rows [lo, hi)."""
        a = int(np.searchsorted(self.rows, lo, "right")) - 1
        b = int(np.searchsorted(self.rows, hi, "left"))
        return range(max(a, 0), b)


def _varint(b, i: int) -> tuple[int, int]:
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


def _skip(b, i: int, t: int, in_list: bool = False) -> int:
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


def _struct(b, i: int, want: dict) -> tuple[dict, int]:
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


def layout(chunk, num_rows: int) -> Chunk:
    """The pages of a column chunk's bytes; Unusual unless all are v1 data pages of one encoding,
    PLAIN or BYTE_STREAM_SPLIT, whose values add up to `num_rows`."""
    rows, at, size, raw, crc, encodings = [0], [], [], [], [], set()
    pos, end = 0, len(chunk)
    while pos < end:  # one step per page: a handful
        try:
            h, n = _struct(chunk, pos, _PAGE_HEADER)
        except IndexError:
            raise Unusual("page header cut short") from None
        d = h.get(5)
        if h.get(1) != _DATA_PAGE or d is None or d.get(2) not in (_PLAIN, _SPLIT) or d.get(3, _RLE) != _RLE:
            raise Unusual("not a v1 PLAIN or BYTE_STREAM_SPLIT data page")
        encodings.add(d[2])
        values, csize = d.get(1, -1), h.get(3, -1)
        if values < 0 or csize < 0 or n + csize > end:
            raise Unusual("page sizes out of range")
        rows.append(rows[-1] + values)
        at.append(n)
        size.append(csize)
        raw.append(h.get(2, -1))
        crc.append(h[4] & 0xFFFFFFFF if 4 in h else -1)
        pos = n + csize
    if rows[-1] != num_rows:
        raise Unusual(f"pages hold {rows[-1]} values, the row group {num_rows} rows")
    if len(encodings) > 1:
        raise Unusual("pages of two encodings")
    return Chunk(_SPLIT in encodings, *(np.array(x, dtype=np.int64) for x in (rows, at, size, raw, crc)))


def _body(chunk, c: Chunk, i: int, codec: str) -> tuple[memoryview, int]:
    """Page i's decompressed bytes, checked against its checksum and sizes (ValueError if damaged)."""
    if codec not in _CODECS:
        raise Unusual(f"codec {codec}")
    a, n = int(c.at[i]), int(c.size[i])
    raw = memoryview(chunk)[a : a + n]
    if len(raw) != n:
        raise ValueError("column chunk cut short")
    if c.crc[i] >= 0 and zlib.crc32(raw) != c.crc[i]:
        raise ValueError("page checksum mismatch")
    want = int(c.raw[i])
    if codec == "UNCOMPRESSED":
        body = raw
    else:
        try:
            body = memoryview(pa.decompress(raw, want, codec="zstd"))
        except pa.ArrowException as e:
            raise ValueError(f"page does not decompress ({e})") from e
    if len(body) != want:
        raise ValueError("page decompresses to another size than its header says")
    return body, int(c.rows[i + 1] - c.rows[i])


def strings(chunk, c: Chunk, i: int, codec: str, max_def: int) -> pa.LargeStringArray:
    """The values of BYTE_ARRAY page i as a large_string array."""
    if c.split:
        raise Unusual("BYTE_STREAM_SPLIT strings")
    body, n = _body(chunk, c, i, codec)
    pos = _all_defined(body, n) if max_def else 0
    off, data = _plainpages.plain_strings(body, pos, n)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(off), pa.py_buffer(data))


def numbers(chunk, c: Chunk, i: int, codec: str, max_def: int, dtype) -> np.ndarray:
    """The values of INT32/INT64 page i. BYTE_STREAM_SPLIT holds byte k of every value in its k-th
    stream of n bytes: a transpose."""
    body, n = _body(chunk, c, i, codec)
    pos = _all_defined(body, n) if max_def else 0
    width = np.dtype(dtype).itemsize
    if len(body) - pos != n * width:
        raise ValueError("values do not fill their page")
    if not c.split:
        return np.frombuffer(body, dtype=dtype, count=n, offset=pos)
    streams = np.frombuffer(body, dtype=np.uint8, count=n * width, offset=pos).reshape(width, n)
    return np.ascontiguousarray(streams.T).view(dtype).reshape(n)


def _all_defined(body, n: int) -> int:
    """Where the values start after a nullable column's definition levels (4-byte length, RLE
    hybrid of bit width 1); Unusual unless they are one run of n ones (no null)."""
    if len(body) < 4:
        raise ValueError("page too short for its definition levels")
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
