"""The Store: the one entry point of storage. Appends go WAL -> head; flushes cut the head into
blocks; reads merge blocks and head per time window; the label APIs answer from the index mirror.

Locks: `_lock` makes "write the WAL record, add to the head" atomic against a flush swapping the
head and rotating the WAL (so a WAL segment is deleted only once all its rows are in blocks);
`_flush_lock` serializes flushes; `_compact_lock` serializes compaction and retention. Readers take
a snapshot (head batches, block list) under `_lock` and read without it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Collection, Iterator, Sequence

import numpy as np
import pyarrow as pa

from logyard.durable import storage_error
from logyard.errors import ConfigError, CorruptDataError, LogyardError
from logyard.ingest.model import PushStream
from logyard.labels import LabelSet, Matcher
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage import trigrams
from logyard.storage.block import BlockInfo, BlockReader, write_block
from logyard.storage.head import Head, TenantHeadView
from logyard.storage.index import Index
from logyard.storage.maintenance import Maintenance
from logyard.storage.recovery import Recovery, open_index, quarantine
from logyard.storage.wal import Wal, WalRecord, build_record, decode_record, encode_record, frame

log = logging.getLogger(__name__)

READ_COLUMNS = ("stream", "ts", "line", "meta", "len")
# An append that finds the head this much over head_max_bytes waits for the flush in progress, or
# flushes itself when none is: memory stays within about (1 + BACKPRESSURE + 2) x head_max_bytes
# (active head, frozen head, flush copies).
BACKPRESSURE = 1.25


class Store:
    def __init__(
        self,
        data_dir: Path,
        *,
        retention_ns: int = 168 * 3600 * 10**9,
        block_window_ns: int = 3600 * 10**9,
        head_max_bytes: int = 64 << 20,
        head_max_age_s: float = 300.0,
        wal_fsync: bool = False,
        clock=time.time,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.retention_ns = retention_ns
        self.window_ns = block_window_ns
        self.head_max_bytes = head_max_bytes
        self.head_max_age_s = head_max_age_s
        self.clock = clock
        self._wal = Wal(self.data_dir / F.WAL_DIR, fsync=wal_fsync, quarantine=self.data_dir / F.QUARANTINE_DIR)
        self.recovery = Recovery()
        self._quarantine_lock = threading.Lock()
        self._index = Index(self.data_dir / F.INDEX_FILE)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._head = Head()
        self._frozen: list[Head] = []  # heads being flushed: still visible to readers
        self._readers: dict[str, BlockReader] = {}
        self._seq = 0
        self._open = False
        self.last_flush = float("-inf")  # monotonic time the last flush finished
        self._dir_lock: int | None = None
        self.maintenance = Maintenance(self)

    # ---- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Create directories, open the index, replay the WAL into the head."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_dir()
        (self.data_dir / F.BLOCKS_DIR).mkdir(exist_ok=True)
        open_index(self)  # rebuilt from the blocks if missing or unreadable
        stored = int(self._index.setting("block_window_ns", str(self.window_ns)))
        if stored != self.window_ns:
            # Blocks are cut on the stored windows; reads rely on every block matching one window.
            self._index.close()
            self._unlock_dir()
            raise ConfigError(f"storage: block_window_ns {self.window_ns} differs from {stored}, "
                              f"which the data directory {self.data_dir} was written with")
        self.maintenance.remove_orphans()
        rows = 0
        for rec in self._wal.replay():
            ids = self._index.stream_ids(rec.tenant, rec.keys, lambda: rec.labels)
            self._head.add(rec, ids)
            rows += rec.rows
        if rows:
            log.info("replayed %d WAL rows into the head", rows)
        self.recovery.wal_skipped_records += self._wal.skipped_records
        self.recovery.wal_skipped_bytes += self._wal.skipped_bytes
        self.recovery.wal_corruptions += self._wal.corruptions
        self._wal.start()
        self._open = True
        if self._head.bytes >= self.head_max_bytes:
            self.flush()  # a long WAL (flushes failing before the restart): start within bounds

    def close(self) -> None:
        """Clean shutdown: stop the maintenance thread, flush the head, close files."""
        if not self._open:
            return
        self.stop_background()
        try:
            self.flush()  # if this fails the WAL still holds everything: the next open replays it
        finally:
            self._wal.close()
            for reader in list(self._readers.values()):
                reader.close()
            self.maintenance.empty_trash(force=True)
            self._index.close()
            self._unlock_dir()
            self._open = False

    def _lock_dir(self) -> None:
        """One process per data directory: a second one would interleave WAL segments and blocks."""
        fd = os.open(self.data_dir / F.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"storage: data directory {self.data_dir} is in use by another logyard process") from None
        self._dir_lock = fd

    def _unlock_dir(self) -> None:
        if self._dir_lock is not None:
            os.close(self._dir_lock)  # closing the descriptor releases the flock
            self._dir_lock = None

    def start_background(self) -> None:
        self.maintenance.start()

    def stop_background(self) -> None:
        self.maintenance.stop()

    # ---- writes -------------------------------------------------------------------------------
    def append(self, tenant: str, streams: list[PushStream]) -> None:
        """Durable on return: the record is written to the WAL (fsynced if asked) first."""
        streams = [s for s in streams if len(s)]
        if streams:
            rec = build_record(tenant, streams)
            # In process, the record's own buffers go to the WAL: no joined copy, no decode.
            self._commit(rec, frame(encode_record(rec)))

    def append_prepared(self, payload) -> None:
        """`append` of a payload made by `prepare_append` (possibly in another process): bytes or
        any buffer, such as a mapping of the file a decode worker wrote it to (the head then keeps
        the mapping: its line and metadata bytes are not copied)."""
        self._commit(decode_record(payload, "prepared append"), frame([payload]))

    def _commit(self, rec: WalRecord, parts: list) -> None:
        """Raises StorageError (507 for a full disk) when the record could not be written: the
        WAL is then as if the append never happened, and nothing of it is in the head."""
        try:
            ids = self._index.stream_ids(rec.tenant, rec.keys, lambda: rec.labels)
        except sqlite3.Error as e:
            raise storage_error("writing the index", e) from e
        with self._lock:
            try:
                ticket = self._wal.append(parts)
            except OSError as e:
                err = storage_error("writing the WAL", e)
                if err.status == 507:
                    self.recovery.wal_disk_full_failures += 1
                raise err from e
            self._head.add(rec, ids)
            head_bytes = self._head.bytes
        try:
            self._wal.sync(ticket)  # outside the lock: concurrent appends share one fdatasync
        except OSError as e:
            raise storage_error("syncing the WAL", e) from e
        if head_bytes >= self.head_max_bytes:
            self.maintenance.wake()
            if head_bytes >= BACKPRESSURE * self.head_max_bytes:
                try:
                    self._backpressure()
                except LogyardError as e:  # the append itself is stored: it stands
                    log.error("flush under back-pressure failed: %s", e.message)

    def _backpressure(self) -> None:
        """The flusher is behind: bound memory by waiting for its flush in progress, or by flushing
        in this thread when none is. Only waiting matters: once that flush ends, the woken
        maintenance thread flushes the head this append grew, while appends go on (an append that
        flushed itself held its client for a whole flush, and the other clients behind the lock)."""
        if self._flush_lock.acquire(blocking=False):
            self._flush_lock.release()
            self.maybe_flush()
            return
        with self._flush_lock:
            pass

    def maybe_flush(self) -> None:
        h = self._head
        too_old = h.first_append is not None and time.monotonic() - h.first_append >= self.head_max_age_s
        if h.bytes >= self.head_max_bytes or too_old:
            self.flush()

    def flush(self) -> None:
        """Cut the whole head into blocks, register them, then delete the WAL segments they cover.
        Raises StorageError if a write fails: then no block of the failed head is left behind, the
        head stays readable (frozen) and its WAL segments stay, for the next flush to retry."""
        try:
            self._flush()
        except (OSError, sqlite3.Error) as e:
            raise storage_error("flush", e) from e

    def _flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                sealed = self._wal.rotate()
                if self._head:
                    self._frozen.append(self._head)
                    self._head = Head()
                pending = list(self._frozen)
            for head in pending:
                blocks: list[BlockInfo] = []
                try:
                    for tenant, th in head.tenants.items():
                        table = pa.Table.from_batches(th.batches)
                        self._write_blocks(tenant, table, level=0, out=blocks)
                    self._index.swap_blocks(blocks, [])
                except BaseException:
                    for b in blocks:  # unregistered: they would be orphans taking space
                        (self.data_dir / b.path).unlink(missing_ok=True)
                    raise
                with self._lock:
                    self._frozen.remove(head)
            self._wal.remove_through(sealed)
            if pending:
                self.last_flush = time.monotonic()
                pa.default_memory_pool().release_unused()  # hand the flush's copies back to the OS

    def _write_blocks(self, tenant: str, table: pa.Table, *, level: int, clean: bool = False,
                      out: list[BlockInfo] | None = None) -> list[BlockInfo]:
        """Sort rows by (window, stream, ts, line), drop exact duplicates (unless `clean`: already
        so), and write one block per window, gathering rows a row group at a time. The blocks are
        appended to `out` as they are written, so that a caller can remove them if a later one fails."""
        out = [] if out is None else out
        if table.num_rows == 0:
            return out
        win = R._np(table.column("ts")) // self.window_ns
        order = gather = None
        if not clean:
            order = R.sorted_order(table, dedup=True, major=win)
            win = win[order]  # rows are gathered from the head's chunks by write_block
            gather = R.Gather(table)
        else:
            if table.schema.field("line").type != pa.large_string():
                table = table.cast(pa.schema([f.with_type(pa.large_string()) if f.name == "line" else f for f in table.schema]))
            table = R.with_len(table)
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(win)) + 1, [len(win)]))
        labels_of = self._index.tenants[tenant].labels.__getitem__  # stored in each block's footer
        for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            window_start = int(win[lo]) * self.window_ns
            rel = self._block_path(tenant, window_start)
            if order is None:
                out.append(write_block(table.slice(lo, hi - lo), self.data_dir, rel, tenant=tenant,
                                       window_start=window_start, level=level, labels_of=labels_of))
            else:
                out.append(write_block(table, self.data_dir, rel, tenant=tenant, window_start=window_start,
                                       level=level, order=order[lo:hi], gather=gather, labels_of=labels_of))
        return out

    def _block_path(self, tenant: str, window_start: int) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        name = f"{time.time_ns():020d}-{seq:06d}{F.BLOCK_SUFFIX}"
        return f"{F.BLOCKS_DIR}/{F.tenant_dir_name(tenant)}/{window_start:020d}/{name}"

    def apply_retention(self) -> int:
        return self.maintenance.apply_retention()

    def compact(self) -> int:
        return self.maintenance.compact()

    # ---- reads --------------------------------------------------------------------------------
    def _head_views(self, tenant: str) -> list[TenantHeadView]:
        with self._lock:
            heads = [*self._frozen, self._head]
            return [v for v in (h.view(tenant) for h in heads) if v is not None]

    def _snapshot(self, tenant: str) -> tuple[list[TenantHeadView], tuple[BlockInfo, ...]]:
        """Head views, then the block list. In this order a concurrent flush can only make a row
        appear twice (frozen head + its new block: reads dedup), never make it vanish."""
        views = self._head_views(tenant)
        return views, self._index.blocks(tenant)

    def _reader(self, b: BlockInfo) -> BlockReader:
        r = self._readers.get(b.path)
        if r is None:
            r = self._readers[b.path] = BlockReader(self.data_dir / b.path, b.path)
        return r

    # ---- damage -------------------------------------------------------------------------------
    def _quarantine_block(self, b: BlockInfo, err: CorruptDataError) -> None:
        """A block that does not decode: drop it from the index, move its file to quarantine/,
        log and count it. Reads go on without it (they skip it: `_read_window`)."""
        with self._quarantine_lock:
            if not self._index.drop_block(b):
                return  # another read quarantined it, or a compaction replaced it
            reader = self._readers.pop(b.path, None)
            if reader is not None:
                reader.close()
            self._quarantine_file(self.data_dir / b.path, b.path, err)

    def _quarantine_file(self, path: Path, rel: str, err: CorruptDataError) -> None:
        try:
            quarantine(self.data_dir, path, rel.replace("/", "_"))
            where = f"moved to {F.QUARANTINE_DIR}/"
        except FileNotFoundError:
            where = "its file is gone"
        except OSError as e:  # out of the index all the same: reads must not fail on it again
            where = f"left in place, moving it failed: {os.strerror(e.errno) if e.errno else e}"
        self.recovery.blocks_quarantined += 1
        log.error("block %s quarantined (%s): %s", rel, where, err.message)

    def _active(self, tenant: str, cands: list[int], start_ns: int, end_ns: int) -> np.ndarray:
        """Which of the sorted stream ids `cands` have data in [start_ns, end_ns), in blocks or
        in the head: a mask. Blocks are visited newest first and the visit stops once every
        candidate was seen (a query over recent data usually finds them all in one window)."""
        want = np.asarray(cands, dtype=np.int64)
        found = np.zeros(len(want), dtype=bool)
        views, blocks = self._snapshot(tenant)
        for v in views:
            found |= [(st := v.stats.get(sid)) is not None and st.min_ts < end_ns and st.max_ts >= start_ns
                      for sid in cands]  # one step per candidate stream
        for b in sorted(blocks, key=lambda b: b.window_start, reverse=True):
            if found.all():
                break
            if b.min_ts < end_ns and b.max_ts >= start_ns:
                s = b.streams
                ids = s.ids[s.overlapping(start_ns, end_ns)]  # sorted
                if ids.size:
                    at = np.minimum(np.searchsorted(ids, want), ids.size - 1)
                    found |= ids[at] == want
        return found

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        """Streams matching all matchers that have data in [start_ns, end_ns)."""
        cands = self._index.match(tenant, list(matchers))
        if not cands:
            return {}
        active = self._active(tenant, cands, start_ns, end_ns)
        return {sid: self._index.labels_of(tenant, sid) for sid, on in zip(cands, active.tolist()) if on}

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str] = (), first: int | None = None) -> Iterator[pa.Table]:
        """Tables of consecutive windows (newest first for backward), rows sorted by (stream, ts).

        `line_contains` is a pruning hint: substrings (case-sensitive) every wanted line contains.
        Row groups whose trigram bitmap rules one out are skipped; the rows that are returned are
        NOT filtered by it, the caller still applies its line filter.

        `first` is a hint for a reader that wants only the first `first` rows of each window in
        `direction` order by ts (a log query with no stage that drops rows): a window's table then
        holds at least those rows and every row tied in ts with the last of them, and may omit the
        others. Ordering a window's rows stably by ts and taking `first` gives the same rows as
        from the full window. Row groups holding none of them are not decoded beyond stream and ts.
        """
        if direction not in ("backward", "forward"):
            raise AssertionError(f"BUG: direction {direction!r}")
        columns = tuple(columns)
        for c in columns:
            if c not in READ_COLUMNS:
                raise AssertionError(f"BUG: unknown column {c!r}")
        ids = np.unique(np.fromiter(stream_ids, dtype=np.int64))
        if ids.size == 0 or start_ns >= end_ns:
            return
        pin = self.maintenance.pin()  # the files of the blocks it lists stay until the read ends
        try:
            yield from self._read(tenant, ids, start_ns, end_ns, direction, columns, line_contains, first)
        finally:
            self.maintenance.unpin(pin)

    def _read(self, tenant: str, ids: np.ndarray, start_ns: int, end_ns: int, direction: str,
              columns: tuple[str, ...], line_contains: Sequence[str], first: int | None) -> Iterator[pa.Table]:
        views, blocks = self._snapshot(tenant)
        blocks_by_window: dict[int, list[BlockInfo]] = {}
        for b in blocks:
            if b.min_ts >= end_ns or b.max_ts < start_ns:
                continue
            s = b.streams
            hit = np.isin(s.ids, ids) & s.overlapping(start_ns, end_ns)
            if hit.any():
                blocks_by_window.setdefault(b.window_start, []).append(b)
        tri = trigrams.needed(line_contains) if line_contains else None
        head = self._head_rows(views, ids, start_ns, end_ns)
        head_win = R._np(head.column("ts")) // self.window_ns * self.window_ns if head.num_rows else np.empty(0, np.int64)
        windows = sorted(set(blocks_by_window) | set(np.unique(head_win).tolist()), reverse=direction == "backward")
        for w in windows:
            lo, hi = max(start_ns, w), min(end_ns, w + self.window_ns)
            hpart = head.filter(pa.array(head_win == w)) if head.num_rows else None
            t = self._read_window(blocks_by_window.get(w, []), hpart, ids, lo, hi, columns, tri,
                                  first=first, backward=direction == "backward")
            if t.num_rows:
                yield t

    def _head_rows(self, views: list[TenantHeadView], ids: np.ndarray, start_ns: int, end_ns: int) -> pa.Table:
        parts = [R.select_rows(v.table(), ids, start_ns, end_ns) for v in views]
        parts = [p for p in parts if p.num_rows]
        if not parts:
            return pa.table({"stream": pa.array([], pa.int64()), "ts": pa.array([], pa.int64())})
        return pa.concat_tables(parts)

    def _read_window(self, blocks: list[BlockInfo], head: pa.Table | None, ids: np.ndarray, lo: int, hi: int,
                     columns: tuple[str, ...], tri: np.ndarray | None = None, *, first: int | None = None,
                     backward: bool = True) -> pa.Table:
        want = list(dict.fromkeys(("stream", "ts", *columns)))
        parts: list[pa.Table] = []
        sources: list[tuple[BlockReader, list[int]]] = []
        blocks_read: list[BlockInfo] = []
        for b in blocks:  # one step per block; a damaged one is quarantined and left out
            r = self._reader(b)
            try:
                rgs = r.row_groups(ids, lo, hi, tri)
                if not rgs:
                    continue
                if first is not None:
                    # Each source's first rows (and ties) include every row of the merged window's
                    # first rows that the source holds, duplicates across sources or not.
                    part = r.read_first(rgs, want, ids, lo, hi, first, backward)
                else:
                    t = r.read(rgs, want)
                    part = t if r.covers(rgs, ids, lo, hi) else R.select_rows(t, ids, lo, hi)
            except CorruptDataError as e:
                self._quarantine_block(b, e)
                continue
            sources.append((r, rgs))
            blocks_read.append(b)
            parts.append(part)
        if head is not None and head.num_rows:
            # The head may hold duplicates of itself; it has its lines in memory, so dedup is cheap.
            hp = R.sort_dedup(head)
            if first is not None:
                hp = R.first_rows(hp, first, backward)
            if "len" in want:
                hp = R.with_len(hp)
            parts.append(hp.select(want))
        parts = [p for p in parts if p.num_rows]
        if not parts:
            return R.conform(_empty(want), columns)
        if len(parts) == 1:
            return R.conform(parts[0], columns)  # a block part, or the sorted head part
        if R.has_cross_duplicates(parts):
            # A row may be in two sources (a block and the head, or two blocks before compaction):
            # dedup needs the lines, so read them where they were not wanted.
            if "line" not in want:
                full = want + ["line"]
                parts = []
                for (r, rgs), b in zip(sources, blocks_read):
                    try:
                        parts.append(R.select_rows(r.read(rgs, full), ids, lo, hi))
                    except CorruptDataError as e:
                        self._quarantine_block(b, e)
                if head is not None and head.num_rows:
                    hp = R.sort_dedup(head)
                    parts.append(R.with_len(hp).select(full) if "len" in full else hp.select(full))
                want = full
            merged = pa.concat_tables([R.conform(p, tuple(want)) for p in parts if p.num_rows])
            merged = R.sort_dedup(merged)
        else:
            merged = pa.concat_tables([R.conform(p, tuple(want)) for p in parts])
            merged = R.sort_rows(merged)
        return R.conform(merged, columns)

    # ---- label APIs ---------------------------------------------------------------------------
    def label_names(self, tenant: str, start_ns: int, end_ns: int, matchers: list[Matcher] | None = None) -> list[str]:
        names: set[str] = set()
        for ls in self.streams(tenant, matchers or [], start_ns, end_ns).values():
            names.update(k for k, _ in ls)
        return sorted(names)

    def label_values(self, tenant: str, name: str, start_ns: int, end_ns: int,
                     matchers: list[Matcher] | None = None) -> list[str]:
        values = {ls.get(name) for ls in self.streams(tenant, matchers or [], start_ns, end_ns).values()}
        values.discard("")
        return sorted(values)

    def series(self, tenant: str, matcher_groups: list[list[Matcher]], start_ns: int, end_ns: int) -> list[LabelSet]:
        found: dict[int, LabelSet] = {}
        for group in matcher_groups or [[]]:
            found.update(self.streams(tenant, group, start_ns, end_ns))
        return [found[k] for k in sorted(found)]

    def index_stats(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict:
        """Like Loki, from chunk metadata: every (block, stream) overlapping the window counts whole."""
        ids = np.array(sorted(self.streams(tenant, matchers, start_ns, end_ns)), dtype=np.int64)
        out = {"streams": int(ids.size), "chunks": 0, "bytes": 0, "entries": 0}
        if not ids.size:
            return out
        views, blocks = self._snapshot(tenant)
        for b in blocks:
            if b.min_ts >= end_ns or b.max_ts < start_ns:
                continue
            s = b.streams
            m = np.isin(s.ids, ids) & s.overlapping(start_ns, end_ns)
            out["chunks"] += int(m.sum())
            out["bytes"] += int(s.bytes[m].sum())
            out["entries"] += int(s.rows[m].sum())
        idset = set(ids.tolist())
        for v in views:
            for sid, st in v.stats.items():
                if sid in idset and st.min_ts < end_ns and st.max_ts >= start_ns:
                    out["chunks"] += 1
                    out["bytes"] += st.bytes
                    out["entries"] += st.rows
        return out

    def volume(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int, *,
               step_ns: int | None = None) -> list[tuple[LabelSet, np.ndarray, np.ndarray]]:
        """Line bytes per stream per bucket [start + i*step, start + (i+1)*step).

        Returns (labels, bucket start times, bytes) per stream with data, only non-empty buckets;
        one bucket stamped `start_ns` when step_ns is None.
        """
        found = self.streams(tenant, matchers, start_ns, end_ns)
        if not found:
            return []
        ids = np.array(sorted(found), dtype=np.int64)
        step = step_ns if step_ns else max(1, end_ns - start_ns)
        nb = -(-(end_ns - start_ns) // step)
        acc = np.zeros(ids.size * nb, dtype=np.int64)
        # Line bytes only: Loki's figures come from chunk sizes (compressed, KiB-rounded) and track the
        # raw line bytes far closer than line + metadata text does on the conformance corpus.
        for t in self.read(tenant, ids, start_ns, end_ns, direction="forward", columns=("stream", "ts", "len")):
            nbytes = R._np(t.column("len")).astype(np.int64)
            si = np.searchsorted(ids, R._np(t.column("stream")))
            bi = (R._np(t.column("ts")) - start_ns) // step
            acc += np.bincount(si * nb + bi, weights=nbytes, minlength=acc.size).astype(np.int64)
        acc = acc.reshape(ids.size, nb)
        starts = start_ns + np.arange(nb, dtype=np.int64) * step
        out = []
        for i, sid in enumerate(ids.tolist()):
            nz = acc[i] > 0
            if nz.any():
                out.append((found[sid], starts[nz], acc[i][nz]))
        return out

    def sizes(self) -> dict[str, int]:
        with self._lock:
            heads = [*self._frozen, self._head]
        blocks = self._index.all_blocks()
        return {
            "wal_bytes": self._wal.size_bytes(),
            "head_bytes": sum(h.bytes for h in heads),
            "head_lines": sum(h.rows for h in heads),
            "block_bytes": sum(b.bytes for b in blocks),
            "blocks": len(blocks),
            "streams": self._index.stream_count(),
        }


def prepare_append(tenant: str, streams: list[PushStream]) -> bytes | None:
    """The WAL payload of an append: pure and picklable, so the server can build it in a worker
    process (the Arrow conversion of lines is most of an append's cost) and commit it here."""
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


def _empty(cols: list[str]) -> pa.Table:
    types = {"stream": pa.int64(), "ts": pa.int64(), "line": pa.large_string(), "meta": pa.string(), "len": pa.int32()}
    return pa.table({c: pa.array([], types[c]) for c in cols})
