"""From read lines to journal-ready stream chunks: group by final labels, stamp, encode.

Lines without a time of their own (file lines, unless a `timestamp` stage parsed one) are stamped
with the clock, strictly increasing per stream, so two equal lines never share a timestamp and the
server's "store an exact duplicate once" can only ever fold a resend, never a real repeat.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

import numpy as np

from logyard.agent.journal import StreamChunk
from logyard.agent.push import encode_entries, encode_label_pairs
from logyard.agent.stages.stage import Entry
from logyard.labels import LabelSet


class Stamper:
    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self._last: dict[LabelSet, int] = {}
        self._lock = threading.Lock()

    def stamp(self, labels: LabelSet, n: int) -> np.ndarray:
        with self._lock:
            base = max(self.clock(), self._last.get(labels, 0) + 1)
            self._last[labels] = base + n - 1
        return base + np.arange(n, dtype=np.int64)

    def seen(self, labels: LabelSet, last_ts: int) -> None:
        """Keep later stamps of this stream after a time taken from the line itself."""
        with self._lock:
            if last_ts > self._last.get(labels, 0):
                self._last[labels] = last_ts


def chunk_from_lines(labels: LabelSet, lines: Sequence[bytes], stamper: Stamper) -> StreamChunk:
    """The fast path: one stream, no stages, times from the clock."""
    ts = stamper.stamp(labels, len(lines))
    return StreamChunk(labels, encode_entries(ts, lines), len(lines), sum(map(len, lines)))


def chunks_from_entries(entries: Sequence[Entry], stamper: Stamper) -> tuple[list[StreamChunk], int]:
    """(chunks, entries dropped for having no label at all, which Loki would reject)."""
    groups: dict[LabelSet, list[Entry]] = {}
    dropped = 0
    for e in entries:
        labels = LabelSet((k, v) for k, v in e.labels.items() if v != "" and not k.startswith("__"))
        if not labels:
            dropped += 1
            continue
        groups.setdefault(labels, []).append(e)
    chunks = []
    for labels, group in groups.items():
        missing = [i for i, e in enumerate(group) if e.ts is None]
        if len(missing) == len(group):
            ts = stamper.stamp(labels, len(group))
        else:
            ts = np.array([e.ts if e.ts is not None else 0 for e in group], dtype=np.int64)
            if missing:
                ts[missing] = stamper.stamp(labels, len(missing))
            ts = _separate_repeats(ts, group)
            stamper.seen(labels, int(ts.max()))
        lines = [e.line.encode("utf-8", "replace") for e in group]
        md = None
        if any(e.metadata for e in group):
            md = [encode_label_pairs(sorted(e.metadata.items())) if e.metadata else b"" for e in group]
        chunks.append(StreamChunk(labels, encode_entries(ts, lines, md), len(group), sum(map(len, lines))))
    return chunks, dropped


def _separate_repeats(ts: np.ndarray, group: Sequence[Entry]) -> np.ndarray:
    """Equal (time, line) pairs in one stream are real repeats: move each later one by 1ns."""
    if len(np.unique(ts)) == len(ts):
        return ts
    seen: set[tuple[int, str]] = set()
    out = ts.copy()
    for i, e in enumerate(group):
        t = int(out[i])
        while (t, e.line) in seen:
            t += 1
        seen.add((t, e.line))
        out[i] = t
    return out
