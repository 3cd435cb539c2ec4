"""The write-ahead log: every `Store.append` is one CRC-checked record, written before it returns.

A segment is an 8-byte header then records `[u32 length][u32 crc32][payload]`. The payload carries
the Arrow buffers of the append's columns as they are in memory, handed to one `writev`: writing
copies nothing in Python, and replay rebuilds the arrays around the bytes read. A torn last record
(the process died inside `write`) is detected and cut off at open; a damaged record ends the replay
of its segment: the records before it are replayed, the rest is counted and logged with the file and
offset. Segments are deleted once a flush has put everything in them into blocks (damaged ones are
moved to the quarantine).
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import struct
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import orjson
import pyarrow as pa
from isal import isal_zlib

from logyard.durable import fsync_dir
from logyard.errors import CorruptDataError
from logyard.ingest.model import PushStream
from logyard.labels import LabelSet
from logyard.storage import format as F

log = logging.getLogger(__name__)

_REC_HEADER = struct.Struct("<II")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_SIZES = struct.Struct("<I5Q")  # rows, then the byte size of each column buffer
_COLUMN_FIELDS = ("ts", "line offsets", "line bytes", "meta offsets", "meta bytes")


class WalRecord:
    """One append call: the tenant, the label set and entry count of each stream, the columns.

    Each stream's labels travel as their canonical JSON (`keys`); the index maps known keys to ids
    directly, so a decoded record builds LabelSets only for streams it has not seen."""

    __slots__ = ("tenant", "counts", "batch", "_labels", "_keys", "_where")

    def __init__(self, tenant: str, labels: list[LabelSet] | None, counts: np.ndarray, batch: pa.RecordBatch,
                 keys: list[bytes] | None = None, where: str = "WAL record") -> None:
        self.tenant = tenant
        self.counts = counts  # uint32, one per stream; rows of stream i follow those of stream i-1
        self.batch = batch  # F.WAL_SCHEMA: ts, line, meta
        self._labels = labels
        self._keys = keys
        self._where = where

    @property
    def rows(self) -> int:
        return self.batch.num_rows

    @property
    def keys(self) -> list[bytes]:
        if self._keys is None:
            self._keys = [label_key(ls) for ls in self._labels or ()]
        return self._keys

    @property
    def labels(self) -> list[LabelSet]:
        if self._labels is None:
            self._labels = [parse_label_key(k, self._where) for k in self._keys or ()]
        return self._labels


def label_key(labels: LabelSet) -> bytes:
    """The canonical JSON of a label set: [[name, value], ...] in name order."""
    return orjson.dumps(tuple(labels))


def parse_label_key(key: bytes, where: str = "WAL record") -> LabelSet:
    try:
        pairs = orjson.loads(key)
        return LabelSet((k, v) for k, v in pairs if isinstance(k, str) and isinstance(v, str))
    except (orjson.JSONDecodeError, TypeError, ValueError) as e:
        raise CorruptDataError(f"{where}: labels do not decode") from e


def build_record(tenant: str, streams: Sequence[PushStream]) -> WalRecord:
    """Columns of an append: one Arrow conversion per column, no per-line Python."""
    counts = np.fromiter((len(s.lines) for s in streams), dtype=np.uint32, count=len(streams))
    for s in streams:
        if len(s.timestamps) != len(s.lines) or len(s.metadata) != len(s.lines):
            raise AssertionError(f"BUG: PushStream {s.labels} has unequal column lengths")
    if streams and all(s.arrow_lines is not None and s.arrow_meta is not None for s in streams):
        # Decode already built the Arrow columns: concatenating them is a copy, not a conversion.
        for s in streams:
            if len(s.arrow_lines) != len(s.lines) or len(s.arrow_meta) != len(s.lines):
                raise AssertionError(f"BUG: PushStream {s.labels} has unequal Arrow column lengths")
        ts = np.concatenate([np.asarray(s.timestamps, dtype=np.int64) for s in streams])
        lines_arr = _concat([s.arrow_lines for s in streams])
        meta_arr = _concat([s.arrow_meta for s in streams])
        batch = pa.record_batch([pa.array(ts, pa.int64()), lines_arr, meta_arr], schema=F.WAL_SCHEMA)
        return WalRecord(tenant, [s.labels for s in streams], counts, batch)
    if len(streams) == 1:
        s = streams[0]
        ts, lines, meta = np.asarray(s.timestamps, dtype=np.int64), s.lines, s.metadata
    else:
        ts = np.concatenate([np.asarray(s.timestamps, dtype=np.int64) for s in streams]) if streams else np.empty(0, np.int64)
        lines = list(itertools.chain.from_iterable(s.lines for s in streams))
        meta = list(itertools.chain.from_iterable(s.metadata for s in streams))
    batch = pa.record_batch(
        [pa.array(ts, pa.int64()), pa.array(lines, pa.string()), pa.array(meta, pa.string())],
        schema=F.WAL_SCHEMA,
    )
    return WalRecord(tenant, [s.labels for s in streams], counts, batch)


def _concat(arrays: list[pa.Array]) -> pa.Array:
    out = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    return out if out.type == pa.string() else out.cast(pa.string())


def encode_record(rec: WalRecord) -> list:
    """The payload as a list of buffers (written with one `writev`, no concatenation)."""
    tenant = rec.tenant.encode()
    if len(tenant) > F.WAL_TENANT_MAX_BYTES:
        raise AssertionError("BUG: tenant name longer than the WAL allows")
    labels = b"".join(_U32.pack(len(k)) + k for k in rec.keys)
    counts = np.ascontiguousarray(rec.counts, dtype="<u4")
    prefix = b"".join(
        [
            bytes([F.WAL_RECORD_VERSION]),
            _U16.pack(len(tenant)),
            tenant,
            _U32.pack(len(labels)),
            labels,
            _U32.pack(len(counts)),
            counts.tobytes(),
        ]
    )
    bufs = _column_buffers(rec.batch)
    sizes = _SIZES.pack(rec.batch.num_rows, *(b.size for b in bufs))
    return [prefix + sizes, *bufs]


def _column_buffers(batch: pa.RecordBatch) -> list[pa.Buffer]:
    """The Arrow buffers of ts, line and meta as they are in memory (zero-copy): ts values, then
    offsets and UTF-8 bytes of each string column (offsets rebased to 0 if the array is a slice)."""
    n = batch.num_rows
    ts, line, meta = batch.columns
    if ts.null_count or line.null_count or meta.null_count:
        raise AssertionError("BUG: null timestamp, line or metadata in a push")
    out = [ts.buffers()[1].slice(ts.offset * 8, n * 8)]
    for arr in (line, meta):
        _, off_buf, data = arr.buffers()
        off = np.frombuffer(off_buf, dtype="<i4", count=n + 1, offset=arr.offset * 4)
        if off[0] != 0:
            out.append(pa.py_buffer((off - off[0]).astype("<i4").tobytes()))
        else:
            out.append(off_buf.slice(arr.offset * 4, (n + 1) * 4))
        end = int(off[-1])
        out.append(data.slice(int(off[0]), end - int(off[0])) if data is not None else pa.py_buffer(b""))
    return out


def decode_record(payload, where: str = "WAL record") -> WalRecord:
    """Decode one payload, bounds-checking each field; `where` names file and offset in errors."""
    mv = memoryview(payload)
    pos = 0

    def need(n: int, field: str) -> None:
        if pos + n > len(mv):
            raise CorruptDataError(f"{where}: field {field} runs past the end of the record")

    need(1, "version")
    if mv[0] != F.WAL_RECORD_VERSION:
        raise CorruptDataError(f"{where}: unknown record version {mv[0]}")
    pos = 1
    need(2, "tenant length")
    (n,) = _U16.unpack_from(mv, pos)
    pos += 2
    if n > F.WAL_TENANT_MAX_BYTES:
        raise CorruptDataError(f"{where}: tenant length {n} over the limit")
    need(n, "tenant")
    try:
        tenant = bytes(mv[pos : pos + n]).decode()
    except UnicodeDecodeError as e:
        raise CorruptDataError(f"{where}: tenant is not UTF-8") from e
    pos += n
    need(4, "labels length")
    (n,) = _U32.unpack_from(mv, pos)
    pos += 4
    need(n, "labels")
    keys, p, end = [], pos, pos + n
    while p < end:  # one step per stream: u32 length + canonical JSON
        if p + 4 > end:
            raise CorruptDataError(f"{where}: field labels: a length runs past the labels")
        (k,) = _U32.unpack_from(mv, p)
        if p + 4 + k > end:
            raise CorruptDataError(f"{where}: field labels: a label set runs past the labels")
        keys.append(bytes(mv[p + 4 : p + 4 + k]))
        p += 4 + k
    pos = end
    need(4, "stream count")
    (n,) = _U32.unpack_from(mv, pos)
    pos += 4
    if n != len(keys) or n > F.WAL_MAX_STREAMS_PER_RECORD:
        raise CorruptDataError(f"{where}: stream count {n} does not match {len(keys)} label sets")
    need(4 * n, "entry counts")
    counts = np.frombuffer(mv[pos : pos + 4 * n], dtype="<u4").astype(np.uint32)
    pos += 4 * n
    need(_SIZES.size, "column sizes")
    rows, *lens = _SIZES.unpack_from(mv, pos)
    pos += _SIZES.size
    if int(counts.sum(dtype=np.int64)) != rows:
        raise CorruptDataError(f"{where}: entry counts sum to {int(counts.sum())}, columns hold {rows} rows")
    expect = {0: 8 * rows, 1: 4 * (rows + 1), 3: 4 * (rows + 1)}
    for i, name in enumerate(_COLUMN_FIELDS):
        if i in expect and lens[i] != expect[i]:
            raise CorruptDataError(f"{where}: field {name} is {lens[i]} bytes, expected {expect[i]}")
    if pos + sum(lens) != len(mv):
        raise CorruptDataError(f"{where}: column bytes {sum(lens)} do not fill the record ({len(mv) - pos} left)")
    bufs = []
    for i, n in enumerate(lens):
        raw = mv[pos : pos + n]
        # Integer buffers are copied once so they are aligned (a replay-only cost).
        bufs.append(pa.py_buffer(np.frombuffer(raw, dtype=np.uint8).copy() if i in expect else raw))
        pos += n
    try:
        line = pa.Array.from_buffers(pa.string(), rows, [None, bufs[1], bufs[2]])
        meta = pa.Array.from_buffers(pa.string(), rows, [None, bufs[3], bufs[4]])
        line.validate()
        meta.validate()
        ts = pa.Array.from_buffers(pa.int64(), rows, [None, bufs[0]])
    except (pa.ArrowInvalid, ValueError) as e:
        raise CorruptDataError(f"{where}: columns do not decode ({e})") from e
    batch = pa.RecordBatch.from_arrays([ts, line, meta], schema=F.WAL_SCHEMA)
    return WalRecord(tenant, None, counts, batch, keys=keys, where=where)


# zlib's CRC32 with ISA-L's code: the same values, ~4x faster (zlib's was a fifth of an append's CPU).
crc32 = isal_zlib.crc32


def frame(parts: list) -> list:
    """Prefix the payload buffers with their length and CRC32."""
    crc = 0
    size = 0
    for p in parts:
        crc = crc32(p, crc)
        size += memoryview(p).nbytes
    return [_REC_HEADER.pack(size, crc), *parts]


def _write_all(fd: int, parts: list) -> int:
    total = sum(memoryview(p).nbytes for p in parts)
    written = os.writev(fd, parts)
    if written < total:  # rare: a short write; finish it with plain writes
        data = b"".join(bytes(memoryview(p)) for p in parts)[written:]
        while data:
            n = os.write(fd, data)
            data = data[n:]
    return total


class Wal:
    """Segments in one directory; append is serialized by the caller's lock and by our own.

    Failure contract: an append that raises leaves the segment exactly as it was before the call
    (the torn record is cut off again, ftruncate), and a rotation that raises leaves the writer on
    the segment it was on (the new one is opened and given its header before the old one is let
    go, and removed again if that fails). So the WAL on disk always holds whole records only, and
    every append that returned is replayed after any crash.
    """

    def __init__(self, directory: Path, *, fsync: bool = False, quarantine: Path | None = None) -> None:
        self.dir = Path(directory)
        self.fsync = fsync
        self.quarantine = quarantine  # damaged segments are moved here instead of being deleted
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._started = False
        self._seq = 0
        self._seg_bytes = 0
        self._sealed_bytes = 0  # bytes of closed segments still on disk
        self._sync_lock = threading.Lock()
        self._written = 0  # records written (tickets handed out)
        self._synced = 0  # records known to be on stable storage (with fsync on)
        self._damaged: set[int] = set()  # segments whose replay stopped at a bad record
        self.skipped_records = 0  # damaged records the last replay skipped (at least; see _count_records)
        self.skipped_bytes = 0
        self.corruptions = 0  # segments the last replay found damaged

    def _name(self, path: Path) -> str:
        """A segment's name in messages: relative to the data directory, never absolute."""
        return f"{self.dir.name}/{path.name}"

    # ---- replay -------------------------------------------------------------------------------
    def segments(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.dir.iterdir():
            seq = F.parse_segment_name(p.name)
            if seq is not None:
                out.append((seq, p))
        return sorted(out)

    def replay(self) -> Iterator[WalRecord]:
        """Yield every good record on disk in order. A segment's replay stops at its first bad
        record: what came before is yielded, what follows is counted, logged and skipped, and
        replay goes on with the next segment (records are self-contained: see storage-format.md).
        A torn tail of the last segment (the process died inside `write`) is cut off."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.skipped_records = self.skipped_bytes = self.corruptions = 0
        self._damaged.clear()
        segs = self.segments()
        for i, (seq, path) in enumerate(segs):
            last = i == len(segs) - 1
            yield from self._replay_segment(seq, path, last)
            self._seq = max(self._seq, seq)
            if path.exists():  # a last segment with a torn header is removed by the replay
                self._sealed_bytes += path.stat().st_size

    def _replay_segment(self, seq: int, path: Path, last: bool) -> Iterator[WalRecord]:
        data = path.read_bytes()
        size = len(data)
        hdr = len(F.WAL_SEGMENT_HEADER)
        if size < hdr or data[:hdr] != F.WAL_SEGMENT_HEADER:
            if last and size < hdr and F.WAL_SEGMENT_HEADER.startswith(data):
                self._truncate(path, data, 0, "a torn segment header")
                return
            self._skip(seq, path, data, 0, f"bad WAL segment header {data[:hdr]!r}")
            return
        pos = hdr
        while pos < size:
            torn = self._torn_at(data, pos)
            if torn is not None:
                if last:
                    self._truncate(path, data, pos, torn)
                else:
                    self._skip(seq, path, data, pos, f"{torn} in a sealed segment")
                return
            length, crc = _REC_HEADER.unpack_from(data, pos)
            start, end = pos + F.WAL_RECORD_HEADER_SIZE, pos + F.WAL_RECORD_HEADER_SIZE + length
            if crc32(memoryview(data)[start:end]) != crc:
                self._skip(seq, path, data, pos, f"record CRC mismatch (length {length})")
                return
            try:
                rec = decode_record(memoryview(data)[start:end], f"{self._name(path)}: offset {pos}")
            except CorruptDataError as e:  # a good CRC over a bad record: written so by a bug
                self._skip(seq, path, data, pos, str(e))
                return
            yield rec
            pos = end

    def _skip(self, seq: int, path: Path, data: bytes, pos: int, why: str) -> None:
        """Count and log the records from `pos` to the end of a segment; the segment stays as it is
        (its good records are replayed again until a flush has them in blocks) and is then moved to
        the quarantine instead of being deleted (remove_through)."""
        n = _count_records(data, pos or len(F.WAL_SEGMENT_HEADER))
        self.skipped_records += n
        self.skipped_bytes += len(data) - pos
        self.corruptions += 1
        self._damaged.add(seq)
        log.error("WAL %s: offset %d: %s: skipped %d records (%d bytes) from there to the end of the "
                  "segment; the records before it were replayed", self._name(path), pos, why, n, len(data) - pos)

    @staticmethod
    def _torn_at(data: bytes, pos: int) -> str | None:
        size = len(data)
        if size - pos < F.WAL_RECORD_HEADER_SIZE:
            return "a truncated record header"
        length, _ = _REC_HEADER.unpack_from(data, pos)
        if length == 0 and not any(data[pos:]):
            return "zero fill"
        if pos + F.WAL_RECORD_HEADER_SIZE + length > size:
            return f"a record of {length} bytes running past the end"
        return None

    def _truncate(self, path: Path, data: bytes, offset: int, why: str) -> None:
        """Cut a torn tail off the last segment (so that, sealed, it replays clean). A damaged length
        field pointing past the end of the file looks the same as a torn write, so the bytes cut are
        first copied to the quarantine (unless they are all zero), where they can be looked at."""
        tail = memoryview(data)[offset:]
        kept = ""
        if self.quarantine is not None and any(tail):
            dest = self.quarantine / f"{self.dir.name}-{path.name}.{offset}.tail"
            try:
                self.quarantine.mkdir(exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(tail)
                    os.fsync(f.fileno())
                kept = f", kept in {self.quarantine.name}/{dest.name}"
            except OSError as e:
                dest.unlink(missing_ok=True)
                kept = f", not kept ({os.strerror(e.errno) if e.errno else e})"
        log.warning("WAL %s: cutting %s at offset %d (%d bytes%s)", self._name(path), why, offset, len(tail), kept)
        if offset == 0:
            path.unlink()
        else:
            os.truncate(path, offset)

    # ---- writing ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open a fresh segment for appends (after replay)."""
        with self._lock:
            self._fd = self._new_segment(self._seq + 1)
            self._seq, self._seg_bytes, self._started = self._seq + 1, len(F.WAL_SEGMENT_HEADER), True

    def _new_segment(self, seq: int) -> int:
        """Create segment `seq` with its whole header, or raise and leave no file behind."""
        path = self.dir / F.segment_name(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            if os.write(fd, F.WAL_SEGMENT_HEADER) != len(F.WAL_SEGMENT_HEADER):
                raise OSError(errno.ENOSPC, "short write of a WAL segment header")
            if self.fsync:
                os.fsync(fd)
                fsync_dir(self.dir)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def append(self, parts: list) -> int:
        """Write one framed record (`frame(encode_record(rec))`, built outside any lock) to the OS;
        returns its ticket for `sync`. A `kill -9` after this loses nothing; power loss needs `sync`.
        Raises OSError when the write fails; the segment is then as it was before the call."""
        with self._lock:
            if not self._started:
                raise AssertionError("BUG: WAL append before start()")
            if self._fd is None:  # the last failed write could not be cut off: that segment was left
                self._rotate_locked()
            assert self._fd is not None
            good = self._seg_bytes
            try:
                n = _write_all(self._fd, parts)
            except BaseException:
                self._cut_back(good)
                raise
            self._seg_bytes += n
            self._written += 1
            ticket = self._written
            if self._seg_bytes >= F.WAL_SEGMENT_MAX_BYTES:
                try:
                    self._rotate_locked()
                except OSError as e:  # the record is written: the append stands; retried next time
                    log.warning("WAL: rotating to a new segment failed (%s); appending to the current one", e)
        return ticket

    def _cut_back(self, good: int) -> None:
        """Remove whatever part of a failed record reached the file (truncating frees space, so it
        works on a full disk). If even that fails, the segment is let go: a later append opens a
        new one, and replay stops at the torn record of this one (counted and logged)."""
        fd = self._fd
        assert fd is not None
        try:
            os.ftruncate(fd, good)
            os.lseek(fd, good, os.SEEK_SET)
        except OSError as e:
            log.error("WAL: cutting a failed append back to offset %d failed (%s); leaving the segment", good, e)
            self._fd = None
            os.close(fd)
            self._sealed_bytes += good

    def sync(self, ticket: int) -> None:
        """With fsync on, return once record `ticket` is on stable storage. Group commit: one
        fdatasync covers every record written before it, so concurrent appenders share it."""
        if not self.fsync or self._synced >= ticket:
            return
        with self._sync_lock:
            if self._synced >= ticket:
                return
            with self._lock:
                target, fd = self._written, self._fd
            if fd is None:
                return  # closed: close() fsynced the segment
            try:
                os.fdatasync(fd)  # type: ignore[arg-type]
            except OSError:
                # Rotated meanwhile: the rotation fsynced the old segment and moved _synced.
                if self._synced < ticket:
                    raise
            self._synced = max(self._synced, target)

    def rotate(self) -> int:
        """Seal the current segment and open the next; returns the sequence number sealed.
        On failure (OSError) appends go on into the current segment."""
        with self._lock:
            return self._rotate_locked()

    def _rotate_locked(self) -> int:
        sealed = self._seq
        if self._fd is not None and self.fsync:
            os.fsync(self._fd)
            self._synced = max(self._synced, self._written)
        fd = self._new_segment(sealed + 1)  # raises with the old segment still open
        if self._fd is not None:
            os.close(self._fd)
            self._sealed_bytes += self._seg_bytes
        self._fd, self._seq, self._seg_bytes = fd, sealed + 1, len(F.WAL_SEGMENT_HEADER)
        return sealed

    def remove_through(self, seq: int) -> None:
        """Delete sealed segments numbered <= seq: their records are all in blocks now. A segment
        whose replay stopped at damage is moved to the quarantine instead, for a post-mortem."""
        with self._lock:
            if seq >= self._seq:
                raise AssertionError("BUG: removing the open WAL segment")
            freed = 0
            for s, path in self.segments():
                if s <= seq:
                    freed += path.stat().st_size
                    if s in self._damaged and self.quarantine is not None:
                        self.quarantine.mkdir(exist_ok=True)
                        os.replace(path, self.quarantine / f"{self.dir.name}-{path.name}")
                        log.warning("WAL %s: the damaged segment was moved to %s/", self._name(path), self.quarantine.name)
                        self._damaged.discard(s)
                    else:
                        path.unlink()
            self._sealed_bytes = max(0, self._sealed_bytes - freed)
            if self.fsync:
                fsync_dir(self.dir)

    def size_bytes(self) -> int:
        with self._lock:
            return self._sealed_bytes + (self._seg_bytes if self._fd is not None else 0)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    if self.fsync:
                        os.fsync(self._fd)
                finally:
                    os.close(self._fd)
                    self._fd = None
            self._started = False


def _count_records(data: bytes, pos: int) -> int:
    """How many records follow `pos` as far as their length fields chain to the end: the damaged
    record counts as one, and a length that was itself damaged ends the count (so: at least)."""
    n, size = 0, len(data)
    while pos < size:  # one step per skipped record
        if size - pos < F.WAL_RECORD_HEADER_SIZE:
            return n + 1
        length, _ = _REC_HEADER.unpack_from(data, pos)
        if length == 0 and not any(data[pos:]):
            return n
        n += 1
        pos += F.WAL_RECORD_HEADER_SIZE + length
    return n


def prepare_append(tenant: str, streams: list[PushStream]) -> bytes | None:
    """The WAL payload of an append: pure and picklable, so the server can build it in a decode
    worker (the Arrow conversion of lines is most of an append's cost) and commit it with
    `Store.append_prepared`. Here, not in store.py: a worker then imports the WAL's encoding
    only, not the whole storage (Parquet, the object store: ~25 MiB less per worker)."""
    streams = [s for s in streams if len(s)]
    if not streams:
        return None
    return b"".join(encode_record(build_record(tenant, streams)))  # Arrow buffers join without a copy first


def prepare_columns(tenant: str, labels: list[LabelSet], counts: np.ndarray, ts: np.ndarray, lines: pa.Array,
                    meta: pa.Array) -> bytes:
    """`prepare_append` of streams given as columns: `counts[i]` rows (none empty) of `labels[i]`,
    one stream after the other (ingest/columns.py)."""
    if len(labels) != len(counts) or int(counts.sum(dtype=np.int64)) != len(ts) or not len(ts) == len(lines) == len(meta):
        raise AssertionError("BUG: stream counts and column lengths differ")
    batch = pa.record_batch([pa.array(ts, pa.int64()), lines, meta], schema=F.WAL_SCHEMA)
    return b"".join(encode_record(WalRecord(tenant, labels, counts.astype(np.uint32, copy=False), batch)))
