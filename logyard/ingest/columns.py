"""The usual push body as whole-body columns, without an object per stream.

The reference path (json_fast -> RawStream per stream -> Validator -> PushStream per stream ->
build_record) spends about a microsecond per line in per-stream Python on a body of ~100 short
streams, and on the usual body changes nothing: every stream is valid, no line is over the limit,
no timestamp is out of range, no metadata needs renaming. `body_columns` takes such a body
straight from the C scanner's columns to the WAL record's columns (the line column as scanned,
the metadata column built once for the body) and declines (None) anything else, which then goes
to the reference; tests/ingest/test_columns.py checks both give the same WAL payload.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.ingest import _metajson
from logyard.ingest.json_push import stream_pairs
from logyard.ingest.level import LEVELS
from logyard.ingest.level_fast import detect_levels
from logyard.ingest.validate import _LEVEL_KEYS, _LEVEL_ONLY, Validator
from logyard.labels import LabelSet


class BodyColumns(NamedTuple):
    """What decode_push plus build_record would give for a body kept whole: its non-empty streams
    in body order, their rows one after the other."""

    labels: list[LabelSet]
    counts: np.ndarray  # uint32 rows per stream
    ts: np.ndarray  # int64 ns
    lines: pa.StringArray
    meta: pa.StringArray  # canonical metadata JSON per row (PushStream.metadata)
    line_bytes: int  # UTF-8 bytes of all lines (DecodeResult.bytes)


def body_columns(scanned: tuple, validator: Validator, service_list: list[str], levels: bool,
                 ts_range: tuple[int | None, int]) -> BodyColumns | None:
    """The columns of a body `_pushscan.scan` took, or None when validation would change or drop
    anything (or a timestamp is outside [ts_range[0], ts_range[1]], None meaning no lower bound)."""
    streams, ts_bytes, offsets, data = scanned
    labels: list[LabelSet] = []
    counts: list[int] = []
    with_sm: list[tuple[int, int, dict]] = []
    start = 0
    for labels_map, count, sm in streams:  # one step per stream
        # Bad label names raise here, in stream order, as in json_fast.
        pairs = stream_pairs(labels_map)
        if count:
            info = validator.stream(pairs, service_list)
            if info.problem is not None or info.level is not None:
                return None  # a dropped stream, or a stream-wide level: the reference's rules
            labels.append(info.labels)
            counts.append(count)
            if sm:
                with_sm.append((start, count, sm))
        start += count
    if not labels:
        return None
    n = len(ts_bytes) // 8
    ts = np.frombuffer(ts_bytes, dtype=np.int64)
    oldest, newest = ts_range
    if (ts > newest).any() or (oldest is not None and (ts < oldest).any()):
        return None
    lines = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    nbytes = pc.binary_length(lines).to_numpy()
    if validator.max_line and (nbytes > validator.max_line).any():
        return None
    codes = detect_levels(lines) if levels else None
    meta = _LEVEL_ONLY[codes] if codes is not None else np.full(n, "", dtype=object)
    for lo, count, sm in with_sm:  # one step per stream with structured metadata
        out = meta[lo : lo + count].tolist()
        _, declined = _metajson.canonical(sm, codes[lo : lo + count] if codes is not None else None, LEVELS,
                                          _LEVEL_KEYS, out, validator.max_sm_size, validator.max_sm_count)
        if declined:
            return None  # renames, level fields or limits: the reference's per-entry code
        meta[lo : lo + count] = out
    return BodyColumns(labels, np.array(counts, dtype=np.uint32), ts, lines, pa.array(meta, type=pa.string()),
                       int(nbytes.sum()))
