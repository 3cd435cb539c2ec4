"""A live tail's side of LogQL: a log query's pipeline run over the rows of new appends, and the
entries it keeps, in time order, until they are due.

`TailPipeline` compiles the query's pipeline once (logql.pipeline) against a dict of stream labels
that grows as new matching streams arrive, and runs it on column batches: line filters over the
whole line column, the row stages (parsers, label filters, formats) on the rows that survive, as a
query does. Its output, and a back-fill from a query's result, are `Entries`: timestamps, lines
and an index into the label sets, which sort, merge and split as arrays.

`delay_for` is Loki's: an entry is released once its timestamp plus the delay is in the past, so
entries that arrive out of order within the delay go out in order (pkg/querier/tail.go `next`).

With `categorize` (Loki's `categorize-labels` encoding flag), the label sets are `EntryLabels`, as
a query's rows are (`run_row_stages(..., categorize=True)`, `without_stages`), so that a frame is
encoded by the query's `encode_streams(..., categorize=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.labels import LabelSet
from logyard.logql.entry_labels import EntryLabels, without_stages
from logyard.logql.log_result import run_row_stages
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.rows import Rows, group_codes, meta_pairs
from logyard.logql.syntax import ast

# Per-entry overhead counted beside the line bytes when sizing what a tail holds (ts, index, offset).
ENTRY_OVERHEAD_BYTES = 24


@dataclass(frozen=True)
class Entries:
    """Log entries as columns: `labels[label_idx[i]]` is entry i's label set (a dict)."""

    ts: np.ndarray          # int64 ns
    line: pa.Array          # large_string
    label_idx: np.ndarray   # int64
    labels: list[dict]

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> "Entries":
        return cls(np.zeros(0, np.int64), pa.array([], pa.large_string()), np.zeros(0, np.int64), [])

    @property
    def nbytes(self) -> int:
        return self.line.nbytes + ENTRY_OVERHEAD_BYTES * len(self)

    def merge(self, other: "Entries") -> "Entries":
        """Both sets of entries in timestamp order (stable: equal timestamps keep arrival order)."""
        if not len(other):
            return self
        if not len(self):
            return other.sorted()
        ts = np.concatenate([self.ts, other.ts])
        line = pa.concat_arrays([self.line, other.line.cast(pa.large_string())])
        idx = np.concatenate([self.label_idx, other.label_idx + len(self.labels)])
        both = Entries(ts, line, idx, self.labels + other.labels)
        return both if _is_sorted(ts) else both.sorted()

    def sorted(self) -> "Entries":
        if _is_sorted(self.ts):
            return self
        return self.take(np.argsort(self.ts, kind="stable"))

    def unique(self) -> "Entries":
        """The entries once each, the first of equal timestamp, line and labels kept: a line two
        writers hold (a client retried its push against the other) reaches a reader's tail from both,
        and a query answers it once. Sorted entries with no equal timestamps are returned as they are."""
        ts = self.ts
        if len(ts) < 2 or not (ts[1:] == ts[:-1]).any():
            return self
        keys: dict = {}
        # One step per distinct label set (EntryLabels: with their categories), not per entry.
        codes = np.fromiter((keys.setdefault((frozenset(d.items()), getattr(d, "metadata", None),
                                              getattr(d, "parsed", None)), len(keys)) for d in self.labels),
                            np.int64, len(self.labels))
        t = pa.table({"ts": ts, "labels": codes[self.label_idx], "line": self.line,
                      "i": np.arange(len(ts), dtype=np.int64)})
        first = t.group_by(["ts", "labels", "line"], use_threads=False).aggregate([("i", "min")]).column("i_min")
        if len(first) == len(ts):
            return self
        return self.take(np.sort(first.to_numpy()))

    def take(self, idx: np.ndarray) -> "Entries":
        """The selected entries; label sets no longer used are let go."""
        used, codes = np.unique(self.label_idx[idx], return_inverse=True)
        labels = [self.labels[i] for i in used.tolist()]
        return Entries(self.ts[idx], self.line.take(pa.array(idx, pa.int64())), codes.reshape(-1), labels)

    def split_before(self, cutoff_ns: int) -> tuple["Entries", "Entries"]:
        """(entries with ts < cutoff, the rest); the entries are sorted."""
        n = int(np.searchsorted(self.ts, cutoff_ns, side="left"))
        if n == 0:
            return Entries.empty(), self
        if n == len(self):
            return self, Entries.empty()
        return self.take(np.arange(n)), self.take(np.arange(n, len(self)))

    def chunks(self, size: int):
        """Consecutive slices of at most `size` entries: (ts list, line list, label dicts, line bytes)."""
        labels = self.labels
        for a in range(0, len(self), size):
            b = min(a + size, len(self))
            lines = self.line[a:b]
            nbytes = pc.sum(pc.binary_length(lines)).as_py() or 0
            yield (self.ts[a:b].tolist(), lines.to_pylist(), [labels[i] for i in self.label_idx[a:b].tolist()],
                   nbytes)


