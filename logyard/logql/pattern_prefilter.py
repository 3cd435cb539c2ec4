"""The rows `| pattern "…" | name op number` drops, found over the whole line column at once.

The pipeline's row stages run one entry at a time (pipeline.py), so `{…} | pattern "<ip> …
<status> …" | status >= 500` parsed every line in Python to keep the few with a 5xx. When a
pipeline's row stages open with a pattern parser and, right after it, a numeric filter on one of its
captures, the capture is found in every line in C (_pattern.c, Loki's matcher exactly) and the rows
the filter certainly drops are left out before the row stages run; the rest go through them as
before, so every answer is the same. A row is dropped here only when the filter would read the
capture itself and it is a plain decimal number that fails the comparison, or the line does not
reach the capture (the label is then missing, which the filter drops). Rows whose stream or
structured metadata hold a label of that name (the capture is then renamed `<name>_extracted` and
the filter reads the other one) always go on, as do all rows under parser hints that skip the
capture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet
from logyard.logql import _pattern
from logyard.logql.rows import Rows, may_carry
from logyard.logql.stages.builder import ParserHints
from logyard.logql.stages.label_filter import NumericLabelFilter
from logyard.logql.stages.pattern import Capture, PatternParser, matcher_shape
from logyard.storage.line_time import string_buffers

_OPS = {"==": np.equal, "!=": np.not_equal, ">": np.greater, ">=": np.greater_equal, "<": np.less,
        "<=": np.less_equal}


@dataclass(frozen=True)
class PatternPrefilter:
    lead: bytes  # the literal the pattern starts with, b"" for none
    literals: tuple[bytes | None, ...]  # the literal after each capture; None after a final capture
    capture: int  # the filtered capture, counted among all captures (`<_>` too)
    name: str
    op: str
    value: float

    @classmethod
    def of(cls, row_stages: list) -> PatternPrefilter | None:
        """For row stages opening with a pattern parser and a numeric filter on one of its captures."""
        if len(row_stages) < 2 or type(row_stages[0]) is not PatternParser or type(row_stages[1]) is not NumericLabelFilter:
            return None
        parser, flt = row_stages[0], row_stages[1]
        if flt.name not in parser.names or flt.op not in _OPS:
            return None
        shape = matcher_shape(parser.nodes)
        if shape is None:
            return None
        k = [c.name for c in parser.nodes if isinstance(c, Capture)].index(flt.name)
        return cls(*shape, k, flt.name, flt.op, float(flt.value))

    def keep(self, rows: Rows, stream_labels: dict[int, LabelSet], hints: ParserHints) -> np.ndarray | None:
        """A mask of the rows that may pass the two stages; None when it cannot tell any apart."""
        if hints.no_labels or (hints.required and self.name not in hints.required) or not len(rows):
            return None
        offsets, data = string_buffers(rows.line.combine_chunks() if isinstance(rows.line, pa.ChunkedArray) else rows.line)
        codes, values = _pattern.number_capture(offsets, data, self.lead, self.literals, self.capture)
        codes = np.frombuffer(codes, dtype=np.uint8)
        values = np.frombuffer(values, dtype=np.float64)
        drop = (codes == 0) | ((codes == 1) & ~_OPS[self.op](values, self.value))
        return ~drop | may_carry(rows, stream_labels, self.name)

