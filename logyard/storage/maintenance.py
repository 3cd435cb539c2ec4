"""Background maintenance of a Store: flush on size/age, retention, compaction, deleting old files.

Compaction merges the blocks of one tenant and window into one (sorted, duplicate-free), so reads
of that window need no cross-block dedup. A window that can still receive data is merged at the
flush compression level; a settled one (ended more than `head_max_age_s` ago) is rewritten once at
the high level, which is where the on-disk ratio comes from. Replaced files go to a trash and are
deleted once no read that may have listed them is still running (reads pin the epoch they started
in), or after a grace period at the latest (a read left unfinished does not pin the files forever).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import CorruptDataError
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage.block import BlockInfo

if TYPE_CHECKING:
    from logyard.storage.store import Store

log = logging.getLogger(__name__)

TICK_S = 1.0
RETENTION_EVERY_S = 60.0
COMPACT_EVERY_S = 5.0  # a pass with nothing to merge costs a scan of the block list
COMPACT_QUIET_S = 10.0  # background compaction waits for this long without a flush: during an
# ingest burst both cores go to ingest, and the windows are merged once, after it
COMPACT_MAX_DEFER_S = 300.0
TRASH_GRACE_S = 120.0  # replaced files outlive a read still unfinished this long after it started


class Maintenance:
    def __init__(self, store: "Store") -> None:
        self.store = store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._trash: list[tuple[Path, float, int]] = []  # path, delete-by time, epoch of the discard
        self._trash_lock = threading.Lock()
        self._epoch = 0  # bumped by each discard
        self._pins: Counter[int] = Counter()  # epoch -> reads in progress that started in it
        self.errors = 0  # maintenance passes that failed (each is logged)

    # ---- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="logyard-storage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        last_retention = last_compact = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            now = time.monotonic()
            try:
                self.store.maybe_flush()
                if now - last_retention >= RETENTION_EVERY_S:
                    last_retention = now
                    self.apply_retention()
                quiet = now - self.store.last_flush >= COMPACT_QUIET_S
                overdue = now - last_compact >= COMPACT_MAX_DEFER_S  # never quiet: compact anyway
                if now - last_compact >= COMPACT_EVERY_S and (quiet or overdue):
                    last_compact = now
                    self.compact()
                self.empty_trash()
            except Exception:  # keep the thread alive; the failure is logged and counted
                self.errors += 1
                log.exception("storage maintenance failed")

    # ---- retention ----------------------------------------------------------------------------
    def apply_retention(self) -> int:
        """Delete blocks whose newest row is older than the retention period; returns how many."""
        s = self.store
        cutoff = int(s.clock() * 1e9) - s.retention_ns
        with s._compact_lock:
            old = [b for b in s._index.all_blocks() if b.max_ts < cutoff]
            if old:
                s._index.swap_blocks([], old)
                self._discard(old)
        return len(old)

    # ---- compaction ---------------------------------------------------------------------------
    def compact(self) -> int:
        """Merge the blocks of each tenant+window into one; returns how many blocks were replaced."""
        s = self.store
        replaced = 0
        with s._compact_lock:
            now_ns = int(s.clock() * 1e9)
            groups: dict[tuple[str, int], list[BlockInfo]] = defaultdict(list)
            for b in s._index.all_blocks():
                groups[(b.tenant, b.window_start)].append(b)
            for (tenant, window_start), blocks in sorted(groups.items()):
                settled = window_start + s.window_ns + int(s.head_max_age_s * 1e9) <= now_ns
                if len(blocks) == 1 and (blocks[0].level > 0 or not settled):
                    continue
                chosen, rows = [], 0
                for b in sorted(blocks, key=lambda b: (b.rows, b.id)):  # smallest first
                    if chosen and rows + b.rows > F.COMPACT_MAX_ROWS:
                        break
                    chosen.append(b)
                    rows += b.rows
                if len(chosen) == 1 and (chosen[0].level > 0 or not settled):
                    continue
                self._merge(tenant, chosen, level=1 if settled else 0)
                replaced += len(chosen)
            if replaced:
                s._index.checkpoint()  # a compaction pass ends a burst of catalogue changes
        return replaced

    def _merge(self, tenant: str, blocks: list[BlockInfo], *, level: int) -> None:
        s = self.store
        parts = []
        for b in blocks:
            r = s._reader(b)
            try:
                t = r.read(r.row_groups(None, -(1 << 63), (1 << 63) - 1), list(F.BLOCK_COLUMNS))
            except CorruptDataError as e:
                s._quarantine_block(b, e)  # the others are merged at the next pass
                return
            # Per-block dictionaries differ; plain strings concatenate without unification.
            parts.append(t.set_column(t.schema.get_field_index("meta"), "meta", pc.cast(t.column("meta"), pa.string())))
        table = pa.concat_tables(parts)
        if len(parts) > 1:
            table = R.sort_dedup(table)
        new = s._write_blocks(tenant, table, level=level, clean=True)
        s._index.swap_blocks(new, blocks)
        self._discard(blocks)

    # ---- files --------------------------------------------------------------------------------
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

    def _discard(self, blocks: list[BlockInfo]) -> None:
        """Called once the blocks are unregistered: reads pinned from now on cannot list them."""
        due = time.monotonic() + TRASH_GRACE_S
        with self._trash_lock:
            self._epoch += 1
            for b in blocks:
                reader = self.store._readers.pop(b.path, None)
                if reader is not None:
                    reader.close()  # its open file would keep the deleted file's space
                self._trash.append((self.store.data_dir / b.path, due, self._epoch))

    def empty_trash(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._trash_lock:
            oldest_read = min(self._pins, default=self._epoch + 1)
            keep = []
            for path, due, epoch in self._trash:
                if force or due <= now or oldest_read >= epoch:
                    # A read that listed the block before it was discarded may have opened it again.
                    reader = self.store._readers.pop(path.relative_to(self.store.data_dir).as_posix(), None)
                    if reader is not None:
                        reader.close()
                    path.unlink(missing_ok=True)
                    _rmdir_if_empty(path.parent)
                else:
                    keep.append((path, due, epoch))
            self._trash = keep

    def remove_orphans(self) -> None:
        """At open: delete temp files and block files the index does not know (a crash between
        writing a block and registering it)."""
        s = self.store
        known = {b.path for b in s._index.all_blocks()}
        root = s.data_dir / F.BLOCKS_DIR
        for p in list(root.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(s.data_dir).as_posix()
            if p.name.endswith(F.TMP_SUFFIX) or (p.name.endswith(F.BLOCK_SUFFIX) and rel not in known):
                log.warning("removing orphan block file %s", p)
                p.unlink()
                _rmdir_if_empty(p.parent)


def _rmdir_if_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass  # not empty, or already gone: both fine
