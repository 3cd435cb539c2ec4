"""Log queries end to end: read windows in order, run the pipeline, keep `limit` entries, group streams.

Windows come from storage newest-first (backward) or oldest-first (forward) and never overlap, so the
first `limit` entries found, in time order, are the answer and reading stops there. Columnar stages
(line filters) run on a whole window; per-row stages run on slices of it in time order, each sized by
the pass rate seen so far, so a `line_format` or a label filter over a busy hour runs on only about
as many rows as the limit needs.

`encode_streams` is Loki's `streams` result, with or without the `categorize-labels` encoding
(`entry_labels`); a tail's answer is encoded by it too, its rows run through `run_row_stages`.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Iterable, Protocol

import numpy as np

from logyard.labels import LabelSet
from logyard.logql.entry_labels import EntryLabels, keep_categories, plain_metadata, without_stages
from logyard.logql.query_stats import QueryStats
from logyard.logql.rows import Rows, group_codes, meta_pairs


class Pipeline(Protocol):
    def per_row(self, rows: Rows, extra=None) -> Rows: ...
    @property
    def has_row_stages(self) -> bool: ...


def run_row_stages(pipeline: Pipeline, rows: Rows, categorize: bool = False) -> Rows:
    """The rows that pass the row stages; with `categorize`, their labels are `EntryLabels`, which
    `encode_streams(..., categorize=True)` needs to tell stream labels from the others."""
    return pipeline.per_row(rows, keep_categories) if categorize else pipeline.per_row(rows)


def collect_entries(windows: Iterable[Rows], pipeline: Pipeline, limit: int, direction: str,
                    categorize: bool = False, stats: QueryStats | None = None) -> list[Rows]:
    """The first `limit` entries of the windows (`Rows` the columnar stages already filtered).

    `stats` counts the rows that passed the pipeline: a window's rows when there is no row stage
    (all passed the line filters), else the rows of each slice the row stages kept."""
    out: list[Rows] = []
    remaining = limit
    if remaining <= 0:
        return out
    for rows in windows:
        if not len(rows):
            continue
        order = np.argsort(rows.ts, kind="stable")
        if direction == "backward":
            order = order[::-1]
        if not pipeline.has_row_stages:
            if stats is not None:
                stats.add_passed(len(rows))
            # Only the rows that make the limit are gathered (lines are the expensive column).
            got = rows.take(order[:remaining])
            out.append(got)
            remaining -= len(got)
        else:
            pos, chunk, kept = 0, max(256, remaining * 2), 0
            while pos < len(order) and remaining > 0:
                part = run_row_stages(pipeline, rows.take(order[pos:pos + chunk]), categorize)
                pos += chunk
                kept += len(part)
                if stats is not None:
                    stats.add_passed(len(part))
                if len(part):
                    got = part.take(np.arange(min(remaining, len(part))))
                    out.append(got)
                    remaining -= len(got)
                chunk = next_chunk(chunk, pos, kept, remaining)
        if remaining <= 0:
            break
    return out


def next_chunk(chunk: int, seen: int, kept: int, remaining: int) -> int:
    """How many rows the next slice runs the row stages on: enough to find the `remaining` entries
    at the pass rate seen so far (with a margin), growing at most 4x a step; 4x when nothing passed.
    Rows past the limit are wasted work, and row stages cost ~20 us a row."""
    if kept == 0:
        return chunk * 4
    return min(chunk * 4, max(256, int(remaining * seen / kept * 1.25) + 64))


def encode_streams(parts: list[Rows], stream_labels: dict[int, LabelSet], direction: str,
                   categorize: bool = False) -> list[dict]:
    """Loki's `streams` result: one stream per distinct label set, values in the query's direction.

    With `categorize` (Loki's `categorize-labels` encoding), a stream is a distinct set of stream
    labels and each value gets a third element, its structured metadata and parsed labels
    (`EntryLabels.extra`); rows that went through row stages must then carry `EntryLabels`
    (`run_row_stages(..., categorize=True)`).
    """
    groups: dict[tuple, list] = {}
    for rows in parts:
        lines = rows.line.to_pylist()
        ts = rows.ts.tolist()
        if rows.labels is not None:
            row_groups = [_group(lb, categorize) for lb in rows.labels]
        else:
            # Without row stages: one group per distinct (stream, metadata), not per row.
            codes, uniq = group_codes(rows)
            uniq_groups = [_base_group(stream_labels[s], m, categorize) for s, m in uniq]
            row_groups = [uniq_groups[c] for c in codes.tolist()]
        # Per entry (at most the limit): the values of a stream are lists of Python pairs in the end.
        for (key, extra), t, line in zip(row_groups, ts, lines):
            entries = groups.get(key)
            if entries is None:
                entries = groups[key] = []
            entries.append((t, line, extra))
    backward = direction == "backward"
    result = []
    for key, entries in groups.items():
        if len(entries) > 1:
            entries.sort(key=itemgetter(0), reverse=backward)
        values = ([[str(t), line, extra] for t, line, extra in entries] if categorize
                  else [[str(t), line] for t, line, _ in entries])
        result.append({"stream": dict(key), "values": values})
    return result


def _group(labels: dict, categorize: bool) -> tuple[tuple, dict | None]:
    """An entry's stream (sorted label pairs) and, categorized, the third element of its value."""
    if not categorize:
        return tuple(sorted(labels.items())), None
    if not isinstance(labels, EntryLabels):
        raise AssertionError("BUG: categorized rows need EntryLabels (run_row_stages(..., categorize=True))")
    return labels.stream_key(), labels.extra()


def _base_group(labels: LabelSet, meta: str, categorize: bool) -> tuple[tuple, dict | None]:
    """`_group` of an entry no row stage touched: its stream's labels and its structured metadata."""
    pairs = meta_pairs(meta)
    if not pairs:
        return tuple(labels), {} if categorize else None   # a LabelSet is sorted by name
    stream = dict(labels)
    if not plain_metadata(stream, pairs):
        return _group(without_stages(stream, dict(pairs)), categorize)
    # The common case, kept cheap: trace ids make a distinct metadata value per entry.
    if categorize:
        return tuple(labels), {"structuredMetadata": dict(pairs)}   # pairs are sorted by name
    stream.update(pairs)
    return tuple(sorted(stream.items())), None
