"""Loki's rate and stream limits on a decoded push: the tenant's ingestion rate (the distributor's
local strategy), the per-stream rate and the active-stream limit (the ingester's). Their state —
token buckets and the streams seen — lives in the server process, so they apply here, between the
decode worker and the store.

The tenant's check costs one bucket per push. The stream checks cost one step per stream of the
push, and a column op (byte lengths, cumulative sums) for a stream over its rate; rows are only
filtered, on the Arrow record, when something is dropped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.config.server import LimitsSection, parse_size
from logyard.errors import LogyardError
from logyard.storage.wal import WalRecord

MIB = 1 << 20  # Loki's ingestion_rate_mb and ingestion_burst_size_mb count MiB
# An ingester forgets a stream idle for chunk_idle_period (Loki: 30m); it then no longer counts
# against max_global_streams_per_user, and its rate bucket starts full again.
IDLE_S = 30 * 60
SWEEP_EVERY_S = 60.0
MAX_RETURNED_ERRORS = 10  # Loki's ingester max_returned_stream_errors

# Loki's texts (pkg/validation/validate.go).
RATE_LIMITED = (
    "ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest '{}' lines "
    "totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased")
STREAM_LIMIT = (
    "maximum active stream limit exceeded when trying to create stream {}, reduce the number of active streams "
    "(reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be "
    "increased, user: '{}'")
STREAM_RATE = (
    "Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest for stream '{}' totaling {}, "
    "consider splitting a stream via additional labels or contact your Loki administrator to see if the limit "
    "can be increased")


class TokenBucket:
    """golang.org/x/time/rate as Loki uses it: `rate` bytes a second, at most `burst` held, full at start."""

    __slots__ = ("rate", "burst", "tokens", "at")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def available(self, now: float) -> float:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
        return self.tokens

    def allow(self, n: float, now: float) -> bool:
        """AllowN: take `n` if held now; a request over the burst never passes."""
        if n > self.available(now):
            return False
        self.tokens -= n
        return True

    def set_limits(self, rate: float, burst: float) -> None:
        """A changed override: keep what is held, within the new burst."""
        if (rate, burst) != (self.rate, self.burst):
            self.rate, self.burst, self.tokens = rate, burst, min(self.tokens, burst)


@dataclass
class _Stream:
    last_seen: float
    bucket: TokenBucket | None = None


@dataclass
class Admitted:
    """What the stream limits leave of a push: the record to store (None: nothing), the discards
    per Loki reason, and the 429 to answer with after storing the rest."""

    record: WalRecord | None
    discarded: dict[str, int] = field(default_factory=dict)
    discarded_bytes: dict[str, int] = field(default_factory=dict)
    error: LogyardError | None = None


def byte_size(n: int) -> str:
    """c2h5oh/datasize's ByteSize.String(), how Loki prints a rate: the largest 1024-power unit that
    divides the number exactly, else bytes (3145728 -> "3MB", 1500 -> "1500B")."""
    n = int(n)
    for shift, unit in ((60, "EB"), (50, "PB"), (40, "TB"), (30, "GB"), (20, "MB"), (10, "KB")):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n}B"


def go_time(ns: int) -> str:
    """Go's time.Time.String() of a UTC time: `2026-01-01 00:00:00.5 +0000 UTC`."""
    sec, frac = divmod(int(ns), 10**9)
    text = datetime.fromtimestamp(sec, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + " +0000 UTC"


def tenant_rate(lim: LimitsSection) -> tuple[float, float]:
    rate = lim.ingestion_rate_mb * MIB
    return rate, (lim.ingestion_burst_size_mb * MIB) or rate


def stream_rate(lim: LimitsSection) -> tuple[int, int]:
    rate = parse_size(lim.per_stream_rate_limit)
    return rate, parse_size(lim.per_stream_rate_limit_burst) or rate


class IngestLimits:
    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._tenants: dict[str, TokenBucket] = {}
        self._streams: dict[str, dict[bytes, _Stream]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def check_tenant_rate(self, tenant: str, lim: LimitsSection, lines: int, nbytes: int) -> LogyardError | None:
        """Loki's distributor: the push's accepted bytes against the tenant's bucket, all or nothing."""
        rate, burst = tenant_rate(lim)
        if not rate or not nbytes:
            return None
        now = self.clock()
        with self._lock:
            bucket = self._tenants.get(tenant)
            if bucket is None:
                bucket = self._tenants[tenant] = TokenBucket(rate, burst, now)
            bucket.set_limits(rate, burst)
            if bucket.allow(nbytes, now):
                return None
        return LogyardError(RATE_LIMITED.format(tenant, int(rate), lines, nbytes), status=429)

    @staticmethod
    def has_stream_limits(lim: LimitsSection) -> bool:
        return bool(lim.max_global_streams_per_user or stream_rate(lim)[0])

    def admit_streams(self, tenant: str, lim: LimitsSection, rec: WalRecord) -> Admitted:
        """Loki's ingester: a new stream past max_global_streams_per_user is refused whole; a stream's
        entries past its rate are dropped, the ones before kept. The other streams are stored, and
        the answer is the 429 of the last stream refused, in Loki's words."""
        max_streams = lim.max_global_streams_per_user
        rate, burst = stream_rate(lim)
        counts = rec.counts.astype(np.int64)
        ends = np.cumsum(counts)
        starts = ends - counts
        line_bytes = pc.binary_length(rec.batch.column(1)).to_numpy(zero_copy_only=False).astype(np.int64)
        stream_bytes = np.add.reduceat(line_bytes, starts) if len(starts) else np.zeros(0, np.int64)
        keep: np.ndarray | None = None
        out = Admitted(rec)
        now = self.clock()
        with self._lock:
            self._sweep(now)
            seen = self._streams.setdefault(tenant, {})
            for i, key in enumerate(rec.keys):  # one step per stream
                st = seen.get(key)
                if st is None:
                    if max_streams and len(seen) >= max_streams:
                        keep = _drop(keep, len(line_bytes), starts[i], ends[i])
                        _count(out, "stream_limit", int(counts[i]), int(stream_bytes[i]))
                        out.error = LogyardError(STREAM_LIMIT.format(rec.labels[i], tenant), status=429)
                        continue
                    st = seen[key] = _Stream(now)
                st.last_seen = now
                if not rate:
                    continue
                if st.bucket is None:
                    st.bucket = TokenBucket(rate, burst, now)
                st.bucket.set_limits(rate, burst)
                held = st.bucket.available(now)
                if stream_bytes[i] <= held:
                    st.bucket.tokens -= stream_bytes[i]
                    continue
                # Loki asks the bucket entry by entry: the entries that fit in what it holds pass.
                sizes = line_bytes[starts[i]:ends[i]]
                fits = np.cumsum(sizes) <= held
                n_ok = int(fits.sum())
                st.bucket.tokens -= int(sizes[:n_ok].sum())
                keep = _drop(keep, len(line_bytes), starts[i] + n_ok, ends[i])
                _count(out, "per_stream_rate_limit", int(counts[i]) - n_ok, int(sizes[n_ok:].sum()))
                out.error = LogyardError(self._stream_rate_text(tenant, rec, i, starts[i] + n_ok, ends[i],
                                                                line_bytes, rate), status=429)
        if keep is not None:
            out.record = _filtered(rec, keep, starts)
        return out

    @staticmethod
    def _stream_rate_text(tenant: str, rec: WalRecord, i: int, lo: int, hi: int, line_bytes: np.ndarray,
                          rate: int) -> str:
        """Loki's ingester answer for a stream's refused entries (stream.go errorForFailedEntries)."""
        labels = str(rec.labels[i])
        ts = rec.batch.column(0).to_numpy()
        shown = range(lo, min(hi, lo + MAX_RETURNED_ERRORS))
        parts = [f"entry with timestamp {go_time(ts[j])} ignored, reason: "
                 f"'{STREAM_RATE.format(byte_size(rate), labels, byte_size(line_bytes[j]))}',\n" for j in shown]
        total = int(rec.counts[i])
        return "".join(parts) + f"user '{tenant}', total ignored: {hi - lo} out of {total} for stream: {labels}"

    def _sweep(self, now: float) -> None:
        """Forget streams idle past IDLE_S (at most once a minute): one pass over the streams seen."""
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        for tenant, seen in list(self._streams.items()):
            idle = [k for k, st in seen.items() if now - st.last_seen > IDLE_S]
            for k in idle:
                del seen[k]
            if not seen:
                del self._streams[tenant]


def _drop(keep: np.ndarray | None, rows: int, lo: int, hi: int) -> np.ndarray:
    if keep is None:
        keep = np.ones(rows, dtype=bool)
    keep[lo:hi] = False
    return keep


def _count(out: Admitted, reason: str, lines: int, nbytes: int) -> None:
    out.discarded[reason] = out.discarded.get(reason, 0) + lines
    out.discarded_bytes[reason] = out.discarded_bytes.get(reason, 0) + nbytes


def _filtered(rec: WalRecord, keep: np.ndarray, starts: np.ndarray) -> WalRecord | None:
    """`rec` with the rows of `keep` only, streams left empty removed."""
    if not keep.any():
        return None
    kept_per_stream = np.add.reduceat(keep.astype(np.int64), starts)
    live = np.flatnonzero(kept_per_stream)
    keys = rec.keys
    return WalRecord(rec.tenant, None, kept_per_stream[live].astype(np.uint32), rec.batch.filter(pa.array(keep)),
                     keys=[keys[j] for j in live.tolist()])
