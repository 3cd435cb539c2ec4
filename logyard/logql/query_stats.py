"""What a query did, counted as it reads, and the `stats` object of Loki's query answers.

Grafana's query inspector and `logcli query --stats` read `data.stats` (Loki's
pkg/logqlmodel/stats `Result`, JSON names from stats.proto). `QueryStats` counts one query's work:

* `source(store)` wraps the query's `LogSource`: every table storage hands over counts its rows
  (lines processed), its lines' bytes (the `line` column, or `len` when only that was read) and
  its structured metadata's bytes (the JSON text), once per table, from Arrow offsets and the
  metadata dictionary; the time spent in `streams` (the index lookup) and in each table's read
  are summed too. Lines that storage skipped (the `first` hint, block pruning) were not read and
  do not count; those a literal line filter it ran itself dropped (`line_match`) do, as storage
  reports them (`add_scanned`); a metric query that needs no line (`count_over_time({app="x"}[5m])`) processes
  rows but no line bytes.
* the engine reports the rows that passed the whole pipeline (`add_passed`), per window or slice.

`to_json` lays these out as Loki does. Loki splits the counts between ingesters (recent data in
memory) and queriers (chunks from the store); logyard's reads merge the head and the blocks of a
window into one table, so everything is reported under `querier.store.chunk`, reads as chunk
downloads (`chunksDownloadTime`, ns), the index lookup as chunk-ref fetching; the ingester part,
the caches, compressed bytes and shards stay zero. Times in seconds are floats, as Grafana expects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.labels import LabelSet, Matcher
from logyard.needles import LineMatch, Needle
from logyard.logql.source import LogSource


class QueryStats:
    """Counters of one query; tables are counted from the threads reading them (hence the lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines = 0             # rows storage handed over
        self.line_bytes = 0        # their lines' bytes
        self.meta_bytes = 0        # their structured metadata's bytes
        self.passed = 0            # rows that passed the pipeline
        self.reads = 0             # `read` calls: one per time window read (or one long range)
        self.read_ns = 0           # time spent producing tables
        self.streams = 0           # streams the index matched
        self.index_ns = 0          # time spent in `streams`
        self.queue_s = 0.0         # waiting for a worker thread (`timed`)
        self.querier_exec_s = 0.0  # the engine's run (`timed`)

    def timed(self, fn):
        """`fn`, recording how long it waited to start from now (queue time) and how long it ran."""
        queued = time.perf_counter()

        def run(*args, **kwargs):
            started = time.perf_counter()
            self.queue_s = started - queued
            try:
                return fn(*args, **kwargs)
            finally:
                self.querier_exec_s = time.perf_counter() - started

        return run

    def source(self, store: LogSource) -> LogSource:
        """`store`, with every read counted here."""
        return CountingSource(store, self)

    def add_table(self, table: pa.Table, elapsed_ns: int, *, counted: bool = True) -> None:
        """Count a table storage handed over (only its time unless `counted`: `add_scanned` counts it)."""
        if not counted:
            self.add_read_time(elapsed_ns)
            return
        names = table.column_names
        if "line" in names:
            nbytes = string_bytes(table.column("line"))
        elif "len" in names:
            nbytes = int(pc.sum(table.column("len")).as_py() or 0)
        else:
            nbytes = 0
        meta = string_bytes(table.column("meta")) if "meta" in names else 0
        with self._lock:
            self.lines += table.num_rows
            self.line_bytes += nbytes
            self.meta_bytes += meta
            self.read_ns += elapsed_ns

    def add_read_time(self, elapsed_ns: int) -> None:
        with self._lock:
            self.read_ns += elapsed_ns

    def add_scanned(self, rows: int, line_bytes: int, meta_bytes: int) -> None:
        """Rows storage ran a line filter on (`LogSource.read(line_match=)`), kept or not."""
        with self._lock:
            self.lines += rows
            self.line_bytes += line_bytes
            self.meta_bytes += meta_bytes

    def add_counted(self, table: pa.Table, elapsed_ns: int) -> None:
        """A table of counts (`read_counts`): the rows and line bytes it stands for."""
        rows = int(pc.sum(table.column("n")).as_py() or 0)
        nbytes = int(pc.sum(table.column("len")).as_py() or 0) if "len" in table.column_names else 0
        with self._lock:
            self.lines += rows
            self.line_bytes += nbytes
            self.read_ns += elapsed_ns

    def add_read(self) -> None:
        with self._lock:
            self.reads += 1

    def add_streams(self, n: int, elapsed_ns: int) -> None:
        with self._lock:
            self.streams += n
            self.index_ns += elapsed_ns

    def add_passed(self, n: int) -> None:
        with self._lock:
            self.passed += n

    def to_json(self, *, exec_s: float, entries_returned: int) -> dict:
        """Loki's stats `Result` as JSON, its fields in stats.proto's order (Go marshals them so);
        `exec_s` is the whole request's time, `entries_returned` the answer's size (`entries_returned`)."""
        total_bytes = self.line_bytes + self.meta_bytes  # Loki: "Includes structured metadata bytes."
        per_s = (lambda n: int(n / exec_s)) if exec_s > 0 else (lambda n: 0)
        querier_store = _store(chunk={
            "headChunkBytes": 0, "headChunkLines": 0,
            "decompressedBytes": total_bytes, "decompressedLines": self.lines,
            "compressedBytes": 0, "totalDuplicates": 0, "postFilterLines": self.passed,
            "headChunkStructuredMetadataBytes": 0, "decompressedStructuredMetadataBytes": self.meta_bytes,
        }, download_ns=self.read_ns, refs_ns=self.index_ns)
        return {
            "summary": {
                "bytesProcessedPerSecond": per_s(total_bytes),
                "linesProcessedPerSecond": per_s(self.lines),
                "totalBytesProcessed": total_bytes,
                "totalLinesProcessed": self.lines,
                "execTime": exec_s,
                "queueTime": self.queue_s,
                "subqueries": 0,
                "totalEntriesReturned": entries_returned,
                "splits": self.reads,
                "shards": 0,
                "totalPostFilterLines": self.passed,
                "totalStructuredMetadataBytesProcessed": self.meta_bytes,
            },
            "querier": {"store": querier_store, "querierExecTime": self.querier_exec_s},
            "ingester": {"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0,
                         "store": _store()},
            "cache": {name: dict(_CACHE) for name in CACHES},
            "index": {"totalChunks": 0, "postFilterChunks": 0, "shardsDuration": 0, "usedBloomFilters": False,
                      "totalStreams": self.streams, "chunkRefsLookupTime": self.index_ns / 1e9,
                      "bloomFilterTime": 0},
        }


def entries_returned(data: dict) -> int:
    """`summary.totalEntriesReturned` as Loki's query frontend reports it: the entries of a log
    answer, the series of a matrix, the samples of a vector, 1 for a scalar."""
    kind, result = data["resultType"], data["result"]
    if kind == "streams":
        return sum(len(s["values"]) for s in result)
    if kind == "scalar":
        return 1
    return len(result)


def string_bytes(col) -> int:
    """The bytes of a string column's values, without touching them: offsets for plain strings,
    the dictionary's lengths gathered by index for dictionary ones."""
    total = 0
    for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else (col,)):
        if not len(chunk):
            continue
        if pa.types.is_dictionary(chunk.type):
            if chunk.null_count:
                chunk = chunk.drop_null()
            lengths = pc.binary_length(chunk.dictionary).to_numpy(zero_copy_only=False)
            if len(lengths):
                idx = chunk.indices.to_numpy(zero_copy_only=False)
                total += int(np.nansum(lengths[idx.astype(np.int64, copy=False)]))
        else:
            # The value offsets buffer: int64 for large_string, int32 for string.
            width = np.int64 if pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type) \
                else np.int32
            offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
            total += int(offsets[chunk.offset + len(chunk)]) - int(offsets[chunk.offset])
    return total


