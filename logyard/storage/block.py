"""Block files: immutable Parquet files of one tenant and one time window, many streams each.

Rows are grouped by stream, streams in the order of their label sets (rows.label_ranks), each
stream's rows sorted by (ts, line, meta), exact duplicates removed, so a reader of one block needs no
sort and no dedup. The footer says where each stream's rows start and row groups keep min/max
statistics of `ts`; a read selects only the row groups that can hold the wanted streams and times,
and only the wanted columns.
Writing goes to a temporary name, is fsynced and renamed, so a crash never leaves half a block
under a real name.
"""

from __future__ import annotations

import errno
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logyard.durable import fsync_dir, storage_error
from logyard.errors import CorruptDataError, StorageError
from logyard.labels import LabelSet
from logyard.needles import LineMatch
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage import block_counts, line_scan, line_time, trigrams
from logyard.storage.decoded_cache import DecodedCache
from logyard.storage.objects import is_store_failure, object_store_error


@dataclass
class StreamRanges:
    """Per-stream statistics of a block (parallel arrays, sorted by stream id)."""

    ids: np.ndarray
    min_ts: np.ndarray
    max_ts: np.ndarray
    rows: np.ndarray
    bytes: np.ndarray  # line bytes + metadata bytes
    # The row where each stream's rows start in the block (written to its footer; the index does
    # not keep it): None where not known.
    first_row: np.ndarray | None = field(default=None, compare=False)

    def overlapping(self, start_ns: int, end_ns: int) -> np.ndarray:
        """A mask of the streams with data in [start_ns, end_ns)."""
        return (self.min_ts < end_ns) & (self.max_ts >= start_ns)


@dataclass
class BlockInfo:
    """What the index records about a block."""

    tenant: str
    window_start: int
    path: str  # relative to the data directory
    min_ts: int
    max_ts: int
    rows: int
    bytes: int  # file size
    line_bytes: int
    streams: StreamRanges
    id: int = 0
    level: int = 0  # 0 = written by a flush, 1 = written by compaction


def stream_ranges(table: pa.Table) -> StreamRanges:
    """Per-stream statistics of a table grouped by stream, each stream's rows sorted by ts."""
    meta_len = pc.binary_length(table.column("meta")).to_numpy(zero_copy_only=False)
    return _ranges(table.column("stream").to_numpy(), table.column("ts").to_numpy(),
                   table.column("len").to_numpy().astype(np.int64) + meta_len)


def _ranges(stream: np.ndarray, ts: np.ndarray, per_row: np.ndarray) -> StreamRanges:
    starts = np.concatenate(([0], np.flatnonzero(np.diff(stream)) + 1))
    ends = np.concatenate((starts[1:], [len(stream)]))
    nbytes = np.add.reduceat(per_row, starts).astype(np.int64)
    by_id = np.argsort(stream[starts], kind="stable")  # runs in block order -> ids in order
    starts, ends, nbytes = starts[by_id], ends[by_id], nbytes[by_id]
    return StreamRanges(
        ids=stream[starts].astype(np.int64),
        min_ts=ts[starts].astype(np.int64),
        max_ts=ts[ends - 1].astype(np.int64),
        rows=(ends - starts).astype(np.int64),
        bytes=nbytes,
        first_row=starts.astype(np.int64),
    )


def row_group_bounds(lens: np.ndarray) -> list[tuple[int, int]]:
    """Row groups of at most BLOCK_ROW_GROUP_ROWS rows and about BLOCK_ROW_GROUP_BYTES of line text
    (at least one row), so that pruning by stream, time or trigram skips similar amounts of work."""
    cum = np.concatenate(([0], np.cumsum(lens, dtype=np.int64)))
    n, out, lo = len(lens), [], 0
    while lo < n:  # one step per row group
        by_bytes = int(np.searchsorted(cum, cum[lo] + F.BLOCK_ROW_GROUP_BYTES, "right")) - 1
        hi = max(lo + 1, min(lo + F.BLOCK_ROW_GROUP_ROWS, by_bytes, n))
        out.append((lo, hi))
        lo = hi
    return out


