"""`detected_level` for a column in one C pass (`_levelscan.c`), with level.py as the reference.

The C pass settles the common shapes of a line (JSON with the level key up front, logfmt reached
through plain tokens, keyword search) and marks the rest; `detect_levels` from level.py then runs
on just those lines, so its answer is the one for every line (tests/ingest/test_level_fast.py
checks the two agree line by line). Both spend ~2 us/line in RE2 passes; the C pass ~0.2.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.ingest import _levelscan
from logyard.ingest.level import detect_levels as reference_levels

DEFER = -2  # the C pass's mark: ask the reference


def detect_levels(lines: pa.Array) -> np.ndarray:
    """Level codes (indexes into level.LEVELS) of each line, as level.detect_levels gives them."""
    n = len(lines)
    if n == 0 or lines.null_count or not (pa.types.is_string(lines.type) or pa.types.is_large_string(lines.type)):
        return reference_levels(lines)
    _, offsets, data = lines.buffers()[:3]
    wide = pa.types.is_large_string(lines.type)
    width = 8 if wide else 4
    offsets = memoryview(offsets)[lines.offset * width : (lines.offset + n + 1) * width]
    codes = np.frombuffer(_levelscan.levels(data if data is not None else b"", offsets, n, wide), dtype=np.int8)
    deferred = np.flatnonzero(codes == DEFER)
    if len(deferred):
        codes = codes.copy()
        codes[deferred] = reference_levels(lines.take(pa.array(deferred)))
    return codes