class CountingSource:
    """A `LogSource` that counts what is read through it into a `QueryStats`."""

    def __init__(self, store: LogSource, stats: QueryStats) -> None:
        self._store = store
        self._stats = stats

    @property
    def window_ns(self) -> int:
        return self._store.window_ns

    def head_lines(self) -> int:
        return self._store.head_lines()

    def streams(self, tenant: str, matchers: list[Matcher], start_ns: int, end_ns: int) -> dict[int, LabelSet]:
        t0 = time.perf_counter_ns()
        got = self._store.streams(tenant, matchers, start_ns, end_ns)
        self._stats.add_streams(len(got), time.perf_counter_ns() - t0)
        return got

    def read(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
             direction: str = "backward", columns: Sequence[str] = ("stream", "ts", "line", "meta"),
             line_contains: Sequence[str | Needle] = (), first: int | None = None,
             line_match: LineMatch | None = None) -> Iterator[pa.Table]:
        self._stats.add_read()
        # With a line filter storage runs, it says what the filter ran on: that is what was read.
        more = {} if line_match is None else {"line_match": line_match, "scanned": self._stats.add_scanned}
        tables = self._store.read(tenant, stream_ids, start_ns, end_ns, direction=direction, columns=columns,
                                  line_contains=line_contains, first=first, **more)
        yield from _timed(tables, lambda t, ns: self._stats.add_table(t, ns, counted=line_match is None))

    def read_counts(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                    grain_ns: int, with_bytes: bool = False) -> Iterator[pa.Table]:
        """The store's counts (`count_samples`), each counted as the rows (and line bytes) it stands for."""
        self._stats.add_read()
        tables = self._store.read_counts(tenant, stream_ids, start_ns, end_ns, grain_ns=grain_ns,
                                         with_bytes=with_bytes)
        yield from _timed(tables, self._stats.add_counted)

    def metadata_names(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int):
        return self._store.metadata_names(tenant, stream_ids, start_ns, end_ns)

    def windows(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, *,
                line_contains: Sequence[str | Needle] = ()) -> list[int] | None:
        """The store's `windows` (WindowSource), None when it has none."""
        plan = getattr(self._store, "windows", None)
        return None if plan is None else plan(tenant, stream_ids, start_ns, end_ns, line_contains=line_contains)

    def read_hits(self, tenant: str, stream_ids: Collection[int], start_ns: int, end_ns: int, **kw) -> list[pa.Table] | None:
        """The store's `read_hits` (HitSource), None when it has none or declines."""
        hits = getattr(self._store, "read_hits", None)
        if hits is None:
            return None
        t0 = time.perf_counter_ns()
        tables = hits(tenant, stream_ids, start_ns, end_ns, scanned=self._stats.add_scanned, **kw)
        if tables is not None:
            self._stats.add_read()
            self._stats.add_read_time(time.perf_counter_ns() - t0)
        return tables