def write_block(table: pa.Table, data_dir: Path, rel_path: str, *, tenant: str, window_start: int,
                level: int = 0, order: np.ndarray | None = None, gather: R.Gather | None = None,
                labels_of: Callable[[int], LabelSet] | None = None, replaces: Sequence[str] = (),
                names: dict[str, set[int]] | None = None) -> BlockInfo:
    """Write a sorted, duplicate-free table (BLOCK_COLUMNS) as a block; fsync, then rename.

    `labels_of(stream id)` gives the label sets stored in the footer (BLOCK_STREAMS_KEY), from
    which the index can be rebuilt; the footer also holds the per-stream statistics
    (BLOCK_RANGES_KEY) and `replaces`, the blocks this one takes the place of (BLOCK_REPLACES_KEY),
    so that a rebuild from the footers alone ignores them if they outlived the swap (objects.py).
    On failure (OSError) no file is left behind.

    With `order`, the block holds the rows `order` of `table` (stream, ts, line, meta; `len` is
    computed), gathered one row group at a time: a flush (or a compaction) then never holds a
    sorted copy of the whole head (or of the blocks it merges) beside it, only one row group of it;
    a compacted block's trigram maps and cut lines are made a row group at a time too. `gather` (of `table`) may be
    passed so that the blocks of several windows share its preparation.

    `names` (structured-metadata name -> ids of the streams whose rows carry it, BLOCK_META_NAMES_KEY)
    when the caller knows them already: compaction, whose rows are all those of the blocks it
    merges, takes the union of their footers; else they are found in the rows, a JSON parse of
    every distinct metadata value.
    """
    if order is not None and gather is None:
        gather = R.Gather(table)
    n = table.num_rows if order is None else len(order)
    if n == 0:
        raise AssertionError("BUG: writing an empty block")
    meta = {"version": F.BLOCK_FORMAT_VERSION, "tenant": tenant, "window_start": window_start}
    # Added through the writer, not the Arrow schema: the schema is also stored base64-encoded in
    # the footer, which would hold the bitmaps twice.
    kv = {F.BLOCK_META_KEY: orjson.dumps(meta)}
    if order is None:
        # Cast before combining: the head's 32-bit string offsets could not hold a large block.
        table = table.select(list(F.BLOCK_COLUMNS)).cast(F.BLOCK_SCHEMA).combine_chunks()
        lens = table.column("len").to_numpy()
        ranges = stream_ranges(table)
        stream, ts = R._np(table.column("stream")), R._np(table.column("ts"))
    else:
        assert gather is not None
        lens = gather.column("line").length[order]
        stream, ts = gather.column("stream")[order], gather.column("ts")[order]
        ranges = _ranges(stream, ts, lens + gather.column("meta").length[order])
    kv[F.BLOCK_COUNTS_KEY] = block_counts.encode(block_counts.cells(stream, ts, lens))
    bounds = row_group_bounds(lens)
    schema = F.BLOCK_SCHEMA
    if level > 0:  # compacted blocks are read for months; flushed ones live minutes
        schema = F.COMPACT_SCHEMA
    if labels_of is not None:  # one step per stream of the block
        kv[F.BLOCK_STREAMS_KEY] = orjson.dumps([[sid, list(labels_of(sid))] for sid in ranges.ids.tolist()])
    kv[F.BLOCK_RANGES_KEY] = orjson.dumps({
        "ids": ranges.ids, "min_ts": ranges.min_ts, "max_ts": ranges.max_ts, "rows": ranges.rows,
        "bytes": ranges.bytes, "first_row": ranges.first_row, "line_bytes": int(lens.sum()), "level": level},
        option=orjson.OPT_SERIALIZE_NUMPY)
    if replaces:
        kv[F.BLOCK_REPLACES_KEY] = orjson.dumps(list(replaces))
    final = data_dir / rel_path
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + F.TMP_SUFFIX)
    try:
        _write_file(table, tmp, schema, kv, bounds, level, order, gather, names)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return BlockInfo(
        tenant=tenant,
        window_start=window_start,
        path=rel_path,
        min_ts=int(ranges.min_ts.min()),
        max_ts=int(ranges.max_ts.max()),
        rows=n,
        bytes=final.stat().st_size,
        line_bytes=int(lens.sum()),
        streams=ranges,
        level=level,
    )