def _is_sorted(ts: np.ndarray) -> bool:
    return len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all())


class TailPipeline:
    """A log query's pipeline for rows of new appends; `stream_labels` may grow between runs."""

    def __init__(self, expr: ast.LogQuery, stream_labels: dict[int, LabelSet], categorize: bool = False) -> None:
        self.stream_labels = stream_labels
        self.categorize = categorize
        self.pipeline = compile_pipeline(expr.pipeline, stream_labels)

    def run(self, batches: Sequence[pa.RecordBatch]) -> Entries:
        """The entries the query keeps of the rows (columns stream, ts, line, meta), with their
        final labels (stream labels, structured metadata, parsed labels; `EntryLabels` with
        `categorize`) and lines."""
        if not batches:
            return Entries.empty()
        pipeline = self.pipeline
        rows = pipeline.columnar_table(pa.Table.from_batches(batches))
        if not len(rows):
            return Entries.empty()
        if pipeline.has_row_stages:
            rows = run_row_stages(pipeline, rows, self.categorize)
            return Entries(rows.ts, rows.line.cast(pa.large_string()), np.arange(len(rows), dtype=np.int64),
                           rows.labels)
        return _entries_by_stream(rows, self.stream_labels, self.categorize)


def _entries_by_stream(rows: Rows, stream_labels: dict[int, LabelSet], categorize: bool = False) -> Entries:
    """Entries of rows no row stage touched: one label set per distinct (stream, metadata)."""
    codes, keys = group_codes(rows)
    # Categorized or not, metadata named like a stream label is `<name>_extracted` (Loki's rule).
    labels: list[dict] = [without_stages(dict(stream_labels[s]), dict(meta_pairs(m))) for s, m in keys]
    return Entries(np.asarray(rows.ts, np.int64), rows.line.cast(pa.large_string()), codes.astype(np.int64),
                   labels)


def entries_from_streams(result: list[dict]) -> Entries:
    """A log query's `streams` result (the back-fill of a tail) as entries, oldest first. A
    categorized result (values `[ts, line, {"structuredMetadata", "parsed"}]`) gives `EntryLabels`,
    each entry its own: its stream's labels and its categorized ones, which encode back the same."""
    # Per entry, at most the query's limit of them: the result is Python lists already.
    ts: list[int] = []
    lines: list[str] = []
    idx: list[int] = []
    labels: list[dict] = []
    for stream in result:
        plain = len(labels)
        labels.append(stream["stream"])
        for value in stream["values"]:
            ts.append(int(value[0]))
            lines.append(value[1])
            if len(value) > 2:
                idx.append(len(labels))
                labels.append(_categorized(stream["stream"], value[2]))
            else:
                idx.append(plain)
    out = Entries(np.asarray(ts, np.int64), pa.array(lines, pa.large_string()), np.asarray(idx, np.int64), labels)
    return out.sorted()


def _categorized(stream: dict, extra: dict) -> EntryLabels:
    """The `EntryLabels` a categorized entry was encoded from (a name is in one category at most)."""
    metadata = extra.get("structuredMetadata", {})
    parsed = extra.get("parsed", {})
    return EntryLabels({**stream, **metadata, **parsed}, frozenset(metadata), frozenset(parsed))
