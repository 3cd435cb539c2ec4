"""`sum by (level) (count_over_time({…} | logfmt [5m]))` without the per-row walk.

With parser hints a metric query's logfmt stage extracts only the grouped names, and what it gives
them is each name's first non-empty value in the line (stages/logfmt.py). `_logfmt.c` finds those
values in every line at once; a row's series then depends only on its stream, the metadata of
those names, and the values found, so the labels are made once per distinct combination, with
the stage's own `_pair` on a LabelsBuilder as the per-row walk makes them, and string label
filters after the parser (`| level=~"error|warn"`) are run on it there too. Rows the C scan
declines (invalid UTF-8, U+FFFD, \\u escapes) and rows whose metadata carries a
pipeline error take the per-row walk.

Measured on the bench day in one process, the same answers compared whole: `sum by (level)
(count_over_time({compose_project="aixcl"} | logfmt [5m]))` over the day 76.8 s -> 1.4 s; over
three hours with `| level=~"error|warn"` after the parser 7.1 -> 0.23 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.logql import _logfmt
from logyard.logql.pipeline import _reads_labels_only
from logyard.logql.rows import Rows, dense_codes, group_codes_by_meta_names
from logyard.logql.stages import LabelsBuilder
from logyard.logql.stages.builder import DUPLICATE_SUFFIX, ERROR_DETAILS_LABEL, ERROR_LABEL
from logyard.logql.stages.logfmt import LogfmtParser
from logyard.storage.line_time import _buffers

_MAX_NAMES = 32  # _logfmt.c's


@dataclass(frozen=True)
class LogfmtGroups:
    """The one `| logfmt` stage of a metric pipeline and the names its hints extract."""

    parser: LogfmtParser
    filters: tuple  # string label filters after it
    names: tuple[str, ...]

    @classmethod
    def of(cls, row_stages: list, required: frozenset[str]) -> LogfmtGroups | None:
        """For row stages that are a plain `| logfmt`, then string label filters at most, whose
        hints name every label they may extract or read (a `by (...)` grouping); None otherwise
        (the per-row walk runs)."""
        if not row_stages or type(row_stages[0]) is not LogfmtParser:
            return None
        parser, filters = row_stages[0], tuple(row_stages[1:])
        if not all(_reads_labels_only(f) for f in filters):
            return None
        if parser.strict or parser.keep_empty or not required or len(required) > _MAX_NAMES:
            return None
        if any(n.endswith(DUPLICATE_SUFFIX) or n.startswith("__") for n in required):
            return None
        return cls(parser, filters, tuple(sorted(required)))

    def group(self, rows: Rows, stream_labels, hints) -> tuple[np.ndarray, list[LabelsBuilder | None], np.ndarray]:
        """(code per row, the builder of each code as the per-row walk leaves it or None where the
        filters drop its rows, declined rows): rows with `declined` set have code -1 and are for
        the per-row walk."""
        n = len(rows)
        lines = rows.line.combine_chunks() if isinstance(rows.line, pa.ChunkedArray) else rows.line
        off, data = _buffers(lines)
        declined_b, outs = _logfmt.first_values(off, data, tuple(s.encode() for s in self.names))
        declined = np.frombuffer(declined_b, dtype=bool).copy()
        mcodes, mkeys = group_codes_by_meta_names(rows, [*self.names, ERROR_LABEL, ERROR_DETAILS_LABEL])
        bad_meta = np.array([any(k in (ERROR_LABEL, ERROR_DETAILS_LABEL) for k, _ in pairs) for _, pairs in mkeys],
                            dtype=bool)
        if bad_meta.any():  # an error in metadata keeps every label of the row (`_grouped_labels`)
            declined |= bad_meta[mcodes]
        codes = np.asarray(mcodes, dtype=np.int64)
        for o, d, present in outs:  # one step per name: mixed into one dense code per row
            enc = pc.dictionary_encode(pa.LargeStringArray.from_buffers(n, pa.py_buffer(o), pa.py_buffer(d)))
            vcodes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) + 1
            vcodes[~np.frombuffer(present, dtype=bool)] = 0  # 0: the name not found
            _, vcodes = dense_codes(vcodes)
            _, codes = dense_codes(codes * (int(vcodes.max()) + 1) + vcodes)
        first = np.full(int(codes.max()) + 1 if n else 0, -1, dtype=np.int64)
        order = np.arange(n)[::-1]
        first[codes[order]] = order  # the first row of each combination
        bounds = [np.frombuffer(o, dtype=np.int64) for o, _, _ in outs]
        builders = []
        for row in first.tolist():  # one step per distinct (stream, metadata, values)
            sid, pairs = mkeys[int(mcodes[row])]
            lbs = LabelsBuilder(dict(stream_labels[sid]), dict(pairs) if pairs else None, hints)
            if not lbs.no_labels():
                for name, (_, d, present), at in zip(self.names, outs, bounds):
                    if present[row]:
                        self.parser._pair(name, d[at[row]:at[row + 1]].decode(), lbs)
            builders.append(lbs if all(f.process(0, "", lbs)[1] for f in self.filters) else None)
        codes = codes.copy()
        codes[declined] = -1
        return codes, builders, declined