def _timed(tables: Iterator[pa.Table], add: Callable[[pa.Table, int], None]) -> Iterator[pa.Table]:
    """Storage's tables, each handed to `add` with the nanoseconds storage took to make it."""
    try:
        while True:
            t0 = time.perf_counter_ns()
            table = next(tables, None)
            if table is None:
                return
            add(table, time.perf_counter_ns() - t0)
            yield table
    finally:
        # Closing this generator early closes storage's: its files may be deleted again.
        close = getattr(tables, "close", None)
        if close is not None:
            close()


CACHES = ("chunk", "index", "result", "statsResult", "volumeResult", "seriesResult", "labelResult",
          "instantMetricResult", "logResult", "taskResult")
_CACHE = {"entriesFound": 0, "entriesRequested": 0, "entriesStored": 0, "bytesReceived": 0, "bytesSent": 0,
          "requests": 0, "downloadTime": 0, "queryLengthServed": 0}


def _store(chunk: dict | None = None, download_ns: int = 0, refs_ns: int = 0) -> dict:
    """Loki's stats `Store` (querier and ingester parts alike)."""
    return {
        "totalChunksRef": 0,
        "totalChunksDownloaded": 0,
        "chunksDownloadTime": download_ns,
        "queryReferencedStructuredMetadata": False,
        "queryUsedV2Engine": False,
        "chunk": chunk or {
            "headChunkBytes": 0, "headChunkLines": 0, "decompressedBytes": 0, "decompressedLines": 0,
            "compressedBytes": 0, "totalDuplicates": 0, "postFilterLines": 0,
            "headChunkStructuredMetadataBytes": 0, "decompressedStructuredMetadataBytes": 0,
        },
        "chunkRefsFetchTime": refs_ns,
        "congestionControlLatency": 0,
        "pipelineWrapperFilteredLines": 0,
        "dataobj": dict.fromkeys(DATAOBJ, 0),
    }


DATAOBJ = ("prePredicateDecompressedRows", "prePredicateDecompressedBytes",
           "prePredicateDecompressedStructuredMetadataBytes", "postPredicateRows", "postPredicateDecompressedBytes",
           "postPredicateStructuredMetadataBytes", "postFilterRows", "pagesScanned", "pagesDownloaded",
           "pagesDownloadedBytes", "pageBatches", "totalRowsAvailable", "totalPageDownloadTime",
           "wireBytesTransferred")
