"""The query of a delete request (Loki's compactor deletion API), compiled for storage.

A delete query is a log selector with an optional pipeline. Loki parses it without its query
validation (`syntax.ParseLogSelector(query, false)`: `{app=~".*"}` is a valid delete) and answers
"invalid query expression" for anything that is not a log selector. A line is deleted when the
pipeline keeps it (Loki's `deleteRequest.FilterFunction`). Storage calls `keeps` through its
`DeleteFilter` protocol (storage/deletes.py); this module does not import storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logyard.errors import BadRequestError, LogyardError
from logyard.labels import LabelSet, Matcher
from logyard.logql import stages as st
from logyard.logql.pipeline import CompiledPipeline, compile_pipeline
from logyard.logql.rows import meta_pairs
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse_unvalidated
from logyard.logql.syntax.validate import stage_errors

INVALID_QUERY = "invalid query expression"


@dataclass(frozen=True)
class DeleteQuery:
    matchers: Sequence[Matcher]
    pipeline: tuple = ()
    _compiled: CompiledPipeline | None = field(default=None, compare=False, repr=False)

    @property
    def has_pipeline(self) -> bool:
        return bool(self.pipeline)

    def keeps(self, table: pa.Table, labels: dict[int, LabelSet]) -> np.ndarray:
        """Which rows (columns stream, ts, line, meta) the pipeline keeps: the line filters as one
        column pass; parsers, label filters and formatters on the rows left."""
        p = self._compiled
        n = table.num_rows
        if p is None or n == 0:
            return np.ones(n, dtype=bool)
        keep = st.filters_mask(table.column("line"), p.filters) if p.filters else np.ones(n, dtype=bool)
        stages = [*p.label_filters, *p.row_stages]
        if stages and keep.any():
            idx = np.flatnonzero(keep)
            sub = table.take(pa.array(idx))
            lines = sub.column("line").to_pylist()
            metas = sub.column("meta").to_pylist()
            streams = sub.column("stream").to_pylist()
            stamps = sub.column("ts").to_pylist()
            dicts: dict[int, dict] = {}
            # Per-row loop: parsers and label filters take one entry at a time (rows the line
            # filters left, of streams the request selects, in its time range).
            for j, (ts, sid, line, meta) in enumerate(zip(stamps, streams, lines, metas)):
                d = dicts.get(sid)
                if d is None:
                    d = dicts[sid] = dict(labels[sid])
                lbs = st.LabelsBuilder(d, dict(meta_pairs(meta)) if meta else None)
                ok = True
                for stage in stages:
                    line, ok = stage.process(ts, line, lbs)
                    if not ok:
                        break
                keep[idx[j]] = ok
        return keep


def compile_delete_query(query: str) -> DeleteQuery:
    """The query of a delete request, or Loki's 400 "invalid query expression"."""
    try:
        expr = parse_unvalidated(query)
    except LogyardError:
        raise BadRequestError(INVALID_QUERY) from None
    # Loki builds the pipeline too: a stage it cannot build (a bad regex) makes the query invalid.
    if not isinstance(expr, ast.LogQuery) or next(stage_errors(expr.pipeline), None) is not None:
        raise BadRequestError(INVALID_QUERY)
    try:
        compiled = compile_pipeline(expr.pipeline, {}) if expr.pipeline else None
    except LogyardError:
        raise BadRequestError(INVALID_QUERY) from None
    return DeleteQuery(tuple(expr.selector.matchers), tuple(expr.pipeline), compiled)
