"""The Store: the one entry point of storage. It owns the lifecycle of a data directory (open,
WAL replay, close), appends (WAL -> head) and flushes (the head cut into blocks), and wires its
collaborators: `Reads` (reads.py: streams, rows per window, the label APIs; the Store's read
methods hand over to it), `BlockFiles` (files.py: block files written, opened, discarded,
quarantined), `DeleteRequests` (deletes.py: Loki's delete requests, applied to reads at once) and
`Maintenance` (maintenance.py: the background flush, retention, deletion passes and compaction).

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
from pathlib import Path
from typing import Callable, Collection, Iterator, Sequence

import numpy as np
import pyarrow as pa

from logyard.durable import storage_error
from logyard.errors import ConfigError, LogyardError
from logyard.ingest.model import PushStream
from logyard.labels import LabelSet, Matcher
from logyard.needles import Needle
from logyard.storage import format as F
from logyard.storage.block import DECODED, BlockInfo
from logyard.storage.deletes import DeleteFilter, DeleteRequests
from logyard.storage.files import BlockFiles
from logyard.storage.head import Head, TenantHeadView
from logyard.storage.index import Index
from logyard.storage.live import LiveFeed
from logyard.storage.maintenance import Maintenance
from logyard.storage.reads import Reads
from logyard.storage.recovery import Recovery, open_index
from logyard.storage.retention import RetentionRules, StreamRetention
from logyard.storage.wal import Wal, WalRecord, build_record, decode_record, encode_record, frame

log = logging.getLogger(__name__)

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
        retention_streams: Sequence[StreamRetention] = (),
        retention_enabled: bool = True,
        compaction_interval_s: float = 600.0,
        retention_delete_delay_s: float = 0.0,
        delete_cancel_period_s: float = 86400.0,
        compile_delete: Callable[[str], DeleteFilter] | None = None,
        retention_for: Callable[[str], RetentionRules] | None = None,
        decoded_cache_bytes: int | None = None,
        after_compaction: Callable[[], None] | None = None,
    ) -> None:
        """`retention_ns` 0 keeps data forever; `retention_for(tenant)`, when given, is a tenant's
        rules (per-tenant overrides), else `retention_ns` and `retention_streams` hold for all;
        `compile_delete` turns a delete request's LogQL into its filter (the server passes logql's;
        without it the store takes no delete requests). `decoded_cache_bytes` bounds the process's
        cache of decoded row groups (block.DECODED; None leaves its bound as it is);
        `after_compaction` is called after each compaction pass that merged blocks."""
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
        self.deletes = DeleteRequests(self.data_dir / F.DELETES_FILE, compile_delete, clock)
        self.live = LiveFeed(self.deletes.overlapping)  # tails watching appends (live.py)
        self._open = False
        self.last_flush = float("-inf")  # monotonic time the last flush finished
        self._dir_lock: int | None = None
        self.files = BlockFiles(self.data_dir, self._index, self.recovery, window_ns=block_window_ns)
        self._reads = Reads(self._index, self.files, window_ns=block_window_ns, head_views=self._head_views,
                            deletes=self.deletes.overlapping)
        self.maintenance = Maintenance(
            self._index, self.files, clock=clock,
            retention=retention_for or (lambda _tenant, rules=RetentionRules(retention_ns, tuple(retention_streams)): rules),
            window_ns=block_window_ns, settle_ns=int(head_max_age_s * 1e9), maybe_flush=self.maybe_flush,
            last_flush=lambda: self.last_flush, flush=self.flush, deletes=self.deletes,
            compaction_interval_s=compaction_interval_s, retention_enabled=retention_enabled,
            retention_delete_delay_s=retention_delete_delay_s, delete_cancel_period_s=delete_cancel_period_s,
            after_compaction=after_compaction)

    # ---- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Create directories, open the index, replay the WAL into the head."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_dir()
        (self.data_dir / F.BLOCKS_DIR).mkdir(exist_ok=True)
        open_index(self.data_dir, self._index, self.recovery)  # rebuilt from the blocks if missing or unreadable
        stored = int(self._index.setting("block_window_ns", str(self.window_ns)))
        if stored != self.window_ns:
            # Blocks are cut on the stored windows; reads rely on every block matching one window.
            self._index.close()
            self._unlock_dir()
            raise ConfigError(f"storage: block_window_ns {self.window_ns} differs from {stored}, "
                              f"which the data directory {self.data_dir} was written with")
        self.files.remove_orphans()
        self.deletes.open()
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
                        self.files.write(tenant, table, level=0, out=blocks)
                    self._index.swap_blocks(blocks, [])
                except BaseException:
                    self.files.remove_unwritten(blocks)  # unregistered: they would be orphans taking space
                    raise
                with self._lock:
                    self._frozen.remove(head)
            self._wal.remove_through(sealed)
            if pending:
                self.last_flush = time.monotonic()
                pa.default_memory_pool().release_unused()  # hand the flush's copies back to the OS

    def apply_retention(self) -> int:
        return self.maintenance.apply_retention()

    def apply_deletes(self) -> int:
        return self.maintenance.apply_deletes()

    def compact(self) -> int:
        return self.maintenance.compact()

    # ---- reads (reads.py) -----------------------------------------------------------------------
    def _head_views(self, tenant: str) -> list[TenantHeadView]:
        """Given to Reads: the tenant's rows of the active head and of those being flushed."""
        with self._lock:
            heads = [*self._frozen, self._head]
            return [v for v in (h.view(tenant) for h in heads) if v is not None]

    def head_lines(self) -> int:
        """Rows in the heads (active and being flushed): each read selects from all of them."""
        with self._lock:
            return self._head.rows + sum(h.rows for h in self._frozen)

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        return self._reads.streams(tenant, matchers, start_ns, end_ns)

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str | Needle] = (), first: int | None = None) -> Iterator[pa.Table]:
        return self._reads.read(tenant, stream_ids, start_ns, end_ns, direction=direction, columns=columns,
                                line_contains=line_contains, first=first)

    def label_names(self, tenant: str, start_ns: int, end_ns: int, matchers: list[Matcher] | None = None) -> list[str]:
        return self._reads.label_names(tenant, start_ns, end_ns, matchers)

    def label_values(self, tenant: str, name: str, start_ns: int, end_ns: int,
                     matchers: list[Matcher] | None = None) -> list[str]:
        return self._reads.label_values(tenant, name, start_ns, end_ns, matchers)

    def series(self, tenant: str, matcher_groups: list[list[Matcher]], start_ns: int, end_ns: int) -> list[LabelSet]:
        return self._reads.series(tenant, matcher_groups, start_ns, end_ns)

    def index_stats(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict:
        return self._reads.index_stats(tenant, matchers, start_ns, end_ns)

    def volume(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int, *,
               step_ns: int | None = None) -> list[tuple[LabelSet, np.ndarray, np.ndarray]]:
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
