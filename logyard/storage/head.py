"""The head: recent data in memory, per tenant, as the column batches the WAL records carried.

Appending keeps the batch as it is (plus a stream-id column) and updates per-stream statistics
(time range, rows, bytes) so the label APIs and `streams()` see the head without scanning it.
A flush freezes the whole head and starts a new one; queries read frozen heads until their blocks
are registered. Batches are immutable, so readers copy only the list of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logyard.storage.wal import WalRecord

HEAD_SCHEMA = pa.schema(
    [
        ("stream", pa.int64()),
        ("ts", pa.int64()),
        ("line", pa.string()),
        ("meta", pa.string()),
    ]
)
# Rough per-row overhead of a head row beyond its text (two int64 columns and two offsets).
ROW_OVERHEAD_BYTES = 28


@dataclass
class StreamStats:
    min_ts: int
    max_ts: int
    rows: int
    bytes: int  # line bytes + metadata bytes


@dataclass
class TenantHead:
    batches: list[pa.RecordBatch] = field(default_factory=list)
    stats: dict[int, StreamStats] = field(default_factory=dict)
    small: int = 0  # batches below SMALL_BATCH_ROWS in `batches`


# Agents push small batches; thousands of tiny batches would make every head read pay a per-chunk
# cost. Every MERGE_SMALL_BATCHES small ones are concatenated (a row is copied a few times at most,
# since a merged batch stops being small once it reaches SMALL_BATCH_ROWS).
SMALL_BATCH_ROWS = 4096
MERGE_SMALL_BATCHES = 64


def _merge_small(th: TenantHead) -> None:
    small = [b for b in th.batches if b.num_rows < SMALL_BATCH_ROWS]
    big = [b for b in th.batches if b.num_rows >= SMALL_BATCH_ROWS]
    merged = pa.concat_batches(small)
    # A new list: readers keep iterating the tuple they copied.
    th.batches = [*big, merged]
    th.small = 1 if merged.num_rows < SMALL_BATCH_ROWS else 0


@dataclass
class TenantHeadView:
    """What a reader sees of one head for one tenant: immutable batches and a stats copy."""

    batches: tuple[pa.RecordBatch, ...]
    stats: dict[int, StreamStats]

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=HEAD_SCHEMA)


class Head:
    """Not thread-safe on its own: the Store serializes `add` and takes views under its lock."""

    def __init__(self) -> None:
        self.tenants: dict[str, TenantHead] = {}
        self.bytes = 0
        self.rows = 0
        self.first_append: float | None = None  # monotonic time of the first append

    def __bool__(self) -> bool:
        return self.rows > 0

    def add(self, rec: WalRecord, ids: np.ndarray) -> int:
        """Add one record whose streams have the ids `ids` (one per label set of the record);
        returns how many of its streams are new to this head (Loki's "streams created")."""
        counts = rec.counts.astype(np.int64)
        keep = counts > 0
        if not keep.any():
            return 0
        ids, counts = ids[keep], counts[keep]
        batch = rec.batch
        ts = batch.column(0).to_numpy()
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        mins = np.minimum.reduceat(ts, starts)
        maxs = np.maximum.reduceat(ts, starts)
        line_off = _offsets(batch.column(1), np.int32).astype(np.int64)
        meta_off = _offsets(batch.column(2), np.int32).astype(np.int64)
        ends = starts + counts
        nbytes = (line_off[ends] - line_off[starts]) + (meta_off[ends] - meta_off[starts])
        stream_col = pa.array(np.repeat(ids.astype(np.int64), counts), pa.int64())
        hb = pa.RecordBatch.from_arrays([stream_col, *batch.columns], schema=HEAD_SCHEMA)
        th = self.tenants.get(rec.tenant)
        if th is None:
            th = self.tenants[rec.tenant] = TenantHead()
        th.batches.append(hb)
        if hb.num_rows < SMALL_BATCH_ROWS:
            th.small += 1
            if th.small >= MERGE_SMALL_BATCHES:
                _merge_small(th)
        # One Python step per stream of the push (not per line).
        created = 0
        for sid, lo, hi, n, b in zip(ids.tolist(), mins.tolist(), maxs.tolist(), counts.tolist(), nbytes.tolist()):
            st = th.stats.get(sid)
            if st is None:
                th.stats[sid] = StreamStats(lo, hi, n, b)
                created += 1
            else:
                st.min_ts = min(st.min_ts, lo)
                st.max_ts = max(st.max_ts, hi)
                st.rows += n
                st.bytes += b
        self.rows += batch.num_rows
        self.bytes += int(nbytes.sum()) + ROW_OVERHEAD_BYTES * batch.num_rows
        if self.first_append is None:
            self.first_append = time.monotonic()
        return created

    def view(self, tenant: str) -> TenantHeadView | None:
        th = self.tenants.get(tenant)
        if th is None:
            return None
        stats = {k: StreamStats(v.min_ts, v.max_ts, v.rows, v.bytes) for k, v in th.stats.items()}
        return TenantHeadView(tuple(th.batches), stats)


def _offsets(arr: pa.Array, dtype) -> np.ndarray:
    """The value offsets of a (large_)string array, relative to its first value."""
    buf = arr.buffers()[1]
    off = np.frombuffer(buf, dtype=dtype, count=len(arr) + 1, offset=arr.offset * np.dtype(dtype).itemsize)
    return off - off[0]
