"""The Store: the one entry point of storage. It owns the lifecycle of a data directory (open,
WAL replay, close), appends (WAL -> head) and flushes (the head cut into blocks), and wires its
collaborators: `Reads` (reads.py: streams, rows per window, the label APIs; the Store's read
methods hand over to it), `BlockFiles` (files.py: block files written, opened, discarded,
quarantined), `DeleteRequests` (deletes.py: Loki's delete requests, applied to reads at once) and
`Maintenance` (maintenance.py: the background flush, retention, deletion passes and compaction).

With an object store (objects.py) a flush uploads its blocks and deletes the WAL segments only once
the store acknowledged every one of them. A flush that fails is counted (`Recovery.flush_failures`,
with or without an object store) and, with one, retried, backing off (1 s doubling to 30 s); meanwhile appends go on into the WAL and the head
until `max_unflushed_bytes` wait for the store, then they are refused with a 503 that says why.

Locks: `_lock` makes "write the WAL record, add to the head" atomic against a flush swapping the
head and rotating the WAL (so a WAL segment is deleted only once all its rows are in blocks);
`_flush_lock` serializes flushes. Readers take a snapshot (head views under `_lock`, then the
block list) and read without it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Collection, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.durable import storage_error
from logyard.errors import ConfigError, LogyardError, StorageError
from logyard.ingest.model import PushStream
from logyard.labels import LabelSet, Matcher
from logyard.needles import LineMatch, Needle
from logyard.read_scope import EVERYTHING, INT64_MAX, INT64_MIN, ReadScope
from logyard.storage import format as F
from logyard.storage.block import DECODED, BlockInfo
from logyard.storage.delete_bucket import BucketDeleteRequests
from logyard.storage.deletes import DeleteFilter, DeleteRequests
from logyard.storage.files import BlockFiles
from logyard.storage.head import HEAD_SCHEMA, Head, TenantHeadView
from logyard.storage.index import Index
from logyard.storage.live import LiveFeed
from logyard.storage.maintenance import Maintenance
from logyard.storage.objects import ObjectStore
from logyard.storage.reads import Reads
from logyard.storage.recovery import Recovery, open_index, refresh
from logyard.storage.retention import RetentionRules, StreamRetention
from logyard.storage.s3_signed import SignedBucket
from logyard.storage.wal import Wal, WalRecord, build_record, decode_record, encode_record, frame

log = logging.getLogger(__name__)

# An append that finds the head this much over head_max_bytes waits for the flush in progress, or
# flushes itself when none is: memory stays within about (1 + BACKPRESSURE + 2) x head_max_bytes
# (active head, frozen head, flush copies).
BACKPRESSURE = 1.25
FLUSH_RETRY_MIN_S = 1.0
FLUSH_RETRY_MAX_S = 30.0


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
        retention_streams: Sequence[StreamRetention] = (),
        retention_enabled: bool = True,
        compaction_interval_s: float = 600.0,
        retention_delete_delay_s: float = 0.0,
        delete_cancel_period_s: float = 86400.0,
        compile_delete: Callable[[str], DeleteFilter] | None = None,
        retention_for: Callable[[str], RetentionRules] | None = None,
        objects: ObjectStore | None = None,
        cache_max_bytes: int = 1 << 30,
        max_unflushed_bytes: int = 512 << 20,
        node_id: str = "",
        writes: bool = True,
        maintain: bool = True,
        refresh_period_s: float = 0.0,
        remote_heads: Callable[[str, ReadScope], list[tuple[TenantHeadView, dict[int, LabelSet]]]] | None = None,
        retain_flushed_s: float = 0.0,
        may_maintain: Callable[[], bool] | None = None,
        decoded_cache_bytes: int | None = None,
        after_compaction: Callable[[], None] | None = None,
        deletes_bucket: SignedBucket | None = None,
    ) -> None:
        """`retention_ns` 0 keeps data forever; `retention_for(tenant)`, when given, is a tenant's
        rules (per-tenant overrides), else `retention_ns` and `retention_streams` hold for all;
        `compile_delete` turns a delete request's LogQL into its filter (the server passes logql's;
        without it the store takes no delete requests). With `objects`, blocks live in that object
        store, `cache_max_bytes` of them kept in the data directory, and appends are refused while
        flushes fail with `max_unflushed_bytes` in memory (0: never). `node_id` names this writer in
        the names of its blocks (unique among the writers of one bucket). The roles of a scaled-out
        installation (docs/scaling.md) are these three switches: `writes` False takes no appends (no
        WAL is replayed or written: a reader, the backend); `maintain` False runs no compaction,
        retention or deletion pass (a writer beside a backend); `refresh_period_s` re-lists the object
        store this often, to read the blocks other processes added and forget those they removed.
        `remote_heads(tenant, scope)`, for a reader: the writers' unflushed rows in `scope`
        (head_wire.py, logyard/read_scope.py), read with this store's blocks as if they were heads
        of its own. A writer keeps a flushed head in what it gives readers (`head_rows`) for
        `retain_flushed_s` more (Loki's chunk_retain_period): until readers re-listed the store and
        read its blocks, its rows would be in no answer.
        `may_maintain()`, when given, is asked before each tick's background passes (the backend's
        lease, lease.py). `decoded_cache_bytes` bounds the process's cache of decoded row
        groups (block.DECODED; None leaves its bound as it is); `after_compaction` is called after each
        merge of a compaction pass. `deletes_bucket`, when given, holds the delete requests
        (delete_bucket.py: shared by the processes of the bucket, re-listed with the blocks) instead of
        the data directory's deletes.sqlite."""
        if decoded_cache_bytes is not None:
            DECODED.resize(decoded_cache_bytes)
        self.data_dir = Path(data_dir)
        self.retention_ns = retention_ns
        self.window_ns = block_window_ns
        self.head_max_bytes = head_max_bytes
        self.head_max_age_s = head_max_age_s
        self.clock = clock
        self._wal = Wal(self.data_dir / F.WAL_DIR, fsync=wal_fsync, quarantine=self.data_dir / F.QUARANTINE_DIR)
        self.recovery = Recovery()
        self._index = Index(self.data_dir / F.INDEX_FILE)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._head = Head()
        self._frozen: list[Head] = []  # heads being flushed: still visible to readers
        # Streams opened in a head, per tenant (loki_ingester_streams_created_total): a stream
        # counts again when it is pushed to after its head was flushed, as Loki's ingester
        # recreates a stream after flushing it idle.
        self.streams_created: Counter[str] = Counter()
        self.deletes: DeleteRequests | BucketDeleteRequests = (
            DeleteRequests(self.data_dir / F.DELETES_FILE, compile_delete, clock) if deletes_bucket is None
            else BucketDeleteRequests(deletes_bucket, compile_delete, clock))
        self.live = LiveFeed(self.deletes.overlapping)  # tails watching appends (live.py)
        self._open = False
        self.last_flush = float("-inf")  # monotonic time the last flush finished
        self._dir_lock: int | None = None
        self.objects = objects
        self.writes = writes
        self.remote_heads = remote_heads
        self._remote_streams_lock = threading.Lock()
        self.retain_flushed_s = retain_flushed_s
        self._flushed: list[tuple[float, Head]] = []  # (monotonic time of the flush, head), oldest first
        # (tenant, scope, writers' heads) fetched for the call or query in progress (heads_snapshot); a
        # context variable, so that the threads reading a query's windows (logql/readahead.py) share it.
        self._pinned: ContextVar[tuple[str, ReadScope, list] | None] = ContextVar(f"logyard_pinned_heads_{id(self)}", default=None)
        self._refresh_skip: set[str] = set()  # blocks of the store that do not decode (refresh)
        self.max_unflushed_bytes = max_unflushed_bytes
        self._flush_failing = False
        self._retry_s = FLUSH_RETRY_MIN_S
        self._retry_at = 0.0  # monotonic time before which a failed flush is not retried
        self.files = BlockFiles(self.data_dir, self._index, self.recovery, window_ns=block_window_ns,
                                objects=objects, cache_max_bytes=cache_max_bytes, node_id=node_id)
        self._reads = Reads(self._index, self.files, window_ns=block_window_ns, head_views=self._head_views,
                            deletes=self.deletes.overlapping)
        self.maintenance = Maintenance(
            self._index, self.files, clock=clock,
            retention=retention_for or (lambda _tenant, rules=RetentionRules(retention_ns, tuple(retention_streams)): rules),
            window_ns=block_window_ns, settle_ns=int(head_max_age_s * 1e9), maybe_flush=self.maybe_flush,
            last_flush=lambda: self.last_flush, flush=self.flush, deletes=self.deletes,
            compaction_interval_s=compaction_interval_s, retention_enabled=retention_enabled,
            retention_delete_delay_s=retention_delete_delay_s, delete_cancel_period_s=delete_cancel_period_s,
            passes=maintain, refresh=self.refresh if objects is not None and refresh_period_s > 0 else None,
            refresh_period_s=refresh_period_s, may_run=may_maintain, after_compaction=after_compaction)

    # ---- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Create directories, open the index, replay the WAL into the head."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_dir()
        (self.data_dir / F.BLOCKS_DIR).mkdir(exist_ok=True)
        try:
            # Rebuilt from the blocks if missing or unreadable, or from the object store if it differs.
            open_index(self.data_dir, self._index, self.recovery, self.objects)
        except BaseException:
            self._index.close()
            self._unlock_dir()
            raise
        stored = int(self._index.setting("block_window_ns", str(self.window_ns)))
        if stored != self.window_ns:
            # Blocks are cut on the stored windows; reads rely on every block matching one window.
            self._index.close()
            self._unlock_dir()
            raise ConfigError(f"storage: block_window_ns {self.window_ns} differs from {stored}, "
                              f"which the data directory {self.data_dir} was written with")
        self.files.remove_orphans()
        try:
            self.deletes.open()  # in the bucket: a store that does not answer stops the start, as above
        except BaseException:
            self._index.close()
            self._unlock_dir()
            raise
        if not self.writes:
            self._open = True
            return
        rows = 0
        for rec in self._wal.replay():
            ids = self._index.stream_ids(rec.tenant, rec.keys, lambda: rec.labels)
            self.streams_created[rec.tenant] += self._head.add(rec, ids)
            rows += rec.rows
        if rows:
            log.info("replayed %d WAL rows into the head", rows)
        self.recovery.wal_skipped_records += self._wal.skipped_records
        self.recovery.wal_skipped_bytes += self._wal.skipped_bytes
        self.recovery.wal_corruptions += self._wal.corruptions
        self._wal.start()
        self._open = True
        if self._head.bytes >= self.head_max_bytes:
            try:
                self.flush()  # a long WAL (flushes failing before the restart): start within bounds
            except StorageError:
                if self.objects is None:
                    raise
                # The object store is down: logged and counted by flush(); the WAL holds the rows,
                # the background thread retries, and pushes meanwhile are bounded by max_unflushed_bytes.

    def close(self) -> None:
        """Clean shutdown: stop the maintenance thread, flush the head, close files."""
        if not self._open:
            return
        self.stop_background()
        try:
            self.flush()  # if this fails the WAL still holds everything: the next open replays it
        finally:
            self._wal.close()
            self.files.close()
            self.deletes.close()
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

    def append_record(self, rec: WalRecord, payload=None) -> None:
        """`append_prepared` of a payload decoded already (`decode_record`), or of a record the
        caller filtered: `payload` is the record's encoding when it has one, else it is encoded."""
        self._commit(rec, frame([payload] if payload is not None else encode_record(rec)))

    def _commit(self, rec: WalRecord, parts: list) -> None:
        """Raises StorageError (507 for a full disk) when the record could not be written: the
        WAL is then as if the append never happened, and nothing of it is in the head."""
        if not self.writes:
            raise AssertionError("BUG: an append to a store opened without writes")
        try:
            ids = self._index.stream_ids(rec.tenant, rec.keys, lambda: rec.labels)
        except sqlite3.Error as e:
            raise storage_error("writing the index", e) from e
        with self._lock:
            if self._flush_failing and self.objects is not None and self.max_unflushed_bytes:
                waiting = self._head.bytes + sum(h.bytes for h in self._frozen)
                if waiting >= self.max_unflushed_bytes:
                    raise StorageError(f"storage: {waiting} bytes wait for the object store to take a flush "
                                       f"(max_unflushed_bytes): push refused until it does", status=503)
            try:
                ticket = self._wal.append(parts)
            except OSError as e:
                err = storage_error("writing the WAL", e)
                if err.status == 507:
                    self.recovery.wal_disk_full_failures += 1
                raise err from e
            self.streams_created[rec.tenant] += self._head.add(rec, ids)
            head_bytes = self._head.bytes
        try:
            self._wal.sync(ticket)  # outside the lock: concurrent appends share one fdatasync
        except OSError as e:
            raise storage_error("syncing the WAL", e) from e
        if self.live.subscribers:  # durable now: tails may see it
            self._publish(rec, ids)
        if head_bytes >= self.head_max_bytes:
            self.maintenance.wake()
            if head_bytes >= BACKPRESSURE * self.head_max_bytes:
                try:
                    self._backpressure()
                except LogyardError as e:  # the append itself is stored: it stands
                    log.error("flush under back-pressure failed: %s", e.message)

    def _publish(self, rec: WalRecord, ids) -> None:
        try:
            self.live.publish(rec, ids)
        except Exception:  # the append is stored and stands; a tail's trouble is the tail's
            log.exception("handing an append to the live tails failed")

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
        now = time.monotonic()
        if self._flush_failing and self.objects is not None:
            if now >= self._retry_at:  # heads a failed flush left frozen, retried with back-off
                try:
                    self.flush()
                except LogyardError:
                    pass  # logged and counted by flush(); the next retry is scheduled
            return
        too_old = h.first_append is not None and now - h.first_append >= self.head_max_age_s
        if h.bytes >= self.head_max_bytes or too_old:
            self.flush()

    def flush(self) -> None:
        """Cut the whole head into blocks, register them, then delete the WAL segments they cover.
        Raises StorageError if a write fails: then no block of the failed head is left behind, the
        head stays readable (frozen) and its WAL segments stay, for the next flush to retry."""
        try:
            try:
                self._flush()
            except (OSError, sqlite3.Error) as e:
                raise storage_error("flush", e) from e
        except LogyardError as e:
            self.recovery.flush_failures += 1
            self._retry_at = time.monotonic() + self._retry_s
            log.error("flush failed, %d bytes stay in the WAL and memory; retrying in %.0fs: %s",
                      self.head_bytes_waiting(), self._retry_s, e.message)
            self._retry_s = min(FLUSH_RETRY_MAX_S, self._retry_s * 2)
            self._flush_failing = True
            raise
        if self._flush_failing:
            log.info("flush succeeded again: the data waiting for it is in blocks")
        self._flush_failing = False
        self._retry_s = FLUSH_RETRY_MIN_S

    def head_bytes_waiting(self) -> int:
        with self._lock:
            return self._head.bytes + sum(h.bytes for h in self._frozen)

    def _flush(self) -> None:
        if not self.writes:
            return  # no head, no WAL
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
                        self.files.write(tenant, table, level=0, out=blocks)
                    self._index.swap_blocks(blocks, [])
                except BaseException:
                    self.files.remove_unwritten(blocks)  # unregistered: they would be orphans taking space
                    raise
                with self._lock:
                    self._frozen.remove(head)
                    if self.retain_flushed_s > 0:
                        self._flushed.append((time.monotonic(), head))
                    self._prune_flushed()
            self._wal.remove_through(sealed)
            if pending:
                self.last_flush = time.monotonic()
                pa.default_memory_pool().release_unused()  # hand the flush's copies back to the OS

    def refresh(self) -> int:
        """Re-list the object store: take in the delete requests other processes changed, register the
        blocks they added, forget those they removed or replaced (recovery.refresh); how many blocks changed. A store that cannot be listed is
        logged and counted, and the blocks known stay readable."""
        assert self.objects is not None
        try:
            self.deletes.refresh()  # a shared home's requests (delete_bucket.py); nothing for deletes.sqlite
        except LogyardError as e:
            self.recovery.refresh_failures += 1
            log.warning("re-listing the delete requests failed, reads go on with those known: %s", e.message)
        try:
            gone, added = refresh(self.data_dir, self._index, self.objects, self._refresh_skip)
        except LogyardError as e:
            self.recovery.refresh_failures += 1
            log.warning("re-listing %s failed, reads go on with the blocks known: %s", self.objects.description,
                        e.message)
            return 0
        if gone:
            # A block replaced by a compaction whose old objects are still there: only a process that
            # compacts (maintain) deletes them; a reader leaves the store alone.
            self.files.discard(gone, delete_objects=self.maintenance.passes)
        if gone or added:
            log.info("object store re-listed: %d blocks added, %d dropped", added, len(gone))
        return added + len(gone)

    def apply_retention(self) -> int:
        return self.maintenance.apply_retention()

    def apply_deletes(self) -> int:
        return self.maintenance.apply_deletes()

    def compact(self) -> int:
        return self.maintenance.compact()

    # ---- reads (reads.py) -----------------------------------------------------------------------
    def _head_views(self, tenant: str) -> list[TenantHeadView]:
        """Given to Reads: the tenant's rows of the active head and of those being flushed, and
        the writers' heads (`remote_heads`), whose streams the index learns here."""
        views = self._own_head_views(tenant)
        if self.remote_heads is not None:
            pinned = self._pinned.get()
            views += pinned[2] if pinned is not None and pinned[0] == tenant else self._fetch_remote(tenant, EVERYTHING)
        return views

    def _fetch_remote(self, tenant: str, scope: ReadScope) -> list[TenantHeadView]:
        assert self.remote_heads is not None
        return [self._know_streams(tenant, view, labels) for view, labels in self.remote_heads(tenant, scope)]

    @contextmanager
    def heads_snapshot(self, tenant: str, scope: ReadScope = EVERYTHING) -> Iterator[None]:
        """Around a whole query, and around a call that matches the index before it looks at heads
        (streams, the label APIs): the writers' heads are fetched first, so their new streams are in
        the index when it is matched, and that one fetch serves every read of the call or query (in
        this context: the window reads' threads copy it), instead of one fetch per window read.
        Only the writers' rows in `scope` are fetched: what the query or call can read. Inside
        another snapshot of the tenant whose scope covers this one, that one stays."""
        pinned = self._pinned.get()
        if self.remote_heads is None or (pinned is not None and pinned[0] == tenant and pinned[1].covers(scope)):
            yield
            return
        token = self._pinned.set((tenant, scope, self._fetch_remote(tenant, scope)))
        try:
            yield
        finally:
            self._pinned.reset(token)

    def _own_head_views(self, tenant: str) -> list[TenantHeadView]:
        with self._lock:
            heads = [*self._frozen, self._head]
            return [v for v in (h.view(tenant) for h in heads) if v is not None]

    def _know_streams(self, tenant: str, view: TenantHeadView, labels: dict[int, LabelSet]) -> TenantHeadView:
        """Register a writer's streams this index has not seen in a block yet (under the writer's
        ids: index.stream_id). A stream whose labels the index has under another id (a data
        directory from before stream ids were derived) is left out of the view, and logged."""
        with self._remote_streams_lock:
            known = self._index.tenants.get(tenant)
            new = {sid: ls for sid, ls in labels.items() if known is None or sid not in known.labels}
            odd = {sid for sid, ls in new.items() if known is not None and ls in known.ids}
            if odd:
                log.error("a writer names %d streams with ids other than this index's: their unflushed rows are "
                          "left out", len(odd))
                new = {sid: ls for sid, ls in new.items() if sid not in odd}
            if new:
                self._index.restore_streams(tenant, new)
        if not odd:
            return view
        keep = [b.filter(pa.array(~np.isin(b.column(0).to_numpy(), list(odd)))) for b in view.batches]
        return TenantHeadView(tuple(keep), {k: v for k, v in view.stats.items() if k not in odd})

    def _prune_flushed(self) -> None:
        """Under `_lock`: let go of flushed heads kept longer than `retain_flushed_s`."""
        cut = time.monotonic() - self.retain_flushed_s
        self._flushed = [(t, h) for t, h in self._flushed if t >= cut]

    def head_rows(self, tenant: str, scope: ReadScope = EVERYTHING) -> tuple[pa.Table, dict[int, LabelSet]]:
        """This process's unflushed rows of `tenant` in `scope` (its streams, [start, end)) and the
        label sets of their streams: what a reader asks a writer for (head_wire.encode_head)."""
        views = self._own_head_views(tenant)
        with self._lock:
            self._prune_flushed()
            views += [v for v in (h.view(tenant) for _, h in self._flushed) if v is not None]
        parts = [v.table() for v in views]
        if not parts:
            return HEAD_SCHEMA.empty_table(), {}
        t = pa.concat_tables(parts)
        if scope.start_ns > INT64_MIN or scope.end_ns < INT64_MAX:
            ts = t.column("ts")
            t = t.filter(pc.and_(pc.greater_equal(ts, scope.start_ns), pc.less(ts, scope.end_ns)))
        stream = t.column("stream").to_numpy() if t.num_rows else np.empty(0, np.int64)
        ids = np.unique(stream)
        labels = {sid: self._index.labels_of(tenant, sid) for sid in ids.tolist()}  # one step per stream
        if scope.groups is not None:
            labels = {sid: ls for sid, ls in labels.items() if scope.matches(ls)}  # one step per stream
            if len(labels) < len(ids):
                t = t.filter(pa.array(np.isin(stream, np.fromiter(labels, np.int64, len(labels)))))
        return t, labels

    def head_lines(self) -> int:
        """Rows in the heads (active and being flushed): each read selects from all of them."""
        with self._lock:
            return self._head.rows + sum(h.rows for h in self._frozen)

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        """The streams of `matchers` with rows in [start, end) (and, of a head, any stream whose rows
        span that range: every caller then reads the rows, so a time-scoped snapshot serves it)."""
        with self.heads_snapshot(tenant, ReadScope.of([matchers], start_ns, end_ns)):
            return self._reads.streams(tenant, matchers, start_ns, end_ns)

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str | Needle] = (), first: int | None = None,
             line_match: LineMatch | None = None,
             scanned: Callable[[int, int, int], None] | None = None) -> Iterator[pa.Table]:
        return self._reads.read(tenant, stream_ids, start_ns, end_ns, direction=direction, columns=columns,
                                line_contains=line_contains, first=first, line_match=line_match, scanned=scanned)

    def windows(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                line_contains: Sequence[str | Needle] = ()) -> list[int]:
        return self._reads.windows(tenant, stream_ids, start_ns, end_ns, line_contains=line_contains)

    def read_hits(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                  columns: Sequence[str], line_contains: Sequence[str | Needle], line_match: LineMatch,
                  max_row_groups: int, scanned: Callable[[int, int, int], None] | None = None,
                  run: Callable = map) -> list[pa.Table] | None:
        return self._reads.read_hits(tenant, stream_ids, start_ns, end_ns, columns=columns,
                                     line_contains=line_contains, line_match=line_match,
                                     max_row_groups=max_row_groups, scanned=scanned, run=run)

    def read_counts(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                    grain_ns: int, with_bytes: bool = False, left: bool = False) -> Iterator[pa.Table]:
        return self._reads.read_counts(tenant, stream_ids, start_ns, end_ns, grain_ns=grain_ns, with_bytes=with_bytes,
                                       left=left)

    def metadata_names(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int) -> frozenset[str] | None:
        return self._reads.metadata_names(tenant, stream_ids, start_ns, end_ns)

    def label_names(self, tenant: str, start_ns: int, end_ns: int, matchers: list[Matcher] | None = None) -> list[str]:
        with self.heads_snapshot(tenant, ReadScope.of([matchers or ()])):
            return self._reads.label_names(tenant, start_ns, end_ns, matchers)

    def label_values(self, tenant: str, name: str, start_ns: int, end_ns: int,
                     matchers: list[Matcher] | None = None) -> list[str]:
        with self.heads_snapshot(tenant, ReadScope.of([matchers or ()])):
            return self._reads.label_values(tenant, name, start_ns, end_ns, matchers)

    def series(self, tenant: str, matcher_groups: list[list[Matcher]], start_ns: int, end_ns: int) -> list[LabelSet]:
        with self.heads_snapshot(tenant, ReadScope.of(matcher_groups)):
            return self._reads.series(tenant, matcher_groups, start_ns, end_ns)

    def index_stats(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict:
        with self.heads_snapshot(tenant, ReadScope.of([matchers])):
            return self._reads.index_stats(tenant, matchers, start_ns, end_ns)

    def volume(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int, *,
               step_ns: int | None = None) -> list[tuple[LabelSet, np.ndarray, np.ndarray]]:
        with self.heads_snapshot(tenant, ReadScope.of([matchers])):
            return self._reads.volume(tenant, matchers, start_ns, end_ns, step_ns=step_ns)

    def memory_streams(self) -> dict[str, int]:
        """Streams with rows in memory (the head and heads being flushed), per tenant."""
        with self._lock:
            heads = [*self._frozen, self._head]
            ids: dict[str, set[int]] = {}
            for h in heads:
                for tenant, th in h.tenants.items():
                    ids.setdefault(tenant, set()).update(th.stats)
        return {tenant: len(v) for tenant, v in ids.items()}

    def sizes(self) -> dict[str, int]:
        with self._lock:
            heads = [*self._frozen, self._head]
        blocks = self._index.all_blocks()
        return {
            "wal_bytes": self._wal.size_bytes(),
            "head_bytes": sum(h.bytes for h in heads),
            "head_lines": sum(h.rows for h in heads),
            "block_bytes": sum(b.bytes for b in blocks),
            # blocks rewritten high by compaction, and the line text they hold: the on-disk ratio
            "compacted_block_bytes": sum(b.bytes for b in blocks if b.level > 0),
            "compacted_line_bytes": sum(b.line_bytes for b in blocks if b.level > 0),
            "blocks": len(blocks),
            "streams": self._index.stream_count(),
            **({"cache_bytes": self.files.cache_bytes()} if self.objects is not None else {}),
        }
