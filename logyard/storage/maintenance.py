"""Background maintenance of a Store: flush on size/age, retention, compaction, deleting old files.

Compaction merges the blocks of one tenant and window into one (sorted, duplicate-free), so reads
of that window need no cross-block dedup. A window that can still receive data is merged at the
flush compression level; a settled one (ended more than `settle_ns` ago) is rewritten once at the
high level, which is where the on-disk ratio comes from. Replaced files go to the trash of
`BlockFiles` (files.py), which deletes them once no read may still use them.

Maintenance works on the index and the block files; of the store it knows only two callables, to
flush the head when it is due and to tell when the last flush ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import CorruptDataError
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage.block import BlockInfo
from logyard.storage.files import BlockFiles
from logyard.storage.index import Index

log = logging.getLogger(__name__)

TICK_S = 1.0
RETENTION_EVERY_S = 60.0
COMPACT_EVERY_S = 5.0  # a pass with nothing to merge costs a scan of the block list
COMPACT_QUIET_S = 10.0  # background compaction waits for this long without a flush: during an
# ingest burst both cores go to ingest, and the windows are merged once, after it
COMPACT_MAX_DEFER_S = 300.0


class Maintenance:
    def __init__(self, index: Index, files: BlockFiles, *, clock: Callable[[], float], retention_ns: int,
                 window_ns: int, settle_ns: int, maybe_flush: Callable[[], None],
                 last_flush: Callable[[], float]) -> None:
        """`clock` is wall time in seconds (retention and settling compare it with row times);
        a window is settled `settle_ns` after its end; `maybe_flush` flushes the head if it is
        due; `last_flush` is the monotonic time the last flush ended."""
        self.index = index
        self.files = files
        self.clock = clock
        self.retention_ns = retention_ns
        self.window_ns = window_ns
        self.settle_ns = settle_ns
        self.maybe_flush = maybe_flush
        self.last_flush = last_flush
        self._lock = threading.Lock()  # serializes compaction and retention
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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
                self.maybe_flush()
                if now - last_retention >= RETENTION_EVERY_S:
                    last_retention = now
                    self.apply_retention()
                quiet = now - self.last_flush() >= COMPACT_QUIET_S
                overdue = now - last_compact >= COMPACT_MAX_DEFER_S  # never quiet: compact anyway
                if now - last_compact >= COMPACT_EVERY_S and (quiet or overdue):
                    last_compact = now
                    self.compact()
                self.files.empty_trash()
            except Exception:  # keep the thread alive; the failure is logged and counted
                self.errors += 1
                log.exception("storage maintenance failed")

    # ---- retention ----------------------------------------------------------------------------
    def apply_retention(self) -> int:
        """Delete blocks whose newest row is older than the retention period; returns how many."""
        cutoff = int(self.clock() * 1e9) - self.retention_ns
        with self._lock:
            old = [b for b in self.index.all_blocks() if b.max_ts < cutoff]
            if old:
                self.index.swap_blocks([], old)
                self.files.discard(old)
        return len(old)

    # ---- compaction ---------------------------------------------------------------------------
    def compact(self) -> int:
        """Merge the blocks of each tenant+window into one; returns how many blocks were replaced."""
        replaced = 0
        with self._lock:
            now_ns = int(self.clock() * 1e9)
            groups: dict[tuple[str, int], list[BlockInfo]] = defaultdict(list)
            for b in self.index.all_blocks():
                groups[(b.tenant, b.window_start)].append(b)
            for (tenant, window_start), blocks in sorted(groups.items()):
                settled = window_start + self.window_ns + self.settle_ns <= now_ns
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
                self.index.checkpoint()  # a compaction pass ends a burst of catalogue changes
        return replaced

    def _merge(self, tenant: str, blocks: list[BlockInfo], *, level: int) -> None:
        parts = []
        for b in blocks:
            r = self.files.reader(b)
            try:
                t = r.read(r.row_groups(None, -(1 << 63), (1 << 63) - 1), list(F.BLOCK_COLUMNS))
            except CorruptDataError as e:
                self.files.quarantine(b, e)  # the others are merged at the next pass
                return
            # Per-block dictionaries differ; plain strings concatenate without unification.
            parts.append(t.set_column(t.schema.get_field_index("meta"), "meta", pc.cast(t.column("meta"), pa.string())))
        table = pa.concat_tables(parts)
        if len(parts) > 1:
            table = R.sort_dedup(table)
        new = self.files.write(tenant, table, level=level, clean=True)
        self.index.swap_blocks(new, blocks)
        self.files.discard(blocks)
