"""`logyard export`: a time range of logs as plain Parquet files, one row per line, so DuckDB, Spark or
Polars read them with no logyard in between.

It reads through Loki's public query API, as every other command of this package does, not from a
data directory: a running server owns its directory (an exclusive lock, a WAL it is appending to,
blocks that compaction and retention replace under a reader, delete requests it applies at read
time), and the query API already answers with exactly the lines a query sees: head and blocks merged,
deleted and expired lines left out. So an export of a range holds the same lines as
`count_over_time` counts over it, from logyard or from any Loki.

Layout: one file per tenant per window (a UTC day by default), `<dest>/<tenant>/<window>.parquet`,
written as `.partial` and renamed when complete, so a glob of `*.parquet` never reads half a file.
Columns (`SCHEMA`): tenant, timestamp (ns, UTC), stream (Loki's `{a="b"}` text), labels and
structured_metadata (Parquet MAPs), line (the text as stored: logyard keeps every line as UTF-8,
invalid bytes having become U+FFFD at push, as in Loki). Rows of a file are ordered by time within
each group of streams the export asked for (see `stream_selectors`), not across groups.

Memory is bounded: entries arrive 5,000 at a time and are written out in row groups of at most
`row_group_rows` rows or `row_group_bytes` of line text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from logyard.client import batching
from logyard.client.batching import Entry
from logyard.client.http import LokiClient
from logyard.errors import LogyardError
from logyard.labels import LabelSet

QUERY_RANGE = "/loki/api/v1/query_range"
LABELS = "/loki/api/v1/labels"
CATEGORIZE_LABELS = "categorize-labels"  # entries carry their structured metadata apart from the stream labels
DEFAULT_TENANT = "fake"  # Loki's tenant when the server runs without auth and no org id is sent
DAY_NS = 86_400 * 10**9
MAX_FILES = 10_000  # per tenant: a year of hourly files; each window costs a request per stream group

_MAP = pa.map_(pa.string(), pa.string())
SCHEMA = pa.schema([
    pa.field("tenant", pa.string(), nullable=False),
    pa.field("timestamp", pa.timestamp("ns", tz="UTC"), nullable=False),
    pa.field("stream", pa.string(), nullable=False),
    pa.field("labels", _MAP, nullable=False),
    pa.field("structured_metadata", _MAP, nullable=False),
    pa.field("line", pa.large_string(), nullable=False),
])


# ---- what to ask ------------------------------------------------------------------------------
def stream_selectors(names: Iterable[str]) -> list[str]:
    """Selectors that together match every stream exactly once, from the tenant's label names.

    LogQL has no selector for "all streams" (each needs a matcher that rejects the empty value), but
    every stream has at least one label, so `{n1=~".+"}`, `{n2=~".+", n1=""}`, ... partition them:
    a stream is matched by the selector of its first label name, and only by it."""
    names = sorted(set(names))
    return ["{" + ", ".join([f'{n}=~".+"'] + [f'{p}=""' for p in names[:i]]) + "}" for i, n in enumerate(names)]


def file_windows(start_ns: int, end_ns: int, window_ns: int) -> list[tuple[int, int, int]]:
    """(lo, hi, window start) of each file of [start_ns, end_ns): windows sit on multiples of
    `window_ns` since the epoch (UTC days by default), the first and last cut at the range."""
    out = []
    w = start_ns - start_ns % window_ns
    while w < end_ns:
        out.append((max(start_ns, w), min(end_ns, w + window_ns), w))
        w += window_ns
    return out


def file_name(window_start_ns: int, window_ns: int) -> str:
    """`2026-01-01.parquet` for day-sized windows, `2026-01-01T10-00-00Z.parquet` for shorter ones
    (no `:`, which some filesystems and object-store tools refuse)."""
    t = datetime.fromtimestamp(window_start_ns // 10**9, timezone.utc)
    stamp = t.strftime("%Y-%m-%d") if window_ns % DAY_NS == 0 else t.strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{stamp}.parquet"


def destination(target: str) -> tuple[pafs.FileSystem, str]:
    """A filesystem and the base path on it: a URI pyarrow knows (`s3://bucket/prefix`, `file:///x`),
    else a local path."""
    if "://" in target:
        try:
            return pafs.FileSystem.from_uri(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
            raise LogyardError(f"export destination {target!r}: {e}", 400) from None
    return pafs.LocalFileSystem(), str(Path(target).resolve())


# ---- entries to rows ------------------------------------------------------------------------------
def entries_table(tenant: str, entries: list[Entry]) -> pa.Table:
    """The rows of `entries` in `SCHEMA`. Label sets and metadata repeat across entries: each distinct
    one becomes a map once, and the rows take it by code. The codes are one Python step per entry,
    as the entries are (they come decoded from JSON); the columns are built whole."""
    n = len(entries)
    streams: dict[LabelSet, int] = {}
    metas: dict[tuple, int] = {}
    scode = np.fromiter((streams.setdefault(e.labels, len(streams)) for e in entries), np.int64, n)
    mcode = np.fromiter((metas.setdefault(e.meta, len(metas)) for e in entries), np.int64, n)
    ts = np.fromiter((e.ts for e in entries), np.int64, n)
    return pa.table([
        pa.repeat(pa.scalar(tenant, pa.string()), n),
        pa.array(ts.view("datetime64[ns]"), SCHEMA.field("timestamp").type),
        pa.array([str(ls) for ls in streams], pa.string()).take(scode),
        pa.array([list(ls) for ls in streams], _MAP).take(scode),
        pa.array([list(m) for m in metas], _MAP).take(mcode),
        pa.array([e.line for e in entries], pa.large_string()),
    ], schema=SCHEMA)


# ---- files ------------------------------------------------------------------------------------------
@dataclass
class Summary:
    lines: int = 0
    line_bytes: int = 0  # UTF-8 bytes of the exported lines
    files: list[str] = field(default_factory=list)
    file_bytes: int = 0
    seconds: float = 0.0

    def text(self) -> str:
        return (f"exported {self.lines} lines ({_size(self.line_bytes)} of text) into {len(self.files)} "
                f"files ({_size(self.file_bytes)}) in {self.seconds:.1f}s")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("BUG: unreachable")


class ParquetFiles:
    """Writes one file at a time: rows are buffered up to a row group and written, zstd compressed.
    A file is created at its first row (an empty window makes none) and is renamed from `.partial`
    to its name when closed."""

    def __init__(self, fs: pafs.FileSystem, base: str, summary: Summary, *, row_group_rows: int = 100_000,
                 row_group_bytes: int = 64 << 20, overwrite: bool = False) -> None:
        self.fs, self.base, self.summary = fs, base.rstrip("/"), summary
        self.row_group_rows, self.row_group_bytes, self.overwrite = row_group_rows, row_group_bytes, overwrite
        self._path: str | None = None
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.Table] = []
        self._rows = self._bytes = 0

    def path_of(self, tenant: str, window_start_ns: int, window_ns: int) -> str:
        # Loki's tenant ids may hold `!*'()`, which shells and object-store tools mishandle: percent-escaped.
        return f"{self.base}/{quote(tenant, safe='')}/{file_name(window_start_ns, window_ns)}"

    def write(self, path: str, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if path != self._path:
            self.close()
            self._open(path)
        self._buffer.append(table)
        self._rows += table.num_rows
        nbytes = int(pc.sum(pc.binary_length(table.column("line"))).as_py() or 0)
        self._bytes += nbytes
        self.summary.lines += table.num_rows
        self.summary.line_bytes += nbytes
        if self._rows >= self.row_group_rows or self._bytes >= self.row_group_bytes:
            self._flush()

    def _open(self, path: str) -> None:
        if not self.overwrite and self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            raise LogyardError(f"{path} exists: remove it, export elsewhere, or pass --overwrite", 400)
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        self._writer = pq.ParquetWriter(path + ".partial", SCHEMA, filesystem=self.fs, compression="zstd")
        self._path = path

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(pa.concat_tables(self._buffer), row_group_size=self.row_group_rows)
        self._buffer, self._rows, self._bytes = [], 0, 0

    def close(self) -> None:
        """Finish the open file, if any: its last row group, its footer, its name."""
        if self._writer is None:
            return
        self._flush()
        self._writer.close()
        self.fs.move(self._path + ".partial", self._path)
        self.summary.files.append(self._path)
        self.summary.file_bytes += self.fs.get_file_info(self._path).size
        self._writer = self._path = None

    def abort(self) -> None:
        """An export that failed: the open file is left as `.partial` (readers globbing `*.parquet` skip it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = self._path = None
        self._buffer = []


# ---- the walk -------------------------------------------------------------------------------------
def tenant_entries(client: LokiClient, query: str | None, lo: int, hi: int, selectors: list[str],
                   on_progress: Callable[[float], None]) -> Iterator[list[Entry]]:
    """The entries of [lo, hi) in batches, oldest first per selector (`query`, else each selector)."""
    queries = [query] if query else selectors
    for i, q in enumerate(queries):

        def ask(a: int, b: int, n: int, q: str = q) -> dict:
            params = {"query": q, "limit": str(n), "start": str(a), "end": str(b), "direction": "forward"}
            return client.get(QUERY_RANGE, params)["data"]

        for b in batching.walk(ask, lo, hi, 0, batching.LOKI_MAX_ENTRIES, forward=True):
            if b.data.get("resultType") != "streams":
                raise LogyardError(f"--query {q!r} is a metric query: export takes a log query "
                                   f"(a stream selector, with line filters if wanted)", 400)
            on_progress((i + b.progress) / len(queries))
            if b.entries:
                yield b.entries


def export(clients: dict[str, LokiClient], query: str | None, start_ns: int, end_ns: int, window_ns: int,
           files: ParquetFiles, on_progress: Callable[[float], None] = lambda f: None) -> Summary:
    """Every entry of [start_ns, end_ns) of each tenant (`clients`: one client per tenant) matching
    `query` (None: all streams) into `files`; the summary counts what was written."""
    began = time.monotonic()
    if (end_ns - start_ns) // window_ns > MAX_FILES:
        raise LogyardError(f"the range would make more than {MAX_FILES} files per tenant: use a larger --file-window", 400)
    windows = file_windows(start_ns, end_ns, window_ns)
    units = len(clients) * len(windows)
    done = 0
    try:
        for tenant, client in clients.items():
            selectors = [] if query else stream_selectors(
                client.get(LABELS, {"start": str(start_ns), "end": str(end_ns)}).get("data") or [])
            for lo, hi, w in windows:
                if query or selectors:
                    path = files.path_of(tenant, w, window_ns)
                    for entries in tenant_entries(client, query, lo, hi, selectors,
                                                  lambda f: on_progress((done + f) / units)):
                        files.write(path, entries_table(tenant, entries))
                    files.close()
                done += 1
                on_progress(done / units)
    except BaseException:
        files.abort()
        raise
    files.summary.seconds = time.monotonic() - began
    return files.summary


def tenants_of(org_id: str | None) -> list[str]:
    """The tenants of `--org-id`: one, or several in Loki's multi-tenant form `a|b`."""
    if not org_id:
        return [DEFAULT_TENANT]
    names = list(dict.fromkeys(t.strip() for t in org_id.split("|") if t.strip()))
    if not names:
        raise ValueError(f"--org-id {org_id!r} names no tenant")
    return names

