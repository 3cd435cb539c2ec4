"""Column operations on row tables shared by flush, compaction and reads: filter, sort, dedup.

A row table has some of the columns stream, ts, line, meta, len. Everything here is Arrow/NumPy
work over whole columns; nothing loops over rows in Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

META_TYPE = pa.dictionary(pa.int32(), pa.string())


def select_rows(table: pa.Table, ids: np.ndarray | None, start_ns: int, end_ns: int) -> pa.Table:
    """Rows of the streams `ids` (None = all) with start_ns <= ts < end_ns."""
    if table.num_rows == 0:
        return table
    ts = table.column("ts")
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start_ns, pa.int64())), pc.less(ts, pa.scalar(end_ns, pa.int64())))
    if ids is not None:
        mask = pc.and_(mask, pc.is_in(table.column("stream"), value_set=pa.array(ids, pa.int64())))
    if pc.all(mask).as_py():
        return table
    return table.filter(mask)


def sort_rows(table: pa.Table, by_line: bool) -> pa.Table:
    """Sort by (stream, ts), and by line too when `by_line` (needed to find exact duplicates)."""
    if table.num_rows <= 1:
        return table
    stream = _np(table.column("stream"))
    ts = _np(table.column("ts"))
    if by_line and "line" in table.column_names:
        keys = [("stream", "ascending"), ("ts", "ascending"), ("line", "ascending")]
        if _is_sorted(stream, ts) and not _has_equal_keys(stream, ts):
            return table
        return table.take(pc.sort_indices(table, sort_keys=keys))
    if _is_sorted(stream, ts):
        return table
    order = np.lexsort((ts, stream))
    return table.take(pa.array(order))


def drop_duplicates(table: pa.Table) -> pa.Table:
    """Drop rows equal to their predecessor in (stream, ts, line); the table must be sorted so."""
    n = table.num_rows
    if n <= 1:
        return table
    stream = _np(table.column("stream"))
    ts = _np(table.column("ts"))
    same_key = (stream[1:] == stream[:-1]) & (ts[1:] == ts[:-1])
    cand = np.flatnonzero(same_key)  # row cand+1 may repeat row cand
    if cand.size == 0:
        return table
    line = table.column("line")
    eq = pc.equal(line.take(pa.array(cand + 1)), line.take(pa.array(cand)))
    dup_rows = cand[np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)] + 1
    if dup_rows.size == 0:
        return table
    keep = np.ones(n, dtype=bool)
    keep[dup_rows] = False
    return table.filter(pa.array(keep))


def has_cross_duplicates(parts: list[pa.Table]) -> bool:
    """Whether two of the parts (each free of duplicates) share a (stream, ts) key."""
    if len(parts) < 2:
        return False
    keys = []
    for p in parts:
        if p.num_rows:
            keys.append(np.unique(_key(p)))
    if len(keys) < 2:
        return False
    allk = np.concatenate(keys)
    return np.unique(allk).size < allk.size


def _key(t: pa.Table) -> np.ndarray:
    # A 64-bit mix of (stream, ts); a collision only costs a needless line comparison.
    s = _np(t.column("stream")).astype(np.uint64)
    ts = _np(t.column("ts")).astype(np.uint64)
    return (ts ^ (s * np.uint64(0x9E3779B97F4A7C15))).view(np.int64)


def with_len(table: pa.Table) -> pa.Table:
    """Add `len` (UTF-8 bytes of each line) computed from the line offsets."""
    if "len" in table.column_names:
        return table
    return table.append_column("len", pc.cast(pc.binary_length(table.column("line")), pa.int32()))


def meta_as_dictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if col.type == META_TYPE:
        return col
    return pc.dictionary_encode(col).cast(META_TYPE)


def conform(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """The requested columns, in the requested order, with the public types."""
    arrays = []
    for c in columns:
        col = table.column(c)
        if c == "meta":
            col = meta_as_dictionary(col)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=list(columns))


def _np(col) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 1:
            return col.chunk(0).to_numpy()
        return col.to_numpy()
    return col.to_numpy()


def _is_sorted(stream: np.ndarray, ts: np.ndarray) -> bool:
    ds = np.diff(stream)
    if (ds < 0).any():
        return False
    same = ds == 0
    return not (np.diff(ts)[same] < 0).any()


def _has_equal_keys(stream: np.ndarray, ts: np.ndarray) -> bool:
    return bool(((stream[1:] == stream[:-1]) & (ts[1:] == ts[:-1])).any())
