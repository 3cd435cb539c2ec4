"""A block's rows counted without its rows: per stream and minute, how many rows and line bytes,
and which structured-metadata names its rows carry. Both are written in the block's footer.

Count queries over a bare selector (`count_over_time`, `rate`, `bytes_over_time`, `bytes_rate`)
whose window edges fall on whole minutes need no timestamp of any row: a minute's rows all fall
between the same two edges, so each minute counts as one weighted sample at its end. The metadata
names tell the query whether metadata could change a row's series (`sum by (x)` where some row
has metadata `x`); when it cannot, the `meta` column is not read either.

A cell is the rows of one stream with `T - grain < ts <= T`, `T` a multiple of the grain since the
epoch (closed on the right like Loki's range windows `(t - range, t]`); a block's cells also lie
in its window `[w, w + window)`, so its first and last cells may hold only part of their minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

from logyard.errors import CorruptDataError
from logyard.storage import format as F

_HEADER = np.dtype([("version", "<u4"), ("cells", "<u4"), ("grain", "<i8"), ("raw", "<u8")])
_CELL_ARRAYS = (("stream", "<i8"), ("end", "<i8"), ("rows", "<u4"), ("bytes", "<u8"), ("end_rows", "<u4"),
                ("end_bytes", "<u8"))


@dataclass(frozen=True)
class Cells:
    """The cells of a block, grouped by stream (in the block's order), by end within each
    (`left_closed`'s: sorted by (stream, end)): parallel arrays."""

    grain: int
    stream: np.ndarray  # int64 stream ids
    end: np.ndarray  # int64: T, the cell holds ts in (T - grain, T]
    rows: np.ndarray  # int64
    bytes: np.ndarray  # int64: UTF-8 bytes of the lines
    # Of those, the rows with ts == end exactly (and their bytes): what moves to the next cell
    # when the cells are closed on the left instead (`left_closed`, for index/volume's buckets).
    end_rows: np.ndarray
    end_bytes: np.ndarray
    left: bool = False  # closed on the left: `end` is then the start S, rows in [S, S + grain)


def cells(stream: np.ndarray, ts: np.ndarray, lens: np.ndarray, grain: int = F.BLOCK_COUNT_GRAIN_NS) -> Cells:
    """The cells of rows grouped by stream, each stream's rows sorted by ts."""
    end = -(-ts // grain) * grain  # ceil to the grain: (T - grain, T] -> T
    if len(stream) == 0:
        z = np.zeros(0, np.int64)
        return Cells(grain, z, z, z, z, z, z)
    new = np.ones(len(stream), dtype=bool)
    new[1:] = (stream[1:] != stream[:-1]) | (end[1:] != end[:-1])
    starts = np.flatnonzero(new)
    lens = lens.astype(np.int64)
    on_end = ts == end
    return Cells(grain, stream[starts].astype(np.int64), end[starts].astype(np.int64),
                 np.diff(np.append(starts, len(stream))).astype(np.int64), np.add.reduceat(lens, starts),
                 np.add.reduceat(on_end.astype(np.int64), starts), np.add.reduceat(np.where(on_end, lens, 0), starts))


def left_closed(c: Cells) -> Cells:
    """The same rows in cells closed on the left, [S, S + grain): a cell's rows but those at its
    end, plus the rows at the end of the cell before (they start the next minute)."""
    if c.left:
        return c
    stream = np.concatenate([c.stream, c.stream])
    start = np.concatenate([c.end - c.grain, c.end])
    rows = np.concatenate([c.rows - c.end_rows, c.end_rows])
    nbytes = np.concatenate([c.bytes - c.end_bytes, c.end_bytes])
    keep = rows > 0
    stream, start, rows, nbytes = stream[keep], start[keep], rows[keep], nbytes[keep]
    order = np.lexsort((start, stream))
    stream, start, rows, nbytes = stream[order], start[order], rows[order], nbytes[order]
    new = np.ones(len(stream), dtype=bool)
    new[1:] = (stream[1:] != stream[:-1]) | (start[1:] != start[:-1])
    first = np.flatnonzero(new)
    z = np.zeros(len(first), np.int64)
    if not len(first):
        return Cells(c.grain, z, z, z, z, z, z, left=True)
    return Cells(c.grain, stream[first], start[first], np.add.reduceat(rows, first), np.add.reduceat(nbytes, first),
                 z, z, left=True)


def encode(c: Cells) -> bytes:
    """The footer blob (BLOCK_COUNTS_KEY): a header, then the four arrays zstd-compressed together
    (stream ids and ends as deltas: mostly the same small numbers, which compress to little)."""
    stream = np.diff(c.stream, prepend=np.int64(0)).astype("<i8")
    end = np.diff(c.end, prepend=np.int64(0)).astype("<i8")
    body = b"".join(a.tobytes() for a in (stream, end, c.rows.astype("<u4"), c.bytes.astype("<u8"),
                                          c.end_rows.astype("<u4"), c.end_bytes.astype("<u8")))
    packed = pa.Codec("zstd", compression_level=F.BLOCK_COUNTS_ZSTD_LEVEL).compress(body, asbytes=True)
    head = np.array([(F.BLOCK_COUNTS_VERSION, len(c.stream), c.grain, len(body))], dtype=_HEADER)
    return head.tobytes() + packed


def decode(blob: bytes, name: str) -> Cells:
    """The cells of a footer blob; CorruptDataError naming the block and the field."""
    if len(blob) < _HEADER.itemsize:
        raise CorruptDataError(f"{name}: {F.BLOCK_COUNTS_KEY.decode()}: header cut short")
    head = np.frombuffer(blob, dtype=_HEADER, count=1)[0]
    version, n, grain, raw = (int(head[k]) for k in ("version", "cells", "grain", "raw"))
    if version != F.BLOCK_COUNTS_VERSION:
        raise CorruptDataError(f"{name}: {F.BLOCK_COUNTS_KEY.decode()}: version {version} is not 1")
    width = sum(np.dtype(t).itemsize for _, t in _CELL_ARRAYS)
    if grain <= 0 or raw != n * width:
        raise CorruptDataError(f"{name}: {F.BLOCK_COUNTS_KEY.decode()}: {n} cells do not fill {raw} bytes")
    try:
        body = pa.Codec("zstd").decompress(blob[_HEADER.itemsize:], raw, asbytes=True)
    except (pa.ArrowException, OSError) as e:
        raise CorruptDataError(f"{name}: {F.BLOCK_COUNTS_KEY.decode()}: does not decompress ({e})") from e
    if len(body) != raw:
        raise CorruptDataError(f"{name}: {F.BLOCK_COUNTS_KEY.decode()}: {len(body)} bytes, not {raw}")
    out, at = {}, 0
    for field, t in _CELL_ARRAYS:
        size = n * np.dtype(t).itemsize
        out[field] = np.frombuffer(body, dtype=t, count=n, offset=at).astype(np.int64)
        at += size
    return Cells(grain, np.cumsum(out["stream"]), np.cumsum(out["end"]), out["rows"], out["bytes"], out["end_rows"],
                 out["end_bytes"])


def meta_names(meta, stream: np.ndarray) -> dict[str, set[int]]:
    """Which streams' rows carry each structured-metadata name, from a `meta` column (canonical
    JSON objects, "" for none) and its rows' `stream`. The distinct values are parsed as one JSON
    array (one orjson call: a regex cutting the values out cost 4x more), then each distinct
    (stream, set of names) is visited once."""
    if isinstance(meta, pa.ChunkedArray):
        meta = meta.combine_chunks() if meta.num_chunks != 1 else meta.chunk(0)
    if len(meta) == 0:
        return {}
    if not pa.types.is_dictionary(meta.type):
        meta = meta.dictionary_encode()
    texts = meta.dictionary.to_pylist()
    try:
        objs = orjson.loads("[" + ",".join(t or "{}" for t in texts) + "]")
    except orjson.JSONDecodeError as e:
        raise AssertionError(f"BUG: structured metadata is not canonical JSON ({e})") from e
    sets: dict[tuple, int] = {}
    # per distinct value, at C speed but for the dict look-up: a key tuple's code
    code = np.fromiter((sets.setdefault(tuple(o), len(sets)) for o in objs), dtype=np.int64, count=len(objs))
    row_code = code[meta.indices.to_numpy(zero_copy_only=False)]
    stream = np.asarray(stream, dtype=np.int64)
    names_of = list(sets)
    if not any(names_of):
        return {}
    first = np.flatnonzero(np.append(True, stream[1:] != stream[:-1]))
    sids = stream[first]
    if np.unique(sids).size == sids.size:  # rows grouped by stream (a block's): one run each, no sort of the rows
        dense = np.repeat(np.arange(len(sids)), np.diff(np.append(first, len(stream))))
    else:
        sids, dense = np.unique(stream, return_inverse=True)
        dense = dense.reshape(-1)
    if len(sids) * len(sets) <= 1 << 22:  # a (stream, names) table: a scatter
        seen = np.zeros((len(sids), len(sets)), dtype=bool)
        seen[dense, row_code] = True
        pairs = np.argwhere(seen)
    else:
        flat = np.unique(dense * len(sets) + row_code)
        pairs = np.stack([flat // len(sets), flat % len(sets)], axis=1)
    out: dict[str, set[int]] = {}
    for j, k in pairs.tolist():  # one step per distinct (stream, set of names): a handful
        for n in names_of[k]:
            out.setdefault(n, set()).add(int(sids[j]))
    return out


def merge_names(into: dict[str, set[int]], more: dict[str, set[int]]) -> None:
    for n, sids in more.items():
        into.setdefault(n, set()).update(sids)


def encode_names(names: dict[str, set[int]]) -> bytes:
    """The footer blob (BLOCK_META_NAMES_KEY): {name: [stream ids]}."""
    return orjson.dumps({n: sorted(names[n]) for n in sorted(names)})


def decode_names(blob: bytes, name: str) -> dict[str, np.ndarray]:
    """name -> sorted stream ids whose rows carry it."""
    try:
        names = orjson.loads(blob)
    except orjson.JSONDecodeError as e:
        raise CorruptDataError(f"{name}: {F.BLOCK_META_NAMES_KEY.decode()} does not decode ({e})") from e
    if not isinstance(names, dict) or not all(isinstance(v, list) and all(isinstance(i, int) for i in v)
                                              for v in names.values()):
        raise CorruptDataError(f"{name}: {F.BLOCK_META_NAMES_KEY.decode()} is not a map of names to stream ids")
    return {n: np.asarray(v, dtype=np.int64) for n, v in names.items()}


def cells_in(c: Cells, ids: np.ndarray, window_start: int, window_ns: int, start_ns: int,
             end_ns: int) -> np.ndarray | None:
    """The cells of the sorted stream ids `ids` whose rows all lie in [start_ns, end_ns) (a mask),
    or None when some wanted cell's rows lie partly inside: then the block's timestamps decide.

    A cell's rows lie in (end - grain, end] ([end, end + grain) when `left`) and in the block's
    window; nothing tells where in it."""
    at = np.minimum(np.searchsorted(ids, c.stream), max(len(ids) - 1, 0))
    wanted = (ids[at] == c.stream) if len(ids) else np.zeros(len(c.stream), dtype=bool)
    lo = c.end if c.left else c.end - c.grain + 1
    first = np.maximum(lo, window_start)
    last = np.minimum(lo + c.grain - 1, window_start + window_ns - 1)
    inside = (first >= start_ns) & (last < end_ns)
    outside = (last < start_ns) | (first >= end_ns)
    if (wanted & ~inside & ~outside).any():
        return None
    return wanted & inside
