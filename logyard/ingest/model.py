"""The plain batch that ingest hands to storage: one `PushStream` per stream of a push request."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet


class LineColumn(Sequence[str]):
    """An Arrow string array read as a list of str, converted only where an item is asked for.

    The C push decoder (json_fast.py) puts a body's lines straight into an Arrow array; making a
    str of each only for storage to convert them back would cost more than the decoding. Code
    that needs the str (an error message, a dropped entry) gets it here one at a time.
    """

    __slots__ = ("array", "_n")

    def __init__(self, array: pa.Array) -> None:
        self.array = array
        self._n = len(array)  # asked for often (validation, storage): a plain attribute is cheapest

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return self.array[i].to_pylist()
        return self.array[i].as_py()

    def __iter__(self) -> Iterator[str]:
        return iter(self.array.to_pylist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineColumn):
            return self.array.equals(other.array)
        if isinstance(other, (list, tuple)):
            return self.array.to_pylist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"LineColumn({self.array.to_pylist()!r})"


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
    lines: Sequence[str]  # a list, or a LineColumn over `arrow_lines`
    metadata: list[str]
    arrow_lines: pa.Array | None = field(default=None, repr=False, compare=False)
    arrow_meta: pa.Array | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.lines)

    def line_bytes(self) -> int:
        return sum(len(s.encode()) for s in self.lines)
