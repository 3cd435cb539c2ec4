"""Substring search over a whole string column at memchr/memmem speed.

Arrow's `match_substring` tests each string on its own (~170 MB/s here). Two faster ways:
* Small columns: search the column's contiguous data buffer with `bytes.find` (C memmem speed,
  ~1.5 GB/s), touching Python once per occurrence, not once per line; occurrences map to rows
  through the offsets buffer.
* Large columns (a metric query's window): Arrow's RE2 kernel on the escaped literal. It is as fast
  as memmem on rare needles and twice as fast on common ones (no Python step per occurrence, no copy
  of the buffer into `bytes`), and it releases the GIL, so the next window's Parquet decoding and
  this filter run on two cores at once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.gocompat.text import re2_escape

# Line bytes from which the RE2 kernel beats the buffer scan (measured on the benchmark day).
RE2_MIN_BYTES = 1 << 20


def contains_mask(lines: pa.Array, needle: str) -> np.ndarray:
    """Bool mask of the rows whose string contains `needle` (case-sensitive, byte-wise as Loki)."""
    n = len(lines)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if pa.types.is_string_view(lines.type):
        lines = lines.cast(pa.large_string())
    wide = pa.types.is_large_string(lines.type) or pa.types.is_large_binary(lines.type)
    _, off_buf, data_buf = lines.buffers()[:3]
    offsets = np.frombuffer(off_buf, dtype=np.int64 if wide else np.int32)[lines.offset:lines.offset + n + 1]
    offsets = offsets.astype(np.int64)
    mask = np.zeros(n, dtype=bool)
    if data_buf is None:
        return mask
    lo, hi = int(offsets[0]), int(offsets[-1])
    if hi - lo >= RE2_MIN_BYTES:
        return np.asarray(pc.fill_null(pc.match_substring_regex(lines, re2_escape(needle)), False), dtype=bool)
    data = memoryview(data_buf)[lo:hi].tobytes()
    pat = needle.encode()
    plen = len(pat)
    find = data.find
    limit = max(64, n // 4)
    positions = []
    pos = find(pat)
    # One Python step per occurrence; a needle common enough to occur in most rows goes to Arrow.
    while pos >= 0:
        positions.append(pos)
        # 64 hits in: if they are as dense as that everywhere, more than `limit` would follow, so
        # go to Arrow now rather than after `limit` Python steps (a filter chain pays this per filter).
        if len(positions) > limit or (len(positions) == 64 and 64 * len(data) > limit * (pos + 1)):
            return np.asarray(pc.fill_null(pc.match_substring(lines, needle), False), dtype=bool)
        pos = find(pat, pos + 1)  # +1, not +len: a straddling hit must not hide the next one
    if positions:
        rel = offsets - lo
        at = np.asarray(positions, dtype=np.int64)
        rows = np.searchsorted(rel, at, side="right") - 1
        inside = at + plen <= rel[rows + 1]  # an occurrence straddling two rows matches neither
        mask[rows[inside]] = True
    if lines.null_count:
        mask &= np.asarray(lines.is_valid())
    return mask
