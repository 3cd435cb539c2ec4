"""Background maintenance of a Store: flush on size/age, retention, delete requests, compaction,
deleting old files.

Retention and the deletion pass are Loki's compactor work and run every `compaction_interval`:
retention (retention.py's rules) drops the blocks whose streams are all expired and rewrites those
where only some are; the deletion pass rewrites the blocks holding rows of delete requests past
their cancel period (deletes.py), then marks the requests processed. Both log what they removed
and count it.

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
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import CorruptDataError
from logyard.storage import block_counts
from logyard.storage import format as F
from logyard.storage import rows as R
from logyard.storage.block import BlockInfo
from logyard.storage.deletes import Active, DeleteRequests, deleted_rows
from logyard.storage.files import BlockFiles
from logyard.storage.index import Index
from logyard.storage.retention import RetentionRules

log = logging.getLogger(__name__)

TICK_S = 1.0
COMPACT_EVERY_S = 5.0  # a pass with nothing to merge costs a scan of the block list
COMPACT_QUIET_S = 10.0  # background compaction waits for this long without a flush: during an
# ingest burst both cores go to ingest, and the windows are merged once, after it
COMPACT_MAX_DEFER_S = 300.0  # or compaction_interval when shorter (Loki's "how often compaction runs")


def compaction_due(now: float, last_compact: float, last_flush: float, interval_s: float) -> bool:
    """Whether a background compaction pass runs now (monotonic seconds): at most every
    COMPACT_EVERY_S, once ingest has been quiet for COMPACT_QUIET_S, and under steady ingest
    anyway once min(COMPACT_MAX_DEFER_S, `interval_s`) has passed since the last pass."""
    since = now - last_compact
    if since < COMPACT_EVERY_S:
        return False
    return now - last_flush >= COMPACT_QUIET_S or since >= min(COMPACT_MAX_DEFER_S, interval_s)


class Maintenance:
    def __init__(self, index: Index, files: BlockFiles, *, clock: Callable[[], float], retention: Callable[[str], RetentionRules],
                 window_ns: int, settle_ns: int, maybe_flush: Callable[[], None],
                 last_flush: Callable[[], float], flush: Callable[[], None], deletes: DeleteRequests,
                 compaction_interval_s: float = 600.0, retention_enabled: bool = True,
                 retention_delete_delay_s: float = 0.0, delete_cancel_period_s: float = 86400.0,
                 passes: bool = True, refresh: Callable[[], object] | None = None,
                 refresh_period_s: float = 0.0, may_run: Callable[[], bool] | None = None,
                 after_compaction: Callable[[], None] | None = None) -> None:
        """`clock` is wall time in seconds (retention and settling compare it with row times);
        a window is settled `settle_ns` after its end; `maybe_flush` flushes the head if it is
        due, `flush` flushes it now (before a deletion pass); `last_flush` is the monotonic time
        the last flush ended. Retention and the deletion pass run every `compaction_interval_s`
        when `retention_enabled`; files retention removes stay `retention_delete_delay_s`.
        Compaction runs when ingest is quiet, and under steady ingest at least every
        `compaction_interval_s` (5 minutes at most: compaction_due). Without `passes` the thread
        only flushes (a writer beside a backend, which compacts); `refresh`, when given, runs every
        `refresh_period_s`, before the passes (the object store re-listed: Store.refresh). `may_run`,
        when given, is asked before the background passes of each tick: False skips them (the backend
        lease is another process's: lease.py)."""
        self.index = index
        self.files = files
        self.clock = clock
        self.retention = retention  # a tenant's rules (limits overridden per tenant)
        self.deletes = deletes
        self.flush = flush
        self.compaction_interval_s = compaction_interval_s
        self.retention_enabled = retention_enabled
        self.retention_delete_delay_s = retention_delete_delay_s
        self.delete_cancel_period_s = delete_cancel_period_s
        self.retention_lines: Counter[str] = Counter()  # rows removed by retention, per tenant
        self.retention_blocks = 0  # blocks dropped or rewritten by retention
        self.window_ns = window_ns
        self.settle_ns = settle_ns
        self.maybe_flush = maybe_flush
        self.last_flush = last_flush
        self.passes = passes
        self.refresh = refresh
        self.refresh_period_s = refresh_period_s
        self.may_run = may_run
        self._lock = threading.Lock()  # serializes compaction and retention
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0  # maintenance passes that failed (each is logged)
        # Called after each merge: the server hands the memory the merge freed back to the OS
        # (api/memory.py). The allocators would keep it for good otherwise, and a pass of merges
        # kept the largest merge's ~80 MiB (the bench day's windows) until its end: released once
        # per pass, the next merges stacked on top of it.
        self.after_compaction = after_compaction

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
        last_retention = last_compact = last_refresh = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            now = time.monotonic()
            try:
                self.maybe_flush()
                if self.refresh is not None and now - last_refresh >= self.refresh_period_s:
                    last_refresh = now
                    self.refresh()
                if not self.passes or (self.may_run is not None and not self.may_run()):
                    self.files.empty_trash()
                    continue
                if self.retention_enabled and now - last_retention >= self.compaction_interval_s:
                    last_retention = now
                    self.apply_retention()
                    self.apply_deletes()
                if compaction_due(now, last_compact, self.last_flush(), self.compaction_interval_s):
                    last_compact = now
                    # bounded, so that flushes and retention keep their turn when compaction is behind
                    self.compact(budget_s=min(COMPACT_MAX_DEFER_S, self.compaction_interval_s))
                self.files.empty_trash()
            except Exception:  # keep the thread alive; the failure is logged and counted
                self.errors += 1
                log.exception("storage maintenance failed")

    # ---- retention ----------------------------------------------------------------------------
    def apply_retention(self) -> int:
        """Remove the rows of streams older than their retention period: blocks whose streams are
        all expired are dropped, blocks where some are get rewritten without them. Returns how
        many blocks were dropped or rewritten."""
        now_ns = int(self.clock() * 1e9)
        changed = 0
        with self._lock:
            periods: dict[tuple[str, int], int] = {}
            for b in self.index.all_blocks():  # one step per block, and per new stream of it
                s = b.streams
                per = np.array([self._period(periods, b.tenant, sid) for sid in s.ids.tolist()], dtype=np.int64)
                expired = RetentionRules.expired(per, s.max_ts, now_ns)
                if not expired.any():
                    continue
                lines = int(s.rows[expired].sum())
                if expired.all():
                    self.files.forget_object(b)  # no block replaces it: nothing else could tell a rebuild
                    self.index.swap_blocks([], [b])
                    self.files.discard([b], delay_s=self.retention_delete_delay_s)
                elif not self._rewrite(b, lambda t, gone=s.ids[expired]: np.isin(R._np(t.column("stream")), gone),
                                       delay_s=self.retention_delete_delay_s):
                    continue
                changed += 1
                self.retention_blocks += 1
                self.retention_lines[b.tenant] += lines
                log.info("retention: removed %d lines of %d streams from block %s (tenant %s)",
                         lines, int(expired.sum()), b.path, b.tenant)
            if changed:
                self.index.checkpoint()
        return changed

    def _period(self, cache: dict[tuple[str, int], int], tenant: str, sid: int) -> int:
        key = (tenant, sid)
        p = cache.get(key)
        if p is None:
            p = cache[key] = self.retention(tenant).period_for(self.index.labels_of(tenant, sid))
        return p

    # ---- delete requests ------------------------------------------------------------------------
    def apply_deletes(self) -> int:
        """Rewrite the blocks holding rows of the delete requests past their cancel period, then
        mark those requests processed; returns how many requests were processed."""
        now_ms = int(self.clock() * 1000)
        due = self.deletes.due(now_ms, int(self.delete_cancel_period_s * 1000))
        if not due:
            return 0
        self.flush()  # rows of the requests still in the head go to blocks first, to be rewritten there
        with self._lock:
            by_tenant: dict[str, list[Active]] = defaultdict(list)
            for a in due:
                by_tenant[a.request.tenant].append(a)
            for tenant, active in by_tenant.items():
                counts = [0] * len(active)
                for b in self.index.blocks(tenant):  # one step per block of the tenant
                    mine = [i for i, a in enumerate(active)
                            if a.request.start_ns <= b.max_ts and a.request.end_ns >= b.min_ts]
                    if not mine:
                        continue
                    sub = [active[i] for i in mine]
                    got = [0] * len(sub)

                    def gone(t: pa.Table, sub=sub, got=got) -> np.ndarray:
                        m = deleted_rows(t, sub, lambda sid: self.index.labels_of(tenant, sid), got)
                        return np.zeros(t.num_rows, dtype=bool) if m is None else m

                    if self._rewrite(b, gone):
                        for i, n in zip(mine, got):
                            counts[i] += n
                for a, n in zip(active, counts):
                    self.deletes.mark_processed(a.request, n, now_ms)
                    log.info("delete request %s of tenant %s processed: %d lines deleted (query %s)",
                             a.request.request_id, tenant, n, a.request.query)
            self.index.checkpoint()
        return len(due)

    def _rewrite(self, b: BlockInfo, gone: Callable[[pa.Table], np.ndarray], *, delay_s: float = 0.0) -> bool:
        """Replace block `b` by one without the rows `gone(table)` marks (none left: no block);
        whether it changed. Called with `_lock` held."""
        r = self.files.reader(b)
        try:
            t = r.read(r.row_groups(None, -(1 << 63), (1 << 63) - 1), list(F.BLOCK_COLUMNS))
        except CorruptDataError as e:
            self.files.quarantine(b, e)
            return False
        mask = gone(t)
        if not mask.any():
            return False
        kept = R.keep_rows(t, ~mask)
        kept = kept.set_column(kept.schema.get_field_index("meta"), "meta", pc.cast(kept.column("meta"), pa.string()))
        if kept.num_rows:
            new = self._write(b.tenant, kept, level=b.level, replaces=[b])
        else:
            new = []
            self.files.forget_object(b)  # no block replaces it: nothing else could tell a rebuild
        self.index.swap_blocks(new, [b])
        self.files.discard([b], delay_s=delay_s)
        return True

    def _write(self, tenant: str, table: pa.Table, *, level: int, replaces: list[BlockInfo],
               clean: bool = True, names: dict[str, set[int]] | None = None) -> list[BlockInfo]:
        """The blocks taking the place of `replaces` (named in their footers), written (and uploaded
        to the object store, if any) whole, or none left behind; `clean` as BlockFiles.write's."""
        new: list[BlockInfo] = []
        try:
            return self.files.write(tenant, table, level=level, clean=clean, out=new, replaces=replaces,
                                    names=names)
        except BaseException:
            self.files.remove_unwritten(new)
            raise

    # ---- compaction ---------------------------------------------------------------------------
    def compact(self, budget_s: float | None = None) -> int:
        """Merge the blocks of each tenant+window into one, oldest windows first; returns how many
        blocks were replaced. With `budget_s`, no merge starts once the pass has run that long: the
        rest waits for the next pass, and meanwhile the thread flushes and applies retention (which
        would otherwise wait behind a backlog of compaction, and the disk fill up)."""
        replaced = 0
        started = time.monotonic()
        with self._lock:
            now_ns = int(self.clock() * 1e9)
            groups: dict[tuple[str, int], list[BlockInfo]] = defaultdict(list)
            for b in self.index.all_blocks():
                groups[(b.tenant, b.window_start)].append(b)
            for (tenant, window_start), blocks in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
                if budget_s is not None and replaced and time.monotonic() - started >= budget_s:
                    break
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
                if self.after_compaction is not None:
                    self.after_compaction()
            if replaced:
                self.index.checkpoint()  # a compaction pass ends a burst of catalogue changes
        return replaced

    def _merge(self, tenant: str, blocks: list[BlockInfo], *, level: int) -> None:
        parts = []
        # The merged block's rows are all those of `blocks` (exact duplicates dropped), so its
        # metadata names are the union of theirs; None when a block predates that footer.
        names: dict[str, set[int]] | None = {}
        for b in blocks:
            r = self.files.reader(b)
            try:
                t = r.read(r.row_groups(None, -(1 << 63), (1 << 63) - 1), list(F.BLOCK_COLUMNS))
                known = r.meta_names() if names is not None else None
            except CorruptDataError as e:
                self.files.quarantine(b, e)  # the others are merged at the next pass
                return
            # Per-block dictionaries differ; plain strings concatenate without unification.
            parts.append(t.set_column(t.schema.get_field_index("meta"), "meta", pc.cast(t.column("meta"), pa.string())))
            if known is None:
                names = None
            elif names is not None:
                block_counts.merge_names(names, {n: set(ids.tolist()) for n, ids in known.items()})
        # One block is already sorted and duplicate-free; several are sorted together by the write.
        new = self._write(tenant, pa.concat_tables(parts), level=level, replaces=blocks, clean=len(parts) == 1,
                          names=names)
        self.index.swap_blocks(new, blocks)
        self.files.discard(blocks)
