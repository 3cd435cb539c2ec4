"""The timestamp a log line carries in its own text, stored once (in `ts`) instead of twice.

Compacted blocks keep `line` with the row's rendering of its own timestamp cut out and a `tsat`
code saying where and in which format (`_tsembed.c` lists the formats and why). The cut is about a
fifth of the compressed line column; putting it back costs one copy of the line bytes at read.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.storage import _tsembed


def string_buffers(lines: pa.Array) -> tuple[np.ndarray, memoryview | bytes]:
    """Zero-based int64 offsets and the data they index, for a (large_)string array without nulls:
    what the C scans of line columns take (here and in logql's prefilters and parsers)."""
    if lines.null_count:
        raise ValueError("line columns have no nulls")
    if not pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.large_string())
    _, off_buf, data_buf = lines.buffers()
    off = np.frombuffer(off_buf, dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    base = int(off[0])
    end = int(off[-1])
    data = memoryview(data_buf)[base:end] if data_buf is not None else b""
    return (off - base if base else off), data


def _array(off: bytes, data: bytes, n: int) -> pa.Array:
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(off), pa.py_buffer(data))


def strip(lines: pa.Array, ts: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """(lines without their own timestamps, int32 codes): what a compacted block stores."""
    off, data = string_buffers(lines)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    new_off, new_data, codes = _tsembed.strip(off, data, ts)
    return _array(new_off, new_data, len(lines)), np.frombuffer(codes, dtype=np.int32)


def restore(lines: pa.Array, ts: np.ndarray, codes: np.ndarray) -> pa.Array:
    """The original lines of a compacted block's `line`, `ts` and `tsat`. ValueError if a code
    does not fit its line (corruption)."""
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    if not codes.any():
        return lines
    off, data = string_buffers(lines)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    new_off, new_data = _tsembed.restore(off, data, ts, codes)
    return _array(new_off, new_data, len(lines))


def contains(lines: pa.Array, needle: bytes, ts: np.ndarray | None = None,
             codes: np.ndarray | None = None) -> np.ndarray:
    """Which lines hold `needle` once restored (a bool mask), searched as stored: no line is
    restored, a cut rendering is only put back around its cut where the needle could overlap it.
    Without `ts` and `codes`, the lines are whole. ValueError if a code does not fit its line."""
    if not len(lines):
        return np.zeros(0, dtype=bool)
    off, data = string_buffers(lines)
    if ts is not None:
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        codes = np.ascontiguousarray(codes, dtype=np.int32)
    return np.frombuffer(_tsembed.contains(off, data, needle, ts, codes), dtype=bool)
