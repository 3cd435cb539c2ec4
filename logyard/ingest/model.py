"""The plain batch that ingest hands to storage: one `PushStream` per stream of a push request."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet


@dataclass
class PushStream:
    """Entries of one stream, in the order they were pushed (not necessarily sorted).

    `metadata[i]` is the entry's structured metadata as a canonical JSON object with sorted keys
    (`{"detected_level":"info","trace_id":"ab"}`), or "" when the entry has none. Keeping it one
    string per entry lets storage dictionary-encode it and the query engine parse each distinct
    value once.

    `arrow_lines` and `arrow_meta`, when set, are the same two columns as Arrow string arrays
    (decode builds them anyway; storage then skips converting the lists again). Whoever changes
    `lines` or `metadata` must change or drop them too.
    """

    labels: LabelSet
    timestamps: np.ndarray  # int64 nanoseconds since the epoch, one per entry
    lines: list[str]
    metadata: list[str]
    arrow_lines: pa.Array | None = field(default=None, repr=False, compare=False)
    arrow_meta: pa.Array | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.lines)

    def line_bytes(self) -> int:
        return sum(len(s.encode()) for s in self.lines)
