"""Log queries end to end: read windows in order, run the pipeline, keep `limit` entries, group streams.

Windows come from storage newest-first (backward) or oldest-first (forward) and never overlap, so the
first `limit` entries found, in time order, are the answer and reading stops there. Columnar stages
(line filters) run on a whole window; per-row stages run on slices of it in time order, each sized by
the pass rate seen so far, so a `line_format` or a label filter over a busy hour runs on only about
as many rows as the limit needs.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Iterable, Protocol

import numpy as np

from logyard.labels import LabelSet
from logyard.logql.rows import Rows, group_codes, meta_pairs


class Pipeline(Protocol):
    def per_row(self, rows: Rows) -> Rows: ...
    @property
    def has_row_stages(self) -> bool: ...


def collect_entries(windows: Iterable[Rows], pipeline: Pipeline, limit: int, direction: str) -> list[Rows]:
    """The first `limit` entries of the windows (`Rows` the columnar stages already filtered)."""
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
            # Only the rows that make the limit are gathered (lines are the expensive column).
            got = rows.take(order[:remaining])
            out.append(got)
            remaining -= len(got)
        else:
            pos, chunk, kept = 0, max(256, remaining * 2), 0
            while pos < len(order) and remaining > 0:
                part = pipeline.per_row(rows.take(order[pos:pos + chunk]))
                pos += chunk
                kept += len(part)
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


def encode_streams(parts: list[Rows], stream_labels: dict[int, LabelSet], direction: str) -> list[dict]:
    """Loki's `streams` result: one stream per distinct label set, values in the query's direction."""
    groups: dict[tuple, list] = {}
    for rows in parts:
        lines = rows.line.to_pylist()
        ts = rows.ts.tolist()
        if rows.labels is not None:
            keys = [tuple(sorted(d.items())) for d in rows.labels]
        else:
            codes, uniq = group_codes(rows)
            uniq_keys = [_labels_key(stream_labels[s], m) for s, m in uniq]
            keys = [uniq_keys[c] for c in codes.tolist()]
        # Per entry (at most the limit): the values of a stream are lists of Python pairs in the end.
        for k, t, line in zip(keys, ts, lines):
            entries = groups.get(k)
            if entries is None:
                entries = groups[k] = []
            entries.append((t, line))
    backward = direction == "backward"
    result = []
    for key, entries in groups.items():
        if len(entries) > 1:
            entries.sort(key=itemgetter(0), reverse=backward)
        result.append({"stream": dict(key), "values": [[str(t), line] for t, line in entries]})
    return result


def _labels_key(labels: LabelSet, meta: str) -> tuple:
    """Sorted (name, value) pairs of a stream's labels with a row's structured metadata over them."""
    pairs = meta_pairs(meta)
    if not pairs:
        return tuple(labels)  # a LabelSet is already sorted by name
    merged = dict(labels)
    merged.update(pairs)
    return tuple(sorted(merged.items()))
