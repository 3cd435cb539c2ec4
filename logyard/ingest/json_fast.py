"""Loki JSON push bodies through the C scanner (`_pushscan.c`): straight to columns, no orjson.

`decode_json_fast` answers exactly what json_push.decode_json answers, or None when the body is
not of the plain shape the scanner takes (then the caller runs decode_json, which also owns every
error text). The lines stay one Arrow array, sliced per stream; RawStream.lines reads it lazily.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.ingest import _pushscan
from logyard.ingest.json_push import stream_pairs
from logyard.ingest.model import LineColumn
from logyard.ingest.raw import RawStream


def decode_json_fast(body: bytes) -> list[RawStream] | None:
    """The body's streams, or None: decode it with json_push.decode_json instead."""
    scanned = scan(body)
    return None if scanned is None else raw_streams(scanned)


def scan(body: bytes) -> tuple | None:
    """The C scanner's (streams, ts bytes, line offsets, line bytes), or None (not its shape)."""
    return _pushscan.scan(body)


def raw_streams(scanned: tuple) -> list[RawStream]:
    """A scanned body as RawStreams (columns.body_columns skips this for the usual body)."""
    streams, ts_bytes, offsets, data = scanned
    n = len(ts_bytes) // 8
    column = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    ts = np.frombuffer(ts_bytes, dtype=np.int64).copy()  # writable, as json_push's is
    out = []
    start = 0
    for si, (labels, count, sm) in enumerate(streams):
        # Bad label names raise here, in stream order, with json_push's texts: the scanner only
        # accepted the body if nothing else in it could have failed first.
        pairs = stream_pairs(labels)
        lines = LineColumn(column.slice(start, count))
        out.append(RawStream(pairs, ts[start : start + count], lines, sm or {}, si))
        start += count
    return out
