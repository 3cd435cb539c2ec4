"""The live feed: rows of committed appends handed to the tails that watch their tenant and streams.

The store publishes an append once it is durable (WAL written and synced), so a tail sees exactly
the lines a client was told are stored. With nobody subscribed the store's check is one truth test
of a tuple. A `Subscription` holds a stream selector's matchers: it decides once per stream id
whether a stream matches (the labels of a stream never change), takes the matching rows of an
append as one column batch (the per-stream verdicts repeated over the rows, one Arrow filter) and
keeps them in a bounded inbox for its reader. A reader that falls behind does not grow the inbox:
rows that do not fit are dropped and remembered as dropped (timestamp and stream id, at most
`MAX_DROPPED` of them until the reader takes them), as Loki's tailers drop entries for a blocked
client and report them with the next response. Rows of delete requests (deletes.py) never reach a
tail, as they never reach a query's answer. On a reader (docs/scaling.md) a subscription is fed the
writers' rows instead (`offer_rows`, `offer_dropped`: api/writer_tails.py), kept the same way.

Threads: `publish` runs in the pushing threads, `take` in the reader's; a subscription's lock
guards its inbox, and the feed's lock only its subscriber list, which readers of `subscribers`
see as an immutable tuple.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet, Matcher
from logyard.storage.deletes import Active, deleted_rows
from logyard.storage.head import HEAD_SCHEMA
from logyard.storage.wal import WalRecord

# What a subscription keeps for a reader that has not taken it yet (Arrow buffer bytes).
MAX_INBOX_BYTES = 4 << 20
# Dropped rows remembered between two takes: Loki's maxDroppedEntriesPerTailResponse.
MAX_DROPPED = 1000


class Subscription:
    """One tail's view of a tenant's appends: matching rows in, bounded; `take` hands them over."""

    def __init__(self, tenant: str, matchers: Sequence[Matcher], notify: Callable[[], None],
                 max_bytes: int = MAX_INBOX_BYTES) -> None:
        self.tenant = tenant
        self.matchers = tuple(matchers)
        # The matching streams seen so far, id -> labels; only ever added to (readers look ids up).
        self.stream_labels: dict[int, LabelSet] = {}
        self._verdicts: dict[int, bool] = {}
        self._notify = notify
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._batches: list[pa.RecordBatch] = []
        self._bytes = 0
        self._dropped_ts: list[np.ndarray] = []
        self._dropped_ids: list[np.ndarray] = []
        self._dropped = 0
        self.dropped_total = 0  # rows dropped over the subscription's life, reported or not

    def matches(self, labels: LabelSet) -> bool:
        return all(m.matches(labels.get(m.name)) for m in self.matchers)

    def _stream_mask(self, rec: WalRecord, ids: np.ndarray) -> np.ndarray:
        """Whether each stream of the record matches; labels are read only for streams not seen."""
        id_list = ids.tolist()
        verdicts = self._verdicts
        if any(sid not in verdicts for sid in id_list):
            # One step per new stream of the push (not per line), and once per stream id ever.
            for sid, labels in zip(id_list, rec.labels):
                if sid not in verdicts:
                    ok = self.matches(labels)
                    if ok:
                        self.stream_labels[sid] = labels  # before its rows reach the inbox
                    verdicts[sid] = ok
        return np.fromiter((verdicts[sid] for sid in id_list), dtype=bool, count=len(id_list))

    def offer(self, rec: WalRecord, ids: np.ndarray, gone: np.ndarray | None = None) -> None:
        """Keep the record's matching rows (HEAD_SCHEMA columns) but those `gone` marks (rows of
        delete requests), or count them dropped."""
        per_stream = self._stream_mask(rec, ids)
        if not per_stream.any():
            return
        counts = rec.counts.astype(np.int64)
        stream_col = np.repeat(ids.astype(np.int64), counts)
        batch = pa.RecordBatch.from_arrays([pa.array(stream_col, pa.int64()), *rec.batch.columns],
                                           schema=HEAD_SCHEMA)
        if not per_stream.all() or gone is not None:
            keep = np.repeat(per_stream, counts)
            if gone is not None:
                keep &= ~gone
            if not keep.any():
                return
            batch = batch.filter(pa.array(keep))
        self._keep(batch)

    def offer_rows(self, table: pa.Table, labels: dict[int, LabelSet]) -> None:
        """Keep the matching rows of another process's appends (HEAD_SCHEMA columns; `labels`: the
        label sets of their streams), as `offer` keeps this one's: a reader's tail of the writers."""
        for sid, ls in labels.items():  # one step per stream of the batch
            if sid not in self._verdicts:
                ok = self.matches(ls)
                if ok:
                    self.stream_labels[sid] = ls
                self._verdicts[sid] = ok
        if not table.num_rows:
            return
        stream = table.column("stream").to_numpy()
        ids = np.unique(stream)
        ok = np.fromiter((self._verdicts.get(sid, False) for sid in ids.tolist()), dtype=bool, count=len(ids))
        if not ok.all():
            table = table.filter(pa.array(np.isin(stream, ids[ok])))
            if not table.num_rows:
                return
        self._keep(table.combine_chunks().to_batches()[0])

    def offer_dropped(self, ts: np.ndarray, ids: np.ndarray, labels: list[LabelSet]) -> None:
        """Rows another process dropped for this subscription (a writer's, for a reader's tail): their
        timestamps, stream ids and label sets, reported to the tail's client as its own drops."""
        for sid, ls in zip(ids.tolist(), labels):  # at most MAX_DROPPED
            self.stream_labels.setdefault(sid, ls)
        with self._lock:
            self.dropped_total += len(ts)
            keep = max(0, min(MAX_DROPPED - self._dropped, len(ts)))
            if keep:
                self._dropped_ts.append(np.asarray(ts[:keep], np.int64))
                self._dropped_ids.append(np.asarray(ids[:keep], np.int64))
                self._dropped += keep
        self._notify()

    def _keep(self, batch: pa.RecordBatch) -> None:
        """Into the inbox, or dropped when it is full."""
        size = batch.nbytes
        with self._lock:
            was_empty = not self._batches
            # An empty inbox takes a whole append, however large (it is in memory anyway, in the head).
            if was_empty or self._bytes + size <= self._max_bytes:
                self._batches.append(batch)
                self._bytes += size
                wake = was_empty
            else:
                self._drop(batch)
                wake = False
        if wake:
            self._notify()

    def _drop(self, batch: pa.RecordBatch) -> None:
        """Remember (at most MAX_DROPPED) rows that did not fit; the lock is held."""
        n = batch.num_rows
        self.dropped_total += n
        room = MAX_DROPPED - self._dropped
        if room <= 0:
            return
        keep = min(room, n)
        self._dropped_ts.append(batch.column(1).to_numpy()[:keep].copy())
        self._dropped_ids.append(batch.column(0).to_numpy()[:keep].copy())
        self._dropped += keep

    def take(self) -> list[pa.RecordBatch]:
        """The rows kept since the last take, in arrival order; the inbox is empty afterwards."""
        with self._lock:
            batches, self._batches, self._bytes = self._batches, [], 0
        return batches

    def take_dropped(self) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and stream ids of the rows dropped since the last call (at most MAX_DROPPED)."""
        with self._lock:
            ts, ids = self._dropped_ts, self._dropped_ids
            self._dropped_ts, self._dropped_ids, self._dropped = [], [], 0
        if not ts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(ts), np.concatenate(ids)

    def pending_bytes(self) -> int:
        return self._bytes


class LiveFeed:
    """The store's list of subscriptions; `publish` is called for every committed append."""

    def __init__(self, deletes: Callable[[str, int, int], tuple[Active, ...]] = lambda t, a, b: ()) -> None:
        """`deletes(tenant, start_ns, end_ns)`: the delete requests whose rows tails do not get."""
        self._lock = threading.Lock()
        self._deletes = deletes
        self.subscribers: tuple[Subscription, ...] = ()

    def subscribe(self, sub: Subscription) -> Subscription:
        with self._lock:
            self.subscribers = (*self.subscribers, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self.subscribers = tuple(s for s in self.subscribers if s is not sub)

    def publish(self, rec: WalRecord, ids: np.ndarray) -> None:
        subs = [sub for sub in self.subscribers if sub.tenant == rec.tenant]
        if subs:
            gone = self._gone(rec, ids)
            for sub in subs:
                sub.offer(rec, ids, gone)

    def _gone(self, rec: WalRecord, ids: np.ndarray) -> np.ndarray | None:
        """The record's rows some delete request covers (None: none), computed once for all tails."""
        ts = rec.batch.column(0).to_numpy()
        if not len(ts):
            return None
        active = self._deletes(rec.tenant, int(ts.min()), int(ts.max()) + 1)
        if not active:
            return None
        stream = np.repeat(ids.astype(np.int64), rec.counts.astype(np.int64))
        table = pa.Table.from_arrays([pa.array(stream, pa.int64()), *rec.batch.columns],
                                     names=["stream", "ts", "line", "meta"])
        labels = dict(zip(ids.tolist(), rec.labels))
        return deleted_rows(table, active, labels.__getitem__)