def _write_file(table: pa.Table, tmp: Path, schema: pa.Schema, kv: dict, bounds: list[tuple[int, int]], level: int,
                order: np.ndarray | None, gather: R.Gather | None, known: dict[str, set[int]] | None) -> None:
    # An Arrow file, not a Python one: each write of the encoder then needs no GIL (flushes share the
    # server process with the event loop and the appends).
    with pa.OSFile(str(tmp), "wb") as f:
        with pq.ParquetWriter(
            f,
            schema,
            compression=F.BLOCK_COMPRESSION if level else F.FLUSH_COMPRESSION,
            compression_level=F.COMPACT_COMPRESSION_LEVEL if level else None,
            data_page_size=F.BLOCK_DATA_PAGE_BYTES,
            use_dictionary=F.BLOCK_DICTIONARY_COLUMNS,
            column_encoding=F.BLOCK_COLUMN_ENCODING,
            write_statistics=F.BLOCK_STATS_COLUMNS,
            write_page_checksum=F.BLOCK_PAGE_CHECKSUMS,
        ) as writer:
            names: dict[str, set[int]] = {} if known is None else known
            maps = trigrams.MapBuilder() if level > 0 else None
            for lo, hi in bounds:  # one step per row group
                if order is None:
                    piece = table.slice(lo, hi - lo)
                else:
                    assert gather is not None
                    piece = R.with_len(gather.take(order[lo:hi])).select(list(F.BLOCK_COLUMNS)).cast(F.BLOCK_SCHEMA)
                if known is None:
                    block_counts.merge_names(names, block_counts.meta_names(piece.column("meta"),
                                                                            R._np(piece.column("stream"))))
                if maps is not None:
                    piece = _compacted(piece, maps)
                writer.write_table(piece, row_group_size=hi - lo)
            if maps is not None:
                kv = {**kv, F.BLOCK_TRIGRAM_LOWER_KEY: maps.blob()}
            writer.add_key_value_metadata({**kv, F.BLOCK_META_NAMES_KEY: block_counts.encode_names(names)})
        os.fsync(f.fileno())


def _compacted(piece: pa.Table, maps: trigrams.MapBuilder) -> pa.Table:
    """One row group as a compacted block stores it: its trigram map added to `maps`, its lines
    without their own timestamps (line_time) and the codes that restore them."""
    line = piece.column("line").combine_chunks()
    maps.add(line)
    cut, codes = line_time.strip(line, R._np(piece.column("ts")))
    i = piece.schema.get_field_index("line")
    return piece.set_column(i, "line", cut).append_column(F.LINE_TIME_COLUMN, pa.array(codes))


def describe_block(r: BlockReader, size: int) -> tuple[BlockInfo, dict[int, LabelSet], list[str]]:
    """What the index records about a block, its streams' label sets and the blocks it replaces,
    read from the block alone (to rebuild the index from the blocks, or from an object store):
    the footer when it carries BLOCK_RANGES_KEY, else the stream, ts, len and meta columns too.
    `size` is the file's. Raises CorruptDataError if it does not decode or predates
    BLOCK_STREAMS_KEY (its stream ids then name no labels)."""
    rel_path = r.name
    r._load()
    md = r._md
    assert md is not None
    kv = md.metadata or {}
    try:
        meta = orjson.loads(kv[F.BLOCK_META_KEY])
        tenant, window_start = meta["tenant"], meta["window_start"]
        pairs = orjson.loads(kv[F.BLOCK_STREAMS_KEY])
        labels = {int(sid): LabelSet((k, v) for k, v in ls) for sid, ls in pairs}
        replaces = [str(x) for x in orjson.loads(kv.get(F.BLOCK_REPLACES_KEY, b"[]"))]
        stats = orjson.loads(kv[F.BLOCK_RANGES_KEY]) if F.BLOCK_RANGES_KEY in kv else None
        if stats is not None:
            ranges = StreamRanges(*(np.array(stats[k], dtype=np.int64) for k in ("ids", "min_ts", "max_ts", "rows", "bytes")))
            rows, line_bytes, level = int(ranges.rows.sum()), int(stats["line_bytes"]), int(stats["level"])
            if rows != md.num_rows or len({len(ranges.ids), len(ranges.min_ts), len(ranges.rows), len(ranges.bytes)}) != 1:
                raise ValueError("per-stream statistics disagree with the row count")
    except KeyError as e:
        raise CorruptDataError(f"{rel_path}: block footer lacks {e} (written before logyard stored label sets "
                               f"in blocks: its streams cannot be named)") from e
    except (TypeError, ValueError, orjson.JSONDecodeError) as e:
        raise CorruptDataError(f"{rel_path}: block footer metadata does not decode ({e})") from e
    if not isinstance(tenant, str) or not isinstance(window_start, int):
        raise CorruptDataError(f"{rel_path}: block footer names no tenant and window")
    if stats is None:
        with r.open() as pf:
            t = r.read(list(range(md.num_row_groups)), ["stream", "ts", "len"], pf)
            try:
                meta_col = pf.read(columns=["meta"], use_threads=False).column("meta")
            except (pa.ArrowException, OSError) as e:
                raise r._decode_error("column meta", e) from e
        meta_len = pc.binary_length(meta_col.cast(pa.string())).to_numpy(zero_copy_only=False)
        ranges = _ranges(R._np(t.column("stream")), R._np(t.column("ts")),
                         R._np(t.column("len")).astype(np.int64) + meta_len)
        rows, line_bytes = t.num_rows, int(R._np(t.column("len")).sum())
        level = 1 if r._line_time else 0  # only compaction at the high level cuts line time
    r.close()
    if rows == 0 or set(ranges.ids.tolist()) - set(labels):
        raise CorruptDataError(f"{rel_path}: block footer lacks the labels of some of its streams")
    info = BlockInfo(tenant=tenant, window_start=window_start, path=rel_path, min_ts=int(ranges.min_ts.min()),
                     max_ts=int(ranges.max_ts.max()), rows=rows, bytes=size, line_bytes=line_bytes,
                     streams=ranges, level=level)
    return info, {sid: labels[sid] for sid in ranges.ids.tolist()}, replaces


