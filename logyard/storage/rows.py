"""Column operations on row tables shared by flush, compaction and reads: filter, sort, dedup.

A row table has some of the columns stream, ts, line, meta, len. Everything here is Arrow/NumPy
work over whole columns; nothing loops over rows in Python.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.labels import LabelSet
from logyard.storage._gather import copy_rows

META_TYPE = pa.dictionary(pa.int32(), pa.string())


def take(table: pa.Table, order: np.ndarray) -> pa.Table:
    """Rows in `order`, column by column: strings through `take_strings`, integers through NumPy
    (Table.take and ChunkedArray.take concatenate all chunks first: a full extra copy)."""
    return Gather(table).take(order)


class Gather:
    """`take` of several row subsets of one table (a flush writes a row group at a time): the
    per-row positions of the string columns and the integer columns are prepared once."""

    def __init__(self, table: pa.Table) -> None:
        self.schema = table.schema
        self.cols: list = []
        for f, c in zip(table.schema, table.columns):
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
                self.cols.append(_Strings(c))
            elif pa.types.is_integer(f.type):
                self.cols.append(_np(c))
            else:
                self.cols.append(_arr(c))

    def column(self, name: str):
        """The prepared column: a NumPy array (integers) or a `_Strings` (its `length` per row)."""
        return self.cols[self.schema.get_field_index(name)]

    def take(self, order: np.ndarray) -> pa.Table:
        cols = []
        for f, c in zip(self.schema, self.cols):
            if isinstance(c, _Strings):
                out = c.take(order)
                cols.append(out if pa.types.is_large_string(f.type) else out.cast(f.type))
            elif isinstance(c, np.ndarray):
                cols.append(pa.array(c[order], f.type))
            else:
                cols.append(c.take(pa.array(order)))
        return pa.Table.from_arrays(cols, schema=self.schema)


def take_strings(col, order: np.ndarray) -> pa.LargeStringArray:
    """Gather strings of a (chunked) string column by row order, as large_string, straight from
    the chunks (Arrow's take would first concatenate them: a full extra copy per call)."""
    return _Strings(col).take(order)


class _Strings:
    """A (chunked) string column prepared for gathers: where each row's bytes are."""

    def __init__(self, col) -> None:
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        sizes = [len(c) for c in chunks]
        n_all = sum(sizes)
        self.start = np.empty(n_all, dtype=np.int64)  # byte position of each row in its chunk's data
        self.length = np.empty(n_all, dtype=np.int64)
        datas = []
        r0 = 0
        for c in chunks:  # one step per chunk
            if c.null_count:
                raise AssertionError("BUG: null strings in a row column")
            width = 8 if pa.types.is_large_string(c.type) else 4
            off = np.frombuffer(c.buffers()[1], dtype=np.int64 if width == 8 else np.int32,
                                count=len(c) + 1, offset=c.offset * width).astype(np.int64)
            self.start[r0 : r0 + len(c)] = off[:-1]
            self.length[r0 : r0 + len(c)] = np.diff(off)
            buf = c.buffers()[2]
            datas.append(buf if buf is not None else b"")
            r0 += len(c)
        self.datas = tuple(datas)
        self.chunk_of = np.repeat(np.arange(len(chunks), dtype=np.int64), sizes) if len(chunks) > 1 else None

    def take(self, order: np.ndarray) -> pa.LargeStringArray:
        order = np.ascontiguousarray(order, dtype=np.int64)
        new_off = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(self.length[order], out=new_off[1:])
        out = np.empty(int(new_off[-1]), dtype=np.uint8)
        copy_rows(out, new_off, self.datas, self.chunk_of, self.start, order)  # a memcpy per row, in C
        return pa.LargeStringArray.from_buffers(len(order), pa.py_buffer(new_off), pa.py_buffer(out))


def _arr(col) -> pa.Array:
    """One contiguous array: `ChunkedArray.take` concatenates its chunks on every call."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


MAX_SLICES = 256


def select_rows(table: pa.Table, ids: np.ndarray | None, start_ns: int, end_ns: int) -> pa.Table:
    """Rows of the sorted unique streams `ids` (None = all) with start_ns <= ts < end_ns.

    Block rows are grouped by stream (streams in label order, ts ascending in each), so the wanted
    rows form a few contiguous runs: they are returned as zero-copy slices rather than a filtered
    copy when there are not too many runs.
    """
    if table.num_rows == 0:
        return table
    return keep_rows(table, row_mask(_np(table.column("stream")), _np(table.column("ts")), ids, start_ns, end_ns))


def row_mask(stream: np.ndarray, ts: np.ndarray, ids: np.ndarray | None, start_ns: int, end_ns: int) -> np.ndarray:
    """Which rows belong to the sorted unique streams `ids` (None = all) and [start_ns, end_ns)."""
    keep = (ts >= start_ns) & (ts < end_ns)
    if ids is not None and len(stream):
        top = int(stream.max())
        if ids.size and 0 <= int(stream.min()) and top <= 1 << 24:
            lut = np.zeros(top + 1, dtype=bool)  # small dense integers (ids of blocks before hashing)
            lut[ids[ids <= top]] = True
            keep &= lut[stream]
        elif (runs := stream_runs(stream)) is not None:
            starts, values = runs  # rows come in runs of one stream: test each run once
            at = np.minimum(np.searchsorted(ids, values), ids.size - 1) if ids.size else None
            wanted = ids[at] == values if at is not None else np.zeros(len(values), dtype=bool)
            keep &= np.repeat(wanted, np.diff(np.append(starts, len(stream))))
        else:
            keep &= np.isin(stream, ids)
    return keep


def stream_runs(stream: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(start rows, values) of the runs of equal stream ids, or None when runs are too short to pay.

    Stream ids are 63-bit hashes (index.stream_id), so tricks that index a table by id do not
    apply; but rows are grouped by stream in blocks and come in per-stream runs in a head, so a
    few comparisons per row find the runs and the per-id work shrinks to one step per run."""
    n = len(stream)
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(stream[1:], stream[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    if len(starts) * 4 > n:
        return None
    return starts, stream[starts]


def stream_codes(stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(stream, return_inverse=True)`, one sort of the runs' ids instead of the rows'."""
    runs = stream_runs(stream) if len(stream) else None
    if runs is None:
        uniq, codes = np.unique(stream, return_inverse=True)
        return uniq, codes.reshape(-1)
    starts, values = runs
    uniq, run_codes = np.unique(values, return_inverse=True)
    return uniq, np.repeat(run_codes.reshape(-1), np.diff(np.append(starts, len(stream))))


def label_ranks(stream: np.ndarray, labels_of: Callable[[int], LabelSet]) -> np.ndarray:
    """Each row's place in the order blocks keep streams in: its stream's rank among the rows'
    streams ordered by their label sets.

    Stream ids are hashes, so an order by id scatters the streams a selector picks (one service's
    containers, one project) over a block, and every row group holding one of them is read whole:
    with the bench day's 8 nginx streams, 9 row groups of the newest hour instead of 3. In label
    order the streams that share their leading labels are neighbours, in few row groups."""
    if not len(stream):
        return np.zeros(0, dtype=np.int64)
    uniq, codes = stream_codes(stream)
    ids = uniq.tolist()
    by_labels = sorted(range(len(ids)), key=lambda i: labels_of(ids[i]))  # one step per stream
    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_labels] = np.arange(len(ids), dtype=np.int64)
    return rank[codes]


def keep_rows(table: pa.Table, keep: np.ndarray) -> pa.Table:
    """The rows where `keep` is true: zero-copy slices when they form at most MAX_SLICES runs."""
    n = table.num_rows
    if keep.all():
        return table
    edges = np.flatnonzero(np.diff(keep.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [n]))
    starts = bounds[:-1][keep[bounds[:-1]]] if n else bounds[:0]
    if len(starts) == 0:
        return table.slice(0, 0)
    if len(starts) <= MAX_SLICES:
        ends = bounds[1:][keep[bounds[:-1]]]
        return pa.concat_tables([table.slice(a, b - a) for a, b in zip(starts.tolist(), ends.tolist())])
    return table.filter(pa.array(keep))


def take_few(table: pa.Table, pos: np.ndarray) -> pa.Table:
    """Rows at the sorted positions `pos`, one chunk per column, dictionary columns re-encoded over
    the taken values alone.

    For a few rows out of large row groups: a slice of a dictionary chunk keeps the row group's
    whole dictionary (thousands of trace ids), which every later join of chunks would copy.
    """
    idx = pa.array(pos, pa.int64())
    cols = []
    for f, col in zip(table.schema, table.columns):
        if not pa.types.is_dictionary(f.type):
            col = col.take(idx)  # Arrow gathers from the chunks without joining them first
            cols.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
            continue
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        bounds = np.cumsum([0] + [len(c) for c in chunks])
        cuts = np.searchsorted(pos, bounds).tolist()
        values = []
        for c, a, b, lo in zip(chunks, cuts[:-1], cuts[1:], bounds[:-1].tolist()):  # one step per row group
            if a < b:
                codes = c.indices.to_numpy(zero_copy_only=False)[pos[a:b] - lo]
                values.append(c.dictionary.take(pa.array(codes)))
        plain = pa.concat_arrays(values) if values else pa.array([], f.type.value_type)
        cols.append(pc.dictionary_encode(plain).cast(f.type))
    return pa.Table.from_arrays(cols, schema=table.schema)


def first_rows_mask(ts: np.ndarray, keep: np.ndarray, limit: int, backward: bool) -> np.ndarray:
    """`keep`, narrowed to the `limit` newest (backward) or oldest kept rows and every kept row
    tied with the last of them: a caller that orders rows by ts alone (stably) and takes `limit`
    gets the same rows from this subset as from all of `keep`, whatever order ties come in."""
    n = int(np.count_nonzero(keep))
    if n <= limit:
        return keep
    if limit <= 0:
        return np.zeros_like(keep)
    cand = ts[keep]
    if backward:
        bound = np.partition(cand, n - limit)[n - limit]  # the limit-th largest
        return keep & (ts >= bound)
    bound = np.partition(cand, limit - 1)[limit - 1]  # the limit-th smallest
    return keep & (ts <= bound)


def first_rows(table: pa.Table, limit: int, backward: bool) -> pa.Table:
    """`first_rows_mask` applied to a table (its order kept)."""
    if table.num_rows <= limit:
        return table
    ts = _np(table.column("ts"))
    return keep_rows(table, first_rows_mask(ts, np.ones(len(ts), dtype=bool), limit, backward))


def sorted_order(table: pa.Table, *, dedup: bool, major: np.ndarray | None = None,
                 key: np.ndarray | None = None) -> np.ndarray:
    """Row order by (major, stream, ts, line, meta), without exact duplicates when `dedup`; with
    `key` (one per row, equal for the rows of a stream and only for them: `label_ranks`), the
    streams come in the order of their keys instead of their ids.

    An exact duplicate has the same stream, timestamp, line and structured metadata (a retried
    push); entries differing only in their metadata are both kept, as Loki keeps them (its merge
    iterators and the ingester's duplicate check compare metadata too). Integer keys sort in NumPy;
    only the rare runs of equal (stream, ts) are ordered by line and metadata, so those columns are
    touched for those rows alone. `dedup` needs the line column (and the meta column, when the
    table has one).
    """
    stream = _np(table.column("stream")) if key is None else key
    ts = _np(table.column("ts"))
    order = _key_order(stream, ts, major)
    if not dedup or len(order) < 2:
        return order
    s, t = stream[order], ts[order]
    eq = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    if major is not None:
        m = major[order]
        eq &= m[1:] == m[:-1]
    if not eq.any():
        return order
    line = table.column("line")
    meta = table.column("meta") if "meta" in table.column_names else None
    involved = np.flatnonzero(np.concatenate(([False], eq)) | np.concatenate((eq, [False])))
    run = np.concatenate(([0], np.cumsum(~eq)))[involved]
    sub = {"run": run, "line": take_strings(line, order[involved])}
    keys = [("run", "ascending"), ("line", "ascending")]
    if meta is not None:
        sub["meta"] = _meta_strings(meta, order[involved])
        keys.append(("meta", "ascending"))
    perm = pc.sort_indices(pa.table(sub), sort_keys=keys).to_numpy()
    order[involved] = order[involved][perm]
    cand = np.flatnonzero(eq)  # position cand+1 may repeat position cand
    same = _bools(pc.equal(take_strings(line, order[cand + 1]), take_strings(line, order[cand])))
    if meta is not None and same.any():
        same &= _bools(pc.equal(_meta_strings(meta, order[cand + 1]), _meta_strings(meta, order[cand])))
    drop = cand[same] + 1
    return np.delete(order, drop) if drop.size else order


def _meta_strings(meta, idx: np.ndarray) -> pa.Array:
    """The metadata texts of some rows (canonical JSON, "" for none) as one plain string array;
    readers may hand the column over dictionary-encoded."""
    got = meta.take(pa.array(idx, pa.int64()))
    if isinstance(got, pa.ChunkedArray):
        got = got.combine_chunks() if got.num_chunks else pa.array([], got.type)
    if pa.types.is_dictionary(got.type):
        got = got.cast(got.type.value_type)
    return pc.fill_null(got.cast(pa.large_string()), "")


def _bools(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _key_order(stream: np.ndarray, ts: np.ndarray, major: np.ndarray | None) -> np.ndarray:
    """`np.lexsort((ts, stream, major))`, as one stable argsort of a packed int64 key when the key
    ranges fit in 63 bits (always for a block's hour; usually for a head): 4x faster, as pushed
    rows come in sorted runs (per stream of each push) that timsort merges."""
    n = len(ts)
    if n < 2:
        return np.arange(n)
    tmin, tmax = int(ts.min()), int(ts.max())
    smin, smax = int(stream.min()), int(stream.max())
    tbits = (tmax - tmin).bit_length()
    if smax - smin >= n:  # hashed ids: their ranks (same order) pack into a few bits
        uniq, stream = stream_codes(stream)
        smin, smax = 0, len(uniq) - 1
    groups = smax - smin + 1
    if major is not None:
        mmin = int(major.min())
        groups *= int(major.max()) - mmin + 1
    if tbits > 62 or groups > 1 << (63 - tbits):
        return np.lexsort((ts, stream) if major is None else (ts, stream, major))
    key = stream - np.int64(smin)
    if major is not None:
        key += (major - np.int64(mmin)) * np.int64(smax - smin + 1)
    key <<= np.int64(tbits)
    key |= ts - np.int64(tmin)
    return np.argsort(key, kind="stable")


def sort_dedup(table: pa.Table, key: np.ndarray | None = None) -> pa.Table:
    """Sorted by (stream, ts, line, meta) with exact duplicates removed, streams in the order of
    `key` (`sorted_order`'s); one `take` at most."""
    if table.num_rows <= 1:
        return table
    order = sorted_order(table, dedup=True, key=key)
    if len(order) == table.num_rows and (order[1:] > order[:-1]).all():
        return table
    return take(table, order)


def sort_rows(table: pa.Table, key: np.ndarray | None = None) -> pa.Table:
    """Sorted by (stream, ts) (no dedup, the line column is not needed), streams in the order of
    `key` (`sorted_order`'s)."""
    if table.num_rows <= 1:
        return table
    if _is_sorted(_np(table.column("stream")) if key is None else key, _np(table.column("ts"))):
        return table
    return take(table, sorted_order(table, dedup=False, key=key))


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
        elif c == "line" and col.type != pa.large_string():
            col = col.cast(pa.large_string())
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
