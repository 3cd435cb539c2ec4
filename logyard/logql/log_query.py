"""A log query's reads: its streams, its compiled pipeline, and windows read in its direction.

The windows are filtered in the reading threads (`readahead.window_reads`) and handed to
`log_result.collect_entries`, which stops at the limit: a limit the newest window fills reads no
other.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.line_hint import line_hint
from logyard.logql.log_result import collect_entries, encode_streams
from logyard.logql.pipeline import compile_pipeline, keeps_every_entry
from logyard.logql.query_stats import QueryStats
from logyard.logql.readahead import window_reads
from logyard.logql.rows import Rows
from logyard.logql.storage_filter import storage_match
from logyard.logql.syntax import ast


def log_query(store, tenant: str, expr: ast.LogQuery, start: int, end: int, limit: int,
              direction: str, deadline: Deadline = NO_DEADLINE, *, categorize: bool = False,
              stats: QueryStats | None = None, parallelism: int = 2) -> list[dict]:
    """The `result` of a log query: the first `limit` entries of [start, end) in `direction`,
    in Loki's `categorize-labels` encoding with `categorize`; `stats` counts the rows that passed."""
    parts, streams = log_entries(store, tenant, expr, start, end, limit, direction, deadline,
                                 categorize=categorize, stats=stats, parallelism=parallelism)
    return encode_streams(parts, streams, direction, categorize) if streams else []


def log_entries(store, tenant: str, expr: ast.LogQuery, start: int, end: int, limit: int, direction: str,
                deadline: Deadline = NO_DEADLINE, extra=None, *, categorize: bool = False,
                stats: QueryStats | None = None, parallelism: int = 2) -> tuple[list[Rows], dict]:
    """The first `limit` entries as `Rows` slices, and the streams they come from. `extra(ts, line,
    lbs)`, when given, replaces each entry's labels by what it returns from the row stages' builder
    (detected fields read the labels by category)."""
    streams = store.streams(tenant, list(expr.selector.matchers), start, end)
    if not streams:
        return [], streams
    pipeline = compile_pipeline(expr.pipeline, streams, check=deadline.check)
    # Literal leading filters run in storage: it restores (and hands over) only the lines they keep.
    match = storage_match(pipeline.filters)
    if match is not None:
        pipeline = replace(pipeline, filters=[])
    ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
    # Windows are filtered in the reading threads; a limit the newest window fills reads no other.
    # With no stage at all every row read is an entry: a window's first `limit` rows are all
    # the query can take from it, so storage need not decode the rest.
    windows = window_reads(store, tenant, ids, start, end, direction=direction,
                           columns=("stream", "ts", "line", "meta"), line_contains=line_hint(expr),
                           work=pipeline.columnar_table, ramp=True,
                           first=None if any(not keeps_every_entry(s) for s in expr.pipeline) else limit,
                           line_match=match, check=deadline.check, ahead=parallelism)
    rows_pipeline = pipeline if extra is None else _WithExtra(pipeline, extra)
    return collect_entries(windows, rows_pipeline, limit, direction, categorize, stats), streams


class _WithExtra:
    def __init__(self, pipeline, extra) -> None:
        self.pipeline, self.extra = pipeline, extra
        self.has_row_stages = pipeline.has_row_stages

    def per_row(self, rows: Rows, extra=None) -> Rows:
        return self.pipeline.per_row(rows, extra=self.extra)