def stream_layout(blob: bytes, name: str, num_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids sorted, the row each one's rows start at, their rows) of the streams of a block of
    `num_rows` rows, from its BLOCK_RANGES_KEY; CorruptDataError naming the block and the key.
    Blocks written before `first_row` was stored hold their streams in id order: each starts where
    the one before ends."""
    try:
        r = orjson.loads(blob)
        ids, rows = np.array(r["ids"], dtype=np.int64), np.array(r["rows"], dtype=np.int64)
        first = (np.array(r["first_row"], dtype=np.int64) if "first_row" in r
                 else np.concatenate(([0], np.cumsum(rows)[:-1])).astype(np.int64))
    except (KeyError, TypeError, ValueError, OverflowError, orjson.JSONDecodeError) as e:
        raise CorruptDataError(f"{name}: {F.BLOCK_RANGES_KEY.decode()} does not decode ({e})") from e
    ok = len(ids) == len(rows) == len(first) and not (np.diff(ids) <= 0).any()
    if ok:  # one run a stream, end to end, over all the rows
        o = np.argsort(first)
        ends = np.cumsum(rows[o])
        ok = bool((rows > 0).all() and (first[o] == ends - rows[o]).all() and (ends[-1] if len(ends) else 0) == num_rows)
    if not ok:
        raise CorruptDataError(f"{name}: {F.BLOCK_RANGES_KEY.decode()}: its streams' rows do not tile the block")
    return ids, first, rows


_T = TypeVar("_T")
_MISSING = object()
_WANTED_KEPT = 8  # sets of stream ids whose wanted rows a reader keeps
_TRANSIENT = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.EINTR}


def _without_path(e: BaseException, path: Path) -> str:
    return str(e).replace(str(path), path.name)


# Open files of recently read blocks, kept for the next read of the same block (the footer and
# the reader's setup once). Each holds a descriptor, so they are few across all blocks, least
# recently used out first. Files are read, not memory-mapped: a mapping keeps every page a query
# touched resident in the server's own memory (its PSS) for as long as the file stays open, all
# the blocks of the bench day (~50 MiB) after a full scan; read, they stay in the page cache only,
# for one copy of the compressed bytes.
MAX_IDLE_FILES = 32
_idle_lock = threading.Lock()
_idle: OrderedDict[BlockReader, pq.ParquetFile] = OrderedDict()

# Line and metadata columns of the row groups that first-rows reads decoded (decoded_cache.py).
DECODED = DecodedCache(F.DECODED_CACHE_BYTES)


class BlockReader:
    """Reads row groups of one block; the footer and row-group statistics are parsed once.

    Safe for concurrent reads: each read takes an open file no other read holds. `close` (the
    block was discarded) drops the file kept open, so the deleted file's space is freed.
    Errors name the block by `name` (its path relative to the data directory).

    With `remote` (a block in an object store: it opens the object for ranged reads), the local
    file at `path` is a cached copy: read when present, else the object is, each read fetching only
    the row groups and columns it asks for (the footer is fetched once and kept). A failure of the
    store is a StorageError for that read, never damage that costs the block."""

    def __init__(self, path: Path, name: str | None = None, remote: Callable[[], pa.NativeFile] | None = None,
                 on_remote_read: Callable[[], None] | None = None, streams: np.ndarray | None = None) -> None:
        """`streams`: the sorted ids of the block's streams (its BlockInfo's), which lets the row-group
        checks below work on the streams present rather than on ranges of ids: stream ids are hashes,
        so a row group's [min, max] id range says little by itself."""
        self.path = path
        self.streams = streams
        self.name = name if name is not None else str(path)
        self.remote = remote
        self.on_remote_read = on_remote_read  # called when rows (not only the footer) are read remotely
        self._lock = threading.Lock()
        self._md: pq.FileMetaData | None = None
        self._rg: tuple[np.ndarray, ...] | None = None
        self._rows: np.ndarray | None = None
        self._trigrams: trigrams.TrigramIndex | None = None
        self._line_time = False  # `line` stored with its own timestamp cut out (line_time.py)
        self._footer_values: dict[bytes, object] = {}  # footer keys decoded on first use (_footer)
        self._left_cells: block_counts.Cells | None = None
        self._wanted: dict[bytes, np.ndarray | None] = {}  # _wanted_rows by the ids' bytes
        self._runs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # streams' rows: starts, ends, ids
        self._closed = False

    def close(self) -> None:
        with _idle_lock:
            self._closed = True
            _idle.pop(self, None)
        DECODED.discard(str(self.path))

    def _decode_error(self, what: str, e: BaseException) -> Exception:
        """CorruptDataError for bytes that do not decode (the block is then quarantined); a
        StorageError for a failure of the machine rather than of the file (too many open files, no
        memory), which must not cost the block."""
        if isinstance(e, OSError) and e.errno in _TRANSIENT:
            return storage_error(f"reading block {self.name}", e)
        if self.remote is not None and is_store_failure(e):
            return object_store_error(f"reading block {self.name}", e)
        if isinstance(e, FileNotFoundError):
            return CorruptDataError(f"{self.name}: block file is missing")
        return CorruptDataError(f"{self.name}: {what} does not decode ({_without_path(e, self.path)})")

    def _load(self) -> None:
        with self._lock:
            if self._md is not None:
                return
            try:
                md = pq.read_metadata(self._source())
            except (pa.ArrowException, OSError) as e:
                raise self._decode_error("block footer", e) from e
            names = md.schema.names
            try:
                version = orjson.loads((md.metadata or {})[F.BLOCK_META_KEY])["version"]
            except (KeyError, TypeError, orjson.JSONDecodeError) as e:
                raise CorruptDataError(f"{self.name}: block metadata lacks its format version") from e
            if isinstance(version, int) and version > F.BLOCK_FORMAT_VERSION:
                # Not damage: a newer logyard wrote it (a downgrade). Fail the read, keep the block.
                raise StorageError(f"{self.name}: block format version {version} is not one this logyard reads "
                                   f"(1 to {F.BLOCK_FORMAT_VERSION}): written by a newer one?")
            if not isinstance(version, int) or version < 1:
                raise CorruptDataError(f"{self.name}: block format version {version!r} is not valid")
            self._line_time = F.LINE_TIME_COLUMN in names
            try:
                si, ti = names.index("stream"), names.index("ts")
            except ValueError as e:
                raise CorruptDataError(f"{self.name}: block lacks the stream/ts columns") from e
            n = md.num_row_groups
            arr = np.zeros((4, n), dtype=np.int64)
            for i in range(n):  # one step per row group (a block has a handful)
                rg = md.row_group(i)
                for j, col in ((0, si), (2, ti)):
                    st = rg.column(col).statistics
                    if st is None or not st.has_min_max:
                        raise CorruptDataError(f"{self.name}: row group {i} column {names[col]} has no statistics")
                    arr[j, i], arr[j + 1, i] = st.min, st.max
            self._rg = (arr[0], arr[1], arr[2], arr[3])
            self._rows = np.array([md.row_group(i).num_rows for i in range(n)], dtype=np.int64)
            kv = md.metadata or {}
            if (blob := kv.get(F.BLOCK_TRIGRAM_LOWER_KEY)) is not None:
                self._trigrams = trigrams.TrigramIndex(blob, n, self.name)
            elif (blob := kv.get(F.BLOCK_TRIGRAM_KEY)) is not None:  # written before the lowered maps
                self._trigrams = trigrams.TrigramIndex(blob, n, self.name, lowered=False)
            self._md = md

    def _source(self) -> Path | pa.NativeFile:
        """The local file when there is one, else the object (ranged reads). A cached copy evicted
        between two reads is not damage: the object is read instead."""
        if self.remote is None:
            return self.path
        try:
            return pa.OSFile(str(self.path))
        except FileNotFoundError:
            pass
        try:
            return self.remote()
        except (pa.ArrowException, OSError) as e:
            raise self._decode_error("block object", e) from e

    def row_groups(self, ids: np.ndarray | None, start_ns: int, end_ns: int,
                   needs: trigrams.Needs | None = None) -> list[int]:
        """Row groups that may hold rows of the sorted `ids` (None = all) in [start_ns, end_ns),
        and, with `needs` (a query's line hint), lines that may meet it."""
        self._load()
        smin, smax, tmin, tmax = self._rg  # type: ignore[misc]
        ok = (tmin < end_ns) & (tmax >= start_ns)
        if ids is not None:
            wanted = self._wanted_rows(ids)
            if wanted is not None:
                ok &= wanted > 0
            else:  # a block without its streams' rows in the footer: by the ids' ranges
                ids = self._present(ids)
                ok &= np.searchsorted(ids, smin, "left") < np.searchsorted(ids, smax, "right")
        sel = np.flatnonzero(ok)
        if needs and self._trigrams is not None and sel.size:
            sel = sel[self._trigrams.passing(needs)[sel]]
        return sel.tolist()

    def covers(self, row_groups: list[int], ids: np.ndarray | None, start_ns: int, end_ns: int) -> bool:
        """Whether every row of these row groups is wanted (then the reader need not filter):
        their time range lies inside the window and every stream id in their range is in `ids`."""
        smin, smax, tmin, tmax = self._rg  # type: ignore[misc]
        g = np.asarray(row_groups, dtype=np.int64)
        if not ((tmin[g] >= start_ns) & (tmax[g] < end_ns)).all():
            return False
        if ids is None:
            return True
        wanted = self._wanted_rows(ids)
        if wanted is not None:
            return bool((wanted[g] == self._rows[g]).all())  # type: ignore[index]
        inside = np.searchsorted(ids, smax[g], "right") - np.searchsorted(ids, smin[g], "left")
        if self.streams is None:
            return bool((inside == smax[g] - smin[g] + 1).all())  # ids are unique and sorted
        present = self.streams  # every stream of the block in the range is wanted
        ids = self._present(ids)
        inside = np.searchsorted(ids, smax[g], "right") - np.searchsorted(ids, smin[g], "left")
        return bool((inside == np.searchsorted(present, smax[g], "right") - np.searchsorted(present, smin[g], "left")).all())

    def _wanted_rows(self, ids: np.ndarray) -> np.ndarray | None:
        """How many rows of each row group belong to the sorted `ids`, from where each stream's rows
        lie in the block (its footer: streams sit in label order, not id order, so a row group's
        [min, max] id range says little); None for a block whose footer does not say.

        Kept for the last few sets of ids: a query asks again for each read of the block (which
        windows to read, its row groups, whether they are covered), a refreshing panel for each
        refresh."""
        key = ids.tobytes()
        got = self._wanted.get(key, _MISSING)
        if got is _MISSING:
            got = self._count_wanted_rows(ids)
            if len(self._wanted) >= _WANTED_KEPT:
                self._wanted.clear()
            self._wanted[key] = got
        return got  # type: ignore[return-value]

    def _count_wanted_rows(self, ids: np.ndarray) -> np.ndarray | None:
        layout = self._footer(F.BLOCK_RANGES_KEY,
                              lambda blob, name: stream_layout(blob, name, self._md.num_rows))  # type: ignore[union-attr]
        if layout is None:
            return None
        sids, first, rows = layout
        counts = self._rows
        assert counts is not None
        if not ids.size or not sids.size:
            return np.zeros(len(counts), dtype=np.int64)
        at = np.minimum(np.searchsorted(sids, ids), sids.size - 1)
        at = at[sids[at] == ids]
        if not at.size:
            return np.zeros(len(counts), dtype=np.int64)
        by_row = np.argsort(first[at])
        a, n = first[at][by_row], rows[at][by_row]  # the wanted runs [a, a + n), in row order
        before = np.concatenate(([0], np.cumsum(n)))
        bounds = np.concatenate(([0], np.cumsum(counts)))
        k = np.searchsorted(a, bounds, "right") - 1  # the last wanted run starting at or before each bound
        kk = np.maximum(k, 0)
        upto = np.where(k >= 0, before[kk] + np.clip(bounds - a[kk], 0, n[kk]), 0)  # wanted rows before each bound
        return np.diff(upto)

    def streams_of_rows(self, row_groups: list[int]) -> np.ndarray | None:
        """The stream id of every row of these row groups, in order, from where each stream's rows
        lie in the block (its footer), so that a read need not decode the `stream` column (~50 us a
        row group); None for a block whose footer does not say."""
        if self._runs is None:
            layout = self._footer(F.BLOCK_RANGES_KEY,
                                  lambda blob, name: stream_layout(blob, name, self._md.num_rows))  # type: ignore[union-attr]
            if layout is None:
                return None
            sids, first, rows = layout
            o = np.argsort(first)
            self._runs = (first[o], first[o] + rows[o], sids[o])
        starts, ends, sids = self._runs
        bounds = np.concatenate(([0], np.cumsum(self._rows)))  # type: ignore[arg-type]
        parts = []
        for g in row_groups:  # one step per row group read: a handful
            lo, hi = int(bounds[g]), int(bounds[g + 1])
            a, b = np.searchsorted(ends, lo, "right"), np.searchsorted(starts, hi, "left")  # the runs in [lo, hi)
            parts.append(np.repeat(sids[a:b], np.minimum(ends[a:b], hi) - np.maximum(starts[a:b], lo)))
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def _present(self, ids: np.ndarray) -> np.ndarray:
        """The wanted ids (sorted) the block holds: all of `ids` when it does not know its streams."""
        if self.streams is None or ids.size == 0:
            return ids
        at = np.minimum(np.searchsorted(self.streams, ids), self.streams.size - 1)
        return ids[self.streams[at] == ids]

    def _footer(self, key: bytes, decode: Callable[[bytes, str], _T]) -> _T | None:
        """The footer's value under `key`, `decode(blob, block name)`d once and kept (footers are
        small); None for a block written before that key was stored."""
        self._load()
        if key not in self._footer_values:  # two threads may both decode it: the same value
            blob = (self._md.metadata or {}).get(key)  # type: ignore[union-attr]
            self._footer_values[key] = None if blob is None else decode(blob, self.name)
        return self._footer_values[key]  # type: ignore[return-value]

    def cells(self, left: bool = False) -> block_counts.Cells | None:
        """Rows and line bytes per stream and minute (block_counts.py), closed on the left when
        `left`; None for a block written before they were stored. Both kept once made (small)."""
        c = self._footer(F.BLOCK_COUNTS_KEY, block_counts.decode)
        if c is None or not left:
            return c
        if self._left_cells is None:
            self._left_cells = block_counts.left_closed(c)
        return self._left_cells

    def meta_names(self) -> dict[str, np.ndarray] | None:
        """Each structured-metadata name its rows carry -> the sorted ids of the streams whose rows
        do; None for a block written before they were stored."""
        return self._footer(F.BLOCK_META_NAMES_KEY, block_counts.decode_names)

    def row_group_rows(self) -> np.ndarray:
        """Rows of each row group."""
        self._load()
        return self._rows  # type: ignore[return-value]

    @contextmanager
    def open(self) -> Iterator[pq.ParquetFile]:
        """The block as a ParquetFile for this thread's reads, kept open for the next read after.

        No pre-buffering (it only hands each read to Arrow's I/O threads and waits) and no
        decoding threads in `read` (window reads already run two at once): both cost more in
        thread wake-ups than they save, about 4 ms of a 10 ms log query (measured memory-mapped).
        """
        self._load()
        with _idle_lock:
            pf = _idle.pop(self, None)
        if pf is None:
            try:
                src = self._source()
                # Over the network each read of a column chunk is a round trip: pre-buffering
                # coalesces the chunks of a read into few ranged GETs, fetched at once. Local files are
                # read, not memory-mapped: a mapping keeps every page a query touched in the PSS.
                remote = not isinstance(src, (Path, pa.OSFile))
                pf = pq.ParquetFile(src, metadata=self._md, memory_map=False, read_dictionary=["meta"],
                                    pre_buffer=remote, page_checksum_verification=F.BLOCK_PAGE_CHECKSUMS)
            except (pa.ArrowException, OSError) as e:
                raise self._decode_error("block file", e) from e
            if remote and self.on_remote_read is not None:
                self.on_remote_read()
        try:
            yield pf
        finally:
            with _idle_lock:
                if not self._closed and self not in _idle:  # one kept per block
                    _idle[self] = pf
                    while len(_idle) > MAX_IDLE_FILES:
                        _idle.popitem(last=False)

    def read(self, row_groups: list[int], columns: list[str], pf: pq.ParquetFile | None = None) -> pa.Table:
        if pf is None:
            with self.open() as pf:
                return self.read(row_groups, columns, pf)
        cut = "line" in columns and self._line_time
        want = columns if not cut else list(dict.fromkeys([*columns, "ts", F.LINE_TIME_COLUMN]))
        try:
            t = pf.read_row_groups(row_groups, columns=want, use_threads=False)
        except (pa.ArrowException, OSError) as e:
            raise self._decode_error(f"row groups {row_groups}", e) from e
        if not cut:
            return t
        try:
            line = line_time.restore(t.column("line").combine_chunks(), R._np(t.column("ts")),
                                     R._np(t.column(F.LINE_TIME_COLUMN)))
        except ValueError as e:
            raise CorruptDataError(f"{self.name}: row groups {row_groups}: {F.LINE_TIME_COLUMN} ({e})") from e
        return t.set_column(t.schema.get_field_index("line"), "line", line).select(columns)

    def read_matching(self, row_groups: list[int], columns: list[str], match: LineMatch, ids: np.ndarray,
                      start_ns: int, end_ns: int, scanned: line_scan.Scanned) -> pa.Table:
        """The rows of sorted `ids` in [start_ns, end_ns) of these row groups whose line `match`
        keeps; the rows in that range are counted into `scanned`. The lines are searched as stored
        (line_scan.py) and only the kept ones restored, when `line` is asked for at all."""
        with self.open() as pf:
            return self._read_matching(row_groups, columns, match, ids, start_ns, end_ns, scanned, pf)

    def _read_matching(self, row_groups: list[int], columns: list[str], match: LineMatch, ids: np.ndarray,
                       start_ns: int, end_ns: int, scanned: line_scan.Scanned, pf: pq.ParquetFile) -> pa.Table:
        want = list(dict.fromkeys([*columns, "stream", "ts", "line", *((F.LINE_TIME_COLUMN,) if self._line_time else ()),
                                   *(("meta",) if scanned.meta else ())]))
        stream = self.streams_of_rows(row_groups)
        if stream is not None:
            want.remove("stream")
        try:
            t = pf.read_row_groups(row_groups, columns=want, use_threads=False)
        except (pa.ArrowException, OSError) as e:
            raise self._decode_error(f"row groups {row_groups}", e) from e
        if stream is not None:
            if len(stream) != t.num_rows:
                raise CorruptDataError(f"{self.name}: row groups {row_groups}: {t.num_rows} rows, its footer's streams {len(stream)}")
            t = t.append_column("stream", pa.array(stream))
        ts = R._np(t.column("ts")) if self._line_time else None
        codes = R._np(t.column(F.LINE_TIME_COLUMN)) if self._line_time else None
        try:
            keep = line_scan.mask(t.column("line"), match, ts, codes)
        except ValueError as e:
            raise CorruptDataError(f"{self.name}: row groups {row_groups}: {F.LINE_TIME_COLUMN} ({e})") from e
        inside = None
        if not self.covers(row_groups, ids, start_ns, end_ns):
            inside = R.row_mask(R._np(t.column("stream")), R._np(t.column("ts")), ids, start_ns, end_ns)
            keep &= inside
        scanned.add(t.column("line"), codes, t.column("meta") if scanned.meta else None, inside)
        if "line" not in columns:  # numbers only: a copy of the kept rows costs less than slicing runs
            return t.select(columns).filter(pa.array(keep))
        t = R.keep_rows(t, keep)
        if not self._line_time:
            return t.select(columns)
        try:
            line = line_time.restore(t.column("line").combine_chunks(), R._np(t.column("ts")),
                                     R._np(t.column(F.LINE_TIME_COLUMN)))
        except ValueError as e:
            raise CorruptDataError(f"{self.name}: row groups {row_groups}: {F.LINE_TIME_COLUMN} ({e})") from e
        return t.set_column(t.schema.get_field_index("line"), "line", line).select(columns)

    def read_first(self, row_groups: list[int], columns: list[str], ids: np.ndarray, start_ns: int,
                   end_ns: int, limit: int, backward: bool) -> pa.Table:
        """The rows of `ids` in [start_ns, end_ns) narrowed by `rows.first_rows_mask`: the `limit`
        newest (backward) or oldest of them and their ties, in block order (grouped by stream).

        Two passes: stream and ts of every candidate row group first (a small fraction of the
        bytes), then the other columns of only the row groups that hold a wanted row.
        """
        with self.open() as pf:
            keys = self.read(row_groups, ["stream", "ts"], pf)
            stream, ts = R._np(keys.column("stream")), R._np(keys.column("ts"))
            keep = R.first_rows_mask(ts, R.row_mask(stream, ts, ids, start_ns, end_ns), limit, backward)
            counts = self.row_group_rows()[row_groups]
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            hit = np.logical_or.reduceat(keep, starts) if len(keep) else np.zeros(0, dtype=bool)
            sel = np.flatnonzero(keep)
            arrays = {"stream": pa.array(stream[sel]), "ts": pa.array(ts[sel])}
            rest = [c for c in columns if c not in ("stream", "ts")]
            if rest:
                cols = tuple(rest)
                parts = [DECODED.get(str(self.path), g, cols, lambda g=g: self.read([g], rest, pf))
                         for g, h in zip(row_groups, hit.tolist()) if h]
                if not parts:  # the statistics named row groups none of whose rows is wanted
                    other = pf.schema_arrow.empty_table().select(rest)
                else:
                    other = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
                # Positions of the wanted rows among the rows of the row groups read.
                pos = np.flatnonzero(keep[np.repeat(hit, counts)])
                other = R.take_few(other, pos)
                arrays.update(zip(other.column_names, other.columns))
        return pa.Table.from_arrays([arrays[c] for c in columns], names=list(columns))
