"""The block files of a data directory: writing new ones, the open readers, the trash, read pins,
quarantine of damaged ones and orphans left by a crash.

Flushes and compaction write blocks here; reads open them here (one cached `BlockReader` a file);
compaction and retention discard them here. A discarded file goes to a trash and is deleted once no
read that may have listed it is still running (reads pin the epoch they started in), or after a
grace period at the latest (a read left unfinished does not pin the files forever). Retention may
ask for a file to stay a while longer (Loki's `retention_delete_delay`).

With an object store (objects.py), a block is written to the data directory, then uploaded, and
counts as written only once the store acknowledged it; a discarded block's object is deleted with its
file (a failed delete stays in the trash and is tried again). The files in the data directory are
then a cache of whole block files, up to `cache_max_bytes`, least recently read out first: the blocks
this process wrote, and those it read from the store. A block without its file is read from the
store, only the row groups and columns a read needs, and downloaded whole in the background for the
reads after it (measured on loopback, 800k rows: counting from the object 320 ms, from the cached
file 21 ms; a log query's first 100 lines 32 ms against 4 ms).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from logyard.errors import CorruptDataError, StorageError
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage.block import BlockInfo, BlockReader, write_block
from logyard.storage.index import Index
from logyard.storage.objects import ObjectStore
from logyard.storage.recovery import Recovery, quarantine_block_file

log = logging.getLogger(__name__)

TRASH_GRACE_S = 120.0  # discarded files outlive a read still unfinished this long after it started
DELETE_RETRY_S = 30.0  # objects whose delete failed (the store down) are tried again after this


class BlockFiles:
    def __init__(self, data_dir: Path, index: Index, recovery: Recovery, *, window_ns: int,
                 objects: ObjectStore | None = None, cache_max_bytes: int = 0, node_id: str = "") -> None:
        """`node_id` goes into the name of every block written here: writers sharing a bucket
        never pick one name (format.block_name)."""
        self.data_dir = data_dir
        self.node_id = node_id
        self.window_ns = window_ns
        self.objects = objects
        self.cache_max_bytes = cache_max_bytes
        self._cache: OrderedDict[str, int] = OrderedDict()  # with objects: cached file -> size, LRU first
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()
        self._filling: set[str] = set()  # blocks being downloaded into the cache
        self._delete_retry_at = 0.0  # monotonic: no object delete before (one failed)
        self._filler: ThreadPoolExecutor | None = None
        self._index = index
        self._recovery = recovery
        self._readers: dict[str, BlockReader] = {}  # path in the data dir -> its open reader
        self._seq = 0  # makes the names of blocks written in the same nanosecond differ
        self._seq_lock = threading.Lock()
        self._quarantine_lock = threading.Lock()
        self._trash: list[tuple[Path, float, int, float]] = []  # path, delete-by time, epoch of the
        # discard, time before which it stays whatever the reads (monotonic)
        self._trash_lock = threading.Lock()
        self._epoch = 0  # bumped by each discard
        self._pins: Counter[int] = Counter()  # epoch -> reads in progress that started in it
        self._keep_objects: set[str] = set()  # discarded blocks whose objects are not ours to delete

    # ---- writing ------------------------------------------------------------------------------
    def write(self, tenant: str, table: pa.Table, *, level: int, clean: bool = False,
              out: list[BlockInfo] | None = None, replaces: Sequence[BlockInfo] = (),
              names: dict[str, set[int]] | None = None) -> list[BlockInfo]:
        """Sort rows by (window, stream, ts, line, meta), streams in the order of their label sets
        (rows.label_ranks), drop exact duplicates (unless `clean`: already so), and write one block
        per window, gathering rows a row group at a time; with an object
        store, upload each (StorageError 503 if the store does not acknowledge it). The blocks are
        appended to `out` as they are written, so that a caller can remove them if a later one
        fails. They are not registered in the index: the caller does that, and discards `replaces`,
        which the new blocks' footers name. `names`: the rows' structured-metadata names, when known
        (write_block), for a table of one window."""
        out = [] if out is None else out
        if table.num_rows == 0:
            return out
        win = R._np(table.column("ts")) // self.window_ns
        labels_of = self._index.tenants[tenant].labels.__getitem__  # stored in each block's footer
        order = gather = None
        if not clean:
            key = R.label_ranks(R._np(table.column("stream")), labels_of)
            order = R.sorted_order(table, dedup=True, major=win, key=key)
            win = win[order]  # rows are gathered from the head's chunks by write_block
            gather = R.Gather(table)
        else:
            if table.schema.field("line").type != pa.large_string():
                table = table.cast(pa.schema([f.with_type(pa.large_string()) if f.name == "line" else f for f in table.schema]))
            table = R.with_len(table)
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(win)) + 1, [len(win)]))
        old = [b.path for b in replaces]
        for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            window_start = int(win[lo]) * self.window_ns
            rel = self._block_path(tenant, window_start)
            if order is None:
                out.append(write_block(table.slice(lo, hi - lo), self.data_dir, rel, tenant=tenant,
                                       window_start=window_start, level=level, labels_of=labels_of, replaces=old,
                                       names=names if len(cuts) == 2 else None))
            else:
                out.append(write_block(table, self.data_dir, rel, tenant=tenant, window_start=window_start,
                                       level=level, order=order[lo:hi], gather=gather, labels_of=labels_of,
                                       replaces=old, names=names if len(cuts) == 2 else None))
            if self.objects is not None:
                self.objects.put(self.data_dir / rel, rel)  # acknowledged: the block is in the store
                self._cached(rel, out[-1].bytes)
        if self.objects is not None:
            self.trim_cache()
        return out

    def _block_path(self, tenant: str, window_start: int) -> str:
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        name = F.block_name(time.time_ns(), seq, self.node_id)
        return f"{F.BLOCKS_DIR}/{F.tenant_dir_name(tenant)}/{window_start:020d}/{name}"

    def remove_unwritten(self, blocks: list[BlockInfo]) -> None:
        """Delete blocks written but never registered (a flush that failed before registering).
        An object the store may hold already is deleted if the store lets us; one left behind holds
        rows the WAL still has, written again by the next flush: reads and compaction drop the
        duplicates."""
        for b in blocks:
            (self.data_dir / b.path).unlink(missing_ok=True)
            self._uncache(b.path)
            if self.objects is not None:
                try:
                    self.objects.delete(b.path)
                except StorageError as e:
                    log.warning("block %s of a failed write stays in the object store: %s", b.path, e.message)

    # ---- the cache of an object store's blocks ------------------------------------------------------
    def _cached(self, rel: str, size: int) -> None:
        with self._cache_lock:
            if rel not in self._cache:
                self._cache[rel] = size
                self._cache_bytes += size
            self._cache.move_to_end(rel)

    def _uncache(self, rel: str) -> bool:
        with self._cache_lock:
            size = self._cache.pop(rel, None)
            if size is not None:
                self._cache_bytes -= size
            return size is not None

    def cache_bytes(self) -> int:
        return self._cache_bytes

    def trim_cache(self) -> None:
        """Delete cached block files, least recently read first, until the cache fits its size. A
        read holding the file keeps its mapping; the next one reads the object."""
        while True:
            with self._cache_lock:
                if self._cache_bytes <= self.cache_max_bytes or not self._cache:
                    return
                rel, size = self._cache.popitem(last=False)
                self._cache_bytes -= size
            reader = self._readers.pop(rel, None)
            if reader is not None:
                reader.close()  # its kept-open mapping would hold the deleted file's space
            (self.data_dir / rel).unlink(missing_ok=True)
            _rmdir_if_empty((self.data_dir / rel).parent)

    # ---- reading ------------------------------------------------------------------------------
    def reader(self, b: BlockInfo) -> BlockReader:
        """The open reader of a block, opened on first use and kept until the block is discarded,
        quarantined or the files are closed."""
        r = self._readers.get(b.path)
        if r is None:
            if self.objects is None:
                r = BlockReader(self.data_dir / b.path, b.path, streams=b.streams.ids)
            else:
                r = BlockReader(self.data_dir / b.path, b.path, partial(self.objects.open, b.path),
                                partial(self._want_fill, b), streams=b.streams.ids)
            self._readers[b.path] = r
        if self.objects is not None:
            with self._cache_lock:
                if b.path in self._cache:
                    self._cache.move_to_end(b.path)
        return r

    def _want_fill(self, b: BlockInfo) -> None:
        """Rows of `b` were read from its object: download it whole for the reads after (a read
        that needed its footer only, every row group pruned, downloads nothing)."""
        with self._cache_lock:
            if not 0 < b.bytes <= self.cache_max_bytes or b.path in self._filling or b.path in self._cache:
                return
            if self._filler is None:
                self._filler = ThreadPoolExecutor(1, thread_name_prefix="logyard-cache-fill")
            try:
                self._filler.submit(self._fill, b)
            except RuntimeError:  # closing: the files are shut
                return
            self._filling.add(b.path)

    def _fill(self, b: BlockInfo) -> None:
        """Download a block read from the store into the cache (the cache-fill thread)."""
        assert self.objects is not None
        local = self.data_dir / b.path
        try:
            if not local.exists():
                self.objects.get(b.path, local)
            if any(x.path == b.path for x in self._index.blocks(b.tenant)):
                self._cached(b.path, local.stat().st_size)
                reader = self._readers.pop(b.path, None)
                if reader is not None:
                    reader.close()  # its kept-open file is the object's: the next reader maps the copy
                self.trim_cache()
            else:  # discarded meanwhile
                local.unlink(missing_ok=True)
        except (StorageError, OSError) as e:
            log.warning("caching block %s failed (it is read from the store): %s", b.path, e)
        finally:
            with self._cache_lock:
                self._filling.discard(b.path)

    def pin(self) -> int:
        """Called by a read before it lists blocks: files discarded after this stay until `unpin`."""
        with self._trash_lock:
            self._pins[self._epoch] += 1
            return self._epoch

    def unpin(self, epoch: int) -> None:
        with self._trash_lock:
            self._pins[epoch] -= 1
            if self._pins[epoch] <= 0:
                del self._pins[epoch]

    # ---- damage -------------------------------------------------------------------------------
    def quarantine(self, b: BlockInfo, err: CorruptDataError) -> None:
        """A block that does not decode: drop it from the index, move its file to quarantine/,
        log and count it. Reads go on without it (they skip it: reads.py). With an object store,
        a damaged cached copy is only deleted (the block is read from its object next time); a
        damaged object is moved to quarantine/ in the store."""
        with self._quarantine_lock:
            if self.objects is not None and self._uncache(b.path):
                reader = self._readers.pop(b.path, None)
                if reader is not None:
                    reader.close()
                (self.data_dir / b.path).unlink(missing_ok=True)
                log.error("cached copy of block %s deleted, the object is read instead: %s", b.path, err.message)
                return
            if not self._index.drop_block(b):
                return  # another read quarantined it, or a compaction replaced it
            reader = self._readers.pop(b.path, None)
            if reader is not None:
                reader.close()
            if self.objects is None:
                quarantine_block_file(self.data_dir, self.data_dir / b.path, b.path, err, self._recovery)
                return
            self._recovery.blocks_quarantined += 1
            try:
                where = f"moved to {self.objects.quarantine(b.path)} in the object store"
            except StorageError as e:
                where = f"left in the object store, a rebuild of the index reads it again ({e.message})"
            log.error("block %s quarantined (%s): %s", b.path, where, err.message)

    # ---- deleting -----------------------------------------------------------------------------
    def discard(self, blocks: list[BlockInfo], *, delay_s: float = 0.0, delete_objects: bool = True) -> None:
        """Called once the blocks are unregistered: reads pinned from now on cannot list them.
        The files stay at least `delay_s` (until `close` at the latest). Without `delete_objects`
        only the local files go (blocks another process removed from the store, seen by a reader)."""
        now = time.monotonic()
        due = now + max(TRASH_GRACE_S, delay_s)
        not_before = now + delay_s
        with self._trash_lock:
            self._epoch += 1
            for b in blocks:
                reader = self._readers.pop(b.path, None)
                if reader is not None:
                    reader.close()  # its open file would keep the deleted file's space
                self._trash.append((self.data_dir / b.path, due, self._epoch, not_before))
                if not delete_objects:
                    self._keep_objects.add(b.path)

    def empty_trash(self, force: bool = False) -> None:
        """Delete the discarded files no running read may still use (all of them with `force`).
        Objects are deleted outside the trash's lock (reads take it to pin), and after a failed
        delete not again before DELETE_RETRY_S."""
        now = time.monotonic()
        with self._trash_lock:
            oldest_read = min(self._pins, default=self._epoch + 1)
            keep, due_now = [], []
            for entry in self._trash:
                path, due, epoch, not_before = entry
                if force or (not_before <= now and (due <= now or oldest_read >= epoch)):
                    due_now.append(entry)
                else:
                    keep.append(entry)
            if self.objects is not None and not force and now < self._delete_retry_at:
                keep, due_now = keep + due_now, []
            self._trash = keep
        failed = []
        for entry in due_now:
            path = entry[0]
            rel = path.relative_to(self.data_dir).as_posix()
            if rel in self._keep_objects:
                self._keep_objects.discard(rel)
            elif self.objects is not None and not self._delete_object(rel, force):
                failed.append(entry)  # tried again at a later pass
                continue
            # A read that listed the block before it was discarded may have opened it again.
            reader = self._readers.pop(rel, None)
            if reader is not None:
                reader.close()
            path.unlink(missing_ok=True)
            self._uncache(rel)
            _rmdir_if_empty(path.parent)
        if failed:
            self._delete_retry_at = time.monotonic() + DELETE_RETRY_S
            with self._trash_lock:
                self._trash.extend(failed)

    def forget_object(self, b: BlockInfo) -> None:
        """Delete the object of a block that goes with no block replacing it (all its rows expired
        or deleted), before the index lets go of it: were it left for the trash and the process
        died first, a rebuild from the store would bring its rows back (a replaced block is named
        by its replacement instead). Raises StorageError (503): then nothing changed, and the pass
        is tried again. Its file stays for the reads that use it, until the trash deletes it."""
        if self.objects is not None:
            self.objects.delete(b.path)

    def _delete_object(self, rel: str, closing: bool) -> bool:
        """Delete a discarded block's object; whether it is gone. Left behind at close (the store
        is down), the new block's footer names it as replaced, or retention drops it again."""
        assert self.objects is not None
        try:
            self.objects.delete(rel)
            return True
        except StorageError as e:
            log.warning("deleting discarded block %s from the object store failed (%s)", rel, e.message)
            return closing

    def remove_orphans(self) -> None:
        """At open: delete temp files and block files the index does not know (a crash between
        writing a block and registering it). With an object store the index was made to agree with
        it first (recovery.py); the known files left are the cache, oldest first."""
        known = {b.path: b for b in self._index.all_blocks()}
        root = self.data_dir / F.BLOCKS_DIR
        cached = []
        for p in list(root.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(self.data_dir).as_posix()
            if p.name.endswith(F.TMP_SUFFIX) or (p.name.endswith(F.BLOCK_SUFFIX) and rel not in known):
                log.warning("removing orphan block file %s", p)
                p.unlink()
                _rmdir_if_empty(p.parent)
            elif rel in known and self.objects is not None:
                st = p.stat()
                if st.st_size != known[rel].bytes:  # not the object's copy (a crash while it was fetched)
                    p.unlink()
                    continue
                cached.append((st.st_mtime, rel, st.st_size))
        for _, rel, size in sorted(cached):
            self._cached(rel, size)
        if self.objects is not None:
            self.trim_cache()

    def close(self) -> None:
        """Close the open readers and delete the whole trash: no read runs any more."""
        if self._filler is not None:
            self._filler.shutdown(wait=True, cancel_futures=True)
            self._filler = None
        for reader in list(self._readers.values()):
            reader.close()
        self.empty_trash(force=True)


def _rmdir_if_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass  # not empty, or already gone: both fine
